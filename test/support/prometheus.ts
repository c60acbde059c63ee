// A real Prometheus for end-to-end tests: Debian's `prometheus` binary,
// started on a free loopback port with a temporary config and TSDB,
// scraping the given targets every second. Everything stays on 127.0.0.1;
// every wait is bounded; stop() kills it and removes the temp directory.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function haveBinary(name: string): boolean {
  return spawnSync(name, ['--version'], { stdio: 'ignore' }).status === 0;
}

/** A TCP port free on 127.0.0.1 right now (bound to port 0, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Polls `check` every `everyMs` until it returns a value (not undefined), at most `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (let attempt = 0; attempt < Math.ceil(timeoutMs / everyMs) + 1; attempt++) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${lastError}` : ''}`);
}

export interface ScrapeTarget {
  job: string;
  /** host:port on 127.0.0.1 */
  target: string;
  scheme?: 'http' | 'https';
  metricsPath?: string;
  basicAuth?: { username: string; password: string };
  /** PEM file of the CA (or self-signed cert) to trust for https. */
  caFile?: string;
  serverName?: string;
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface Prometheus {
  url: string;
  /** Instant query; the vector result. */
  query(promql: string): Promise<PromSample[]>;
  /** Polls an instant query until `accept` takes its result. */
  waitForQuery(promql: string, accept: (r: PromSample[]) => boolean, timeoutMs?: number): Promise<PromSample[]>;
  stop(): Promise<void>;
  /** Prometheus' own log, for failure messages. */
  log(): string;
}

function scrapeConfig(targets: ScrapeTarget[]): string {
  const jobs = targets.map((t) => {
    const lines = [
      `  - job_name: ${JSON.stringify(t.job)}`,
      `    scheme: ${t.scheme ?? 'http'}`,
      `    metrics_path: ${JSON.stringify(t.metricsPath ?? '/metrics')}`,
      `    static_configs:`,
      `      - targets: [${JSON.stringify(t.target)}]`,
    ];
    if (t.basicAuth) {
      lines.push('    basic_auth:', `      username: ${JSON.stringify(t.basicAuth.username)}`, `      password: ${JSON.stringify(t.basicAuth.password)}`);
    }
    if (t.caFile || t.serverName) {
      lines.push('    tls_config:');
      if (t.caFile) lines.push(`      ca_file: ${JSON.stringify(t.caFile)}`);
      if (t.serverName) lines.push(`      server_name: ${JSON.stringify(t.serverName)}`);
    }
    return lines.join('\n');
  });
  return `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nscrape_configs:\n${jobs.join('\n')}\n`;
}

export async function startPrometheus(targets: ScrapeTarget[]): Promise<Prometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'kvmlens-prom-'));
  const config = join(dir, 'prometheus.yml');
  writeFileSync(config, scrapeConfig(targets));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let output = '';
  const child: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout!.on('data', (b) => (output += b));
  child.stderr!.on('data', (b) => (output += b));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const query = async (promql: string): Promise<PromSample[]> => {
    const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`, { signal: AbortSignal.timeout(5_000) });
    const body = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: PromSample[] } };
    if (body.status !== 'success') throw new Error(`query ${promql}: ${body.error}`);
    return body.data!.result;
  };

  try {
    await waitFor('Prometheus to become ready', async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}: ${output}`);
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
      return res.ok ? true : undefined;
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    query,
    waitForQuery: (promql, accept, timeoutMs = 30_000) =>
      waitFor(`${promql} in Prometheus`, async () => {
        const r = await query(promql);
        return accept(r) ? r : undefined;
      }, timeoutMs),
    stop,
    log: () => output,
  };
}
