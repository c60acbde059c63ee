// End to end: `kvmlens exporter --replay` scraped by a real Prometheus.
// PromQL over what Prometheus stored must give the counts and sums the
// analyzer computes for the same file; with TLS and basic auth Prometheus
// gets in with the right password and not with a wrong one; SIGTERM ends
// the exporter with status 0.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { analyzeFile, type AnalysisName } from '../src/core/native.ts';
import { freePort, haveBinary, startPrometheus, waitFor, type PromSample } from './support/prometheus.ts';

const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const FIXTURE = join(root, 'test', 'fixtures', 'kvm-intel-sample.data');

/** bin/kvmlens.js once dist/ has the exporter wired in; until then the TypeScript command through tsx. */
function exporterArgv(args: string[]): string[] {
  const bin = join(root, 'bin', 'kvmlens.js');
  const help = spawnSync(process.execPath, [bin, 'exporter', '--help'], { encoding: 'utf8' });
  if (existsSync(join(root, 'dist', 'cli', 'exporter.js')) && help.status === 0 && /--web\.listen-address/.test(help.stdout)) {
    return [bin, 'exporter', ...args];
  }
  const src = join(root, 'src', 'cli', 'exporter.ts');
  const script = `const { exporterCommand } = await import(${JSON.stringify(src)});
await exporterCommand(() => ({})).parseAsync(process.argv.slice(1), { from: 'user' });`;
  return ['--import', 'tsx', '-e', script, '--', ...args];
}

interface RunningExporter {
  child: ChildProcess;
  output(): string;
  exit: Promise<number | null>;
}

function startExporterProcess(args: string[]): RunningExporter {
  let out = '';
  const child = spawn(process.execPath, exporterArgv(args), { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (b) => (out += b));
  child.stderr!.on('data', (b) => (out += b));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, exit };
}

async function killQuietly(e: RunningExporter | undefined) {
  if (!e || e.child.exitCode !== null || e.child.signalCode !== null) return;
  e.child.kill('SIGKILL');
  await e.exit;
}

async function expectedTotals() {
  const session = await analyzeFile(FIXTURE);
  const totals = (analysis: AnalysisName) => {
    const q = session.query({ analysis, groupBy: 'key' });
    return { count: q.count.reduce((a, b) => a + b, 0), sumSeconds: q.sumNs.reduce((a, b) => a + b, 0) / 1e9 };
  };
  const pids = new Set(session.query({ analysis: 'all', groupBy: 'vm' }).pid);
  return { vmexit: totals('vmexit'), mmio: totals('mmio'), ioport: totals('ioport'), msr: totals('msr'), pids: pids.size, read: session.readStats() };
}

const scalar = (r: PromSample[]) => (r.length === 1 ? Number(r[0].value[1]) : NaN);

const havePrometheus = haveBinary('prometheus');
if (!havePrometheus) console.log('skipping: no `prometheus` binary (apt-get install prometheus)');

test('Prometheus scrapes the replay; PromQL totals equal the analyzer; SIGTERM exits 0', async () => {
  if (!havePrometheus) return;
  const want = await expectedTotals();
  assert.ok(want.vmexit.count > 0);
  const port = await freePort();
  let exporter: RunningExporter | undefined;
  let prom: Awaited<ReturnType<typeof startPrometheus>> | undefined;
  try {
    exporter = startExporterProcess(['--replay', FIXTURE, '--speed', '0', '--web.listen-address', `127.0.0.1:${port}`]);
    await waitFor('the exporter to become ready', async () => {
      if (exporter!.child.exitCode !== null) throw new Error(`exporter exited: ${exporter!.output()}`);
      return (await fetch(`http://127.0.0.1:${port}/-/ready`, { signal: AbortSignal.timeout(1000) })).ok ? true : undefined;
    });
    prom = await startPrometheus([{ job: 'kvmlens', target: `127.0.0.1:${port}` }]);
    await prom.waitForQuery('up{job="kvmlens"}', (r) => scalar(r) === 1);
    // The replay runs as fast as it can: wait until the last scrape saw all of it.
    const count = await prom.waitForQuery('sum(kvm_exit_duration_seconds_count)', (r) => scalar(r) === want.vmexit.count).catch(async (err) => {
      throw new Error(`${err.message}; Prometheus has ${JSON.stringify(await prom!.query('sum(kvm_exit_duration_seconds_count)'))}, want ${want.vmexit.count}`);
    });
    assert.is(scalar(count), want.vmexit.count);
    const sum = scalar(await prom.query('sum(kvm_exit_duration_seconds_sum)'));
    assert.ok(Math.abs(sum - want.vmexit.sumSeconds) <= 1e-9 * Math.max(1, want.vmexit.sumSeconds), `_sum ${sum} vs analyzer ${want.vmexit.sumSeconds}`);
    assert.is(scalar(await prom.query('sum(kvm_exit_duration_seconds_bucket{le="+Inf"})')), want.vmexit.count, '+Inf = _count');
    for (const [family, t] of [
      ['kvm_mmio_duration_seconds', want.mmio],
      ['kvm_ioport_duration_seconds', want.ioport],
      ['kvm_msr_duration_seconds', want.msr],
    ] as const) {
      if (t.count === 0) continue;
      assert.is(scalar(await prom.query(`sum(${family}_count)`)), t.count, `${family}_count`);
      const s = scalar(await prom.query(`sum(${family}_sum)`));
      assert.ok(Math.abs(s - t.sumSeconds) <= 1e-9 * Math.max(1, t.sumSeconds), `${family}_sum ${s} vs ${t.sumSeconds}`);
    }
    assert.is(scalar(await prom.query('count(kvm_vm_info)')), want.pids, 'one kvm_vm_info per VM process');
    assert.is(scalar(await prom.query('sum(kvmlens_events_read_total)')), want.read.kvmEvents);
    assert.is(scalar(await prom.query('count(kvmlens_build_info)')), 1);
    // histogram_quantile works on what was exported.
    const p99 = scalar(await prom.query('histogram_quantile(0.99, sum by (le) (kvm_exit_duration_seconds_bucket))'));
    assert.ok(p99 > 0 && Number.isFinite(p99), `p99 ${p99}`);

    const started = Date.now();
    exporter.child.kill('SIGTERM');
    const code = await Promise.race([exporter.exit, new Promise((r) => setTimeout(() => r('timeout'), 10_000))]);
    assert.is(code, 0, `exit status after SIGTERM (${Date.now() - started} ms): ${exporter.output()}`);
  } finally {
    await prom?.stop();
    await killQuietly(exporter);
  }
});

test('TLS and basic auth: Prometheus with the right password gets in, with a wrong one does not', async () => {
  if (!havePrometheus) return;
  if (spawnSync('openssl', ['version']).status !== 0) {
    console.log('skipping TLS test: no openssl');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'kvmlens-tls-'));
  const port = await freePort();
  let exporter: RunningExporter | undefined;
  let prom: Awaited<ReturnType<typeof startPrometheus>> | undefined;
  try {
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    const r = spawnSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1',
      '-subj', '/CN=kvmlens-test', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ], { encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
    writeFileSync(
      join(dir, 'web.yml'),
      `tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\nbasic_auth_users:\n  prometheus: ${JSON.stringify(bcrypt.hashSync('right-password', 10))}\n`,
    );
    exporter = startExporterProcess([
      '--replay', FIXTURE, '--speed', '0', '--web.listen-address', `127.0.0.1:${port}`, '--web.config.file', join(dir, 'web.yml'),
    ]);
    await waitFor('the exporter to listen', async () => {
      if (exporter!.child.exitCode !== null) throw new Error(`exporter exited: ${exporter!.output()}`);
      return /listening on/.test(exporter!.output()) ? true : undefined;
    });
    prom = await startPrometheus([
      { job: 'right', target: `127.0.0.1:${port}`, scheme: 'https', caFile: cert, basicAuth: { username: 'prometheus', password: 'right-password' } },
      { job: 'wrong', target: `127.0.0.1:${port}`, scheme: 'https', caFile: cert, basicAuth: { username: 'prometheus', password: 'wrong-password' } },
      { job: 'plain', target: `127.0.0.1:${port}`, scheme: 'http', basicAuth: { username: 'prometheus', password: 'right-password' } },
    ]);
    await prom.waitForQuery('up{job="right"}', (x) => scalar(x) === 1);
    await prom.waitForQuery('up{job="wrong"}', (x) => scalar(x) === 0);
    await prom.waitForQuery('up{job="plain"}', (x) => scalar(x) === 0);
    assert.ok(scalar(await prom.query('sum(kvm_exit_duration_seconds_count{job="right"})')) > 0);
    assert.is((await prom.query('kvm_exit_duration_seconds_count{job="wrong"}')).length, 0, 'nothing stored from the refused scrape');
  } finally {
    await prom?.stop();
    await killQuietly(exporter);
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
