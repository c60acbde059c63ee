// Exporter under load: scrape latency with ~10,000 histogram series and 50
// concurrent scrapers, the exporter's RSS, and native aggregation vs
// prom-client's per-event Histogram.observe() on the same in-memory events.
//   npm run bench:exporter            (needs perf and root for the template; loopback only)
//   npm run bench:exporter -- --load-only [--target-only]   scrape load only [10,024 histograms only]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Histogram, Registry } from 'prom-client';
import { recordTemplate } from '../scripts/make-test-files.ts';
import { buildScenario, CPUID } from '../test/support/kvm-scenarios.ts';
import { analyzeFile, recordDurations } from '../src/core/native.ts';
import { classicLayout } from '../src/exporter/buckets/classic.ts';
import { DEFAULT_CLASSIC_BOUNDS_SECONDS, secondsToNs } from '../src/exporter/buckets/native-boundaries.ts';
import { buildCollectors } from '../src/exporter/collectors/index.ts';
import { defaultExporterOptions } from '../src/exporter/exporter.ts';
import { gzipExposition, OPENMETRICS_CONTENT_TYPE, renderExposition, renderSpec } from '../src/exporter/exposition.ts';
import { Scraper } from '../src/exporter/scraper.ts';
import { sessionSource } from '../src/exporter/source.ts';
import { VmDirectory } from '../src/exporter/vm-info/directory.ts';

const dir = process.env.KVMLENS_BENCH_DIR ?? '/tmp/kvmlens-bench';
const root = join(import.meta.dirname, '..');
const port = Number(process.env.KVMLENS_BENCH_PORT ?? 19756);
const scrapers = 50;
const seconds = 10;
// What Prometheus 2.x/3.x sends when scraping.
const PROMETHEUS_ACCEPT = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

function percentile(sorted: number[], q: number) {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

/** One GET of /metrics: resolves with the raw (possibly gzipped) body once its last byte arrived. */
function scrape(agent: Agent, gzip: boolean): Promise<{ body: Buffer; encoding?: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { Accept: PROMETHEUS_ACCEPT };
    if (gzip) headers['Accept-Encoding'] = 'gzip';
    const req = request({ host: '127.0.0.1', port, path: '/metrics', agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}`));
        else resolve({ body: Buffer.concat(chunks), encoding: res.headers['content-encoding'] });
      });
      res.on('error', reject);
    });
    req.on('error', (e) => reject(new Error(`GET /metrics${gzip ? ' (gzip)' : ''}: ${e.message}`)));
    req.end();
  });
}

/** 50 scrapers in a closed loop for `seconds`: latency = request sent to last byte received. */
async function load(gzip: boolean) {
  const agent = new Agent({ keepAlive: true, maxSockets: scrapers });
  const latencies: number[] = [];
  let bytes = 0;
  const until = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: scrapers }, async () => {
      while (Date.now() < until) {
        const t0 = performance.now();
        const r = await scrape(agent, gzip);
        latencies.push(performance.now() - t0);
        bytes = r.body.length;
      }
    }),
  );
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return { latencies, bytes };
}

/**
 * One raw keep-alive connection: sends the GET, reads the header up to its
 * blank line, then counts body bytes up to Content-Length. No parser, no
 * Buffer kept or joined: the scrapers' own CPU is a fraction of Node's http
 * client's (which costs ~1.3 ms per 1 MB response), so the load measures
 * the exporter rather than the scrapers sharing its cores.
 */
class RawScraper {
  private socket!: Socket;
  private head: Buffer[] = [];
  private left = -1;
  private done?: (e?: Error) => void;
  private readonly request: Buffer;

  constructor(gzip: boolean) {
    this.request = Buffer.from(
      `GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: ${PROMETHEUS_ACCEPT}\r\n${gzip ? 'Accept-Encoding: gzip\r\n' : ''}\r\n`,
    );
  }

  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket = connect({ host: '127.0.0.1', port, noDelay: true }, resolve);
      this.socket.once('error', reject);
      this.socket.on('data', (c: Buffer) => this.data(c));
      this.socket.on('close', () => this.done?.(new Error('connection closed')));
    });
  }

  private data(c: Buffer) {
    if (this.left < 0) {
      this.head.push(c);
      const all = this.head.length === 1 ? c : Buffer.concat(this.head);
      const end = all.indexOf('\r\n\r\n');
      if (end < 0) return;
      const header = all.subarray(0, end).toString('latin1');
      if (!header.startsWith('HTTP/1.1 200')) return this.done?.(new Error(header.split('\r\n')[0]));
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(header);
      if (!length) return this.done?.(new Error('no Content-Length'));
      this.head = [];
      this.left = Number(length[1]) - (all.length - end - 4);
    } else {
      this.left -= c.length;
    }
    if (this.left === 0) {
      this.left = -1;
      const d = this.done;
      this.done = undefined;
      d?.();
    }
  }

  /** Resolves once the whole response arrived. */
  get(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.done = (e) => (e ? reject(e) : resolve());
      this.socket.write(this.request);
    });
  }

  close() {
    this.socket.destroy();
  }
}

/** load() with RawScraper connections instead of Node's http client. */
async function rawLoad(gzip: boolean) {
  const conns = Array.from({ length: scrapers }, () => new RawScraper(gzip));
  await Promise.all(conns.map((c) => c.open()));
  const latencies: number[] = [];
  const until = Date.now() + seconds * 1000;
  await Promise.all(
    conns.map(async (c) => {
      while (Date.now() < until) {
        const t0 = performance.now();
        await c.get();
        latencies.push(performance.now() - t0);
      }
    }),
  );
  for (const c of conns) c.close();
  latencies.sort((a, b) => a - b);
  return { latencies, bytes: 0 };
}

/** bench/scrape-load.c built into the bench directory (undefined when no C compiler is there). */
let cScraperPath: string | undefined | null = null;
function cScraper(): string | undefined {
  if (cScraperPath !== null) return cScraperPath;
  const out = join(dir, 'scrape-load');
  const r = spawnSync('cc', ['-O2', '-o', out, join(root, 'bench', 'scrape-load.c')], { stdio: 'inherit' });
  cScraperPath = r.status === 0 ? out : undefined;
  if (!cScraperPath) console.log('(no C compiler: the C scraper rows are left out)');
  return cScraperPath;
}

/** load() with bench/scrape-load.c's scrapers (one thread, epoll), in a process of their own. */
async function cLoad(gzip: boolean) {
  const bin = cScraper()!;
  const child = spawn(bin, [String(port), String(scrapers), String(seconds), gzip ? '1' : '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const out: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`scrape-load exited with ${code}`);
  const lines = Buffer.concat(out).toString().trim().split('\n');
  const cpuMs = Number(lines.pop()!.split(' ')[1]);
  const bytes = Number(lines.pop()!.split(' ')[1]);
  const latencies = lines.map(Number).sort((a, b) => a - b);
  return { latencies, bytes, cpuMs };
}

/** `maxRenderAge` seconds is passed as --web.max-render-age (0: every scrape renders). */
async function exporterUnderLoad(file: string, maxRenderAge: number) {
  const exporter = spawn(
    process.execPath,
    [
      join(root, 'bin', 'kvmlens.js'),
      'exporter',
      '--replay',
      file,
      '--speed',
      '0',
      '--web.listen-address',
      `127.0.0.1:${port}`,
      '--series.limit',
      '0',
      '--web.max-render-age',
      `${maxRenderAge}s`,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  try {
    let ready = false;
    for (let i = 0; i < 300 && !ready; i++) {
      await new Promise((r) => setTimeout(r, 100));
      ready = await fetch(`http://127.0.0.1:${port}/-/ready`).then((r) => r.ok, () => false);
    }
    if (!ready) throw new Error('exporter did not become ready');
    // Let the replay finish (speed 0: as fast as it reads), so every scrape has the same series.
    // Warm-up scrapes ask for gzip as Prometheus does (a plain one would
    // leave its 17 MB text kept with the render, inflating the gzip rows' RSS).
    let before = -1;
    for (;;) {
      const text = gunzipSync((await scrape(new Agent(), true)).body).toString();
      const read = Number(/^kvmlens_events_read_total (\d+)/m.exec(text)?.[1] ?? 0);
      if (read === before) break;
      before = read;
      // Longer than --web.max-render-age, so the next scrape is a new render.
      await new Promise((r) => setTimeout(r, 500 + maxRenderAge * 1000));
    }
    const zipped = await scrape(new Agent(), true);
    if (zipped.encoding !== 'gzip') throw new Error('the exporter did not gzip for Accept-Encoding: gzip');
    const unzipped = gunzipSync(zipped.body).toString();
    const text = unzipped;
    const series = text.split('\n').filter((l) => l.startsWith('kvm_') && /_count[{ ]/.test(l)).length;
    if (!unzipped.startsWith('# HELP') || !unzipped.endsWith('# EOF\n')) throw new Error('gzipped body is not an OpenMetrics exposition');
    // One scrape alone that renders (the last render older than the reuse window), best of 5.
    let alone = Infinity;
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, maxRenderAge * 1000 + 50));
      const t0 = performance.now();
      await scrape(new Agent(), true);
      alone = Math.min(alone, performance.now() - t0);
    }

    // Peak RSS (VmHWM, reset before each load) and peak anonymous RSS (heap:
    // the replayed file's mapped pages are not heap) of the exporter process.
    const status = () => readFileSync(`/proc/${exporter.pid}/status`, 'utf8');
    const kb = (text: string, field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(text)?.[1] ?? 0);
    const idle = status();
    const measured = async (gzip: boolean, client: 'node' | 'raw' | 'c' = 'node') => {
      writeFileSync(`/proc/${exporter.pid}/clear_refs`, '5'); // resets VmHWM
      let anon = 0;
      const poll = setInterval(() => {
        try {
          anon = Math.max(anon, kb(status(), 'RssAnon'));
        } catch {
          /* gone */
        }
      }, 20);
      // CPU (user + system) of the exporter and of this process (the 50 scrapers) over the load.
      const exporterCpu = () => {
        const f = readFileSync(`/proc/${exporter.pid}/stat`, 'utf8').split(') ')[1].split(' ');
        return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // clock ticks (USER_HZ 100) -> ms
      };
      const e0 = exporterCpu();
      const c0 = process.cpuUsage();
      const r = client === 'c' ? await cLoad(gzip) : client === 'raw' ? await rawLoad(gzip) : await load(gzip);
      const c1 = process.cpuUsage(c0);
      const cpu = { exporterMs: exporterCpu() - e0, clientMs: 'cpuMs' in r ? (r.cpuMs as number) : (c1.user + c1.system) / 1000 };
      clearInterval(poll);
      return { ...r, hwm: kb(status(), 'VmHWM'), anon, cpu };
    };
    const gz = await measured(true);
    const gzRaw = await measured(true, 'raw');
    const gzC = cScraper() ? await measured(true, 'c') : undefined;
    const plain = await measured(false);
    const plainRaw = await measured(false, 'raw');
    const plainC = cScraper() ? await measured(false, 'c') : undefined;
    console.log(`\n${file}: ${series} histogram series, --web.max-render-age ${maxRenderAge}s, ${scrapers} concurrent scrapers for ${seconds} s each way; exposition ${text.length} bytes, ${zipped.body.length} gzipped;`);
    console.log(`before the load (after the warm-up scrapes): RSS ${(kb(idle, 'VmRSS') / 1024).toFixed(0)} MB (anonymous ${(kb(idle, 'RssAnon') / 1024).toFixed(0)} MB); one scrape alone that renders (gzip): ${alone.toFixed(1)} ms`);
    console.log('| Accept-Encoding | scrapes | p50 ms | p99 ms | peak RSS MB | peak anonymous RSS MB | CPU ms per scrape: exporter / scrapers |');
    console.log('|---|---|---|---|---|---|---|');
    const row = (name: string, r?: typeof gz) =>
      r &&
      console.log(
        `| ${name} | ${r.latencies.length} | ${percentile(r.latencies, 0.5).toFixed(1)} | ${percentile(r.latencies, 0.99).toFixed(1)} | ${(r.hwm / 1024).toFixed(0)} | ${(r.anon / 1024).toFixed(0)} | ` +
          `${(r.cpu.exporterMs / r.latencies.length).toFixed(2)} / ${(r.cpu.clientMs / r.latencies.length).toFixed(2)} |`,
      );
    row('gzip (as Prometheus), Node http client', gz);
    row('gzip (as Prometheus), raw sockets', gzRaw);
    row('gzip (as Prometheus), C scraper', gzC);
    row('none, Node http client', plain);
    row('none, raw sockets', plainRaw);
    row('none, C scraper', plainC);
  } finally {
    exporter.kill('SIGTERM');
  }
}

/** Deterministic shuffle (xorshift), so events of different series interleave as they do live. */
function shuffle(keys: Uint32Array, ns: Float64Array) {
  let x = 0x9e3779b9;
  for (let i = keys.length - 1; i > 0; i--) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const j = (x >>> 0) % (i + 1);
    [keys[i], keys[j]] = [keys[j], keys[i]];
    [ns[i], ns[j]] = [ns[j], ns[i]];
  }
}

async function nativeVsObserve(file: string) {
  // The whole native path, for reference: read, decode, pair and aggregate the file.
  let wholeMs = Infinity;
  let session;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    session = await analyzeFile(file);
    wholeMs = Math.min(wholeMs, performance.now() - t0);
  }
  const rows = session!.query({ analysis: 'vmexit', groupBy: 'vcpu', buckets: true });
  const pairs = rows.count.reduce((a, b) => a + b, 0);

  // The same events for both sides, in memory: every vmexit pair of the file
  // (its series and a duration inside its native bucket), 10 times over,
  // shuffled across series.
  const repeat = 10;
  const total = pairs * repeat;
  const keys = new Uint32Array(total);
  const ns = new Float64Array(total);
  const b = rows.buckets!;
  let e = 0;
  for (let r = 0; r < repeat; r++) {
    for (let i = 0; i < rows.length; i++) {
      for (let k = b.offsets[i]; k < b.offsets[i + 1]; k++) {
        for (let c = 0; c < b.count[k]; c++) {
          keys[e] = i;
          ns[e++] = b.lowerNs[k];
        }
      }
    }
  }
  const orders: [string, Uint32Array, Float64Array][] = [['series order (each series\' events together)', keys.slice(), ns.slice()]];
  shuffle(keys, ns);
  orders.push(['shuffled across series (worst case for caches)', keys, ns]);
  const labelsOf = Array.from({ length: rows.length }, (_, i) => ({ pid: String(rows.pid[i]), vcpu: String(rows.vcpu[i]), reason: rows.name[i] }));
  const histogram = () =>
    new Histogram({ name: 'bench_exit_seconds', help: 'bench', labelNames: ['pid', 'vcpu', 'reason'], registers: [new Registry()], buckets: [...DEFAULT_CLASSIC_BOUNDS_SECONDS] });
  const per = (ms: number) => ((ms * 1e6) / total).toFixed(1);
  console.log(`\n${total} events in memory (${pairs} vmexit pairs of the file x ${repeat}, ${rows.length} series); best of 3-5:`);
  console.log('| event order | path | ms | ns per event | vs the exporter\'s native path |');
  console.log('|---|---|---|---|---|');
  for (const [order, k, d] of orders) {
    const secondsOf = Float64Array.from(d, (v) => v / 1e9);
    // The analyzer's batched recording with and without the moments, and record() per event.
    let nativeNs = Infinity;
    let oneByOneNs = Infinity;
    let noMomentsNs = Infinity;
    for (let i = 0; i < 5; i++) {
      const r = recordDurations(k, d);
      const o = recordDurations(k, d, 'oneByOne');
      const m = recordDurations(k, d, 'noMoments');
      if ([r, o, m].some((x) => x.count !== total || x.sum !== r.sum)) throw new Error('native recorded a different number of events');
      nativeNs = Math.min(nativeNs, r.ns);
      oneByOneNs = Math.min(oneByOneNs, o.ns);
      noMomentsNs = Math.min(noMomentsNs, m.ns);
    }
    let cachedMs = Infinity;
    let labelsMs = Infinity;
    for (let t = 0; t < 3; t++) {
      const h = histogram();
      const children = labelsOf.map((l) => h.labels(l));
      const t0 = performance.now();
      for (let i = 0; i < total; i++) children[k[i]].observe(secondsOf[i]);
      cachedMs = Math.min(cachedMs, performance.now() - t0);
      const h2 = histogram();
      const t1 = performance.now();
      for (let i = 0; i < total; i++) h2.observe(labelsOf[k[i]], secondsOf[i]);
      labelsMs = Math.min(labelsMs, performance.now() - t1);
    }
    // The exporter's path (its sessions record without the moments) is the reference.
    const exporterMs = noMomentsNs / 1e6;
    const table: [string, number][] = [
      ["native, as exporter sessions record: map lookup + the analyzer's batches (RecordBatch), no running mean/variance", exporterMs],
      ['native, as stat report / stat live record: the same batches with perf\'s running mean and variance', nativeNs / 1e6],
      ['native: map lookup + LatencyHistogram::record per event (with mean/variance)', oneByOneNs / 1e6],
      ['prom-client child.observe(s), child looked up beforehand', cachedMs],
      ['prom-client observe(labels, s)', labelsMs],
    ];
    table.forEach(([path, ms], i) => {
      const ratio = ms / exporterMs;
      console.log(`| ${i === 0 ? order : ''} | ${path} | ${ms.toFixed(1)} | ${per(ms)} | ${ratio < 10 ? ratio.toFixed(2) : ratio.toFixed(0)}x |`);
    });
  }
  console.log(`\nwhole native path on the file (read, decode, pair, aggregate all four analyses): ${wholeMs.toFixed(1)} ms, ${((wholeMs * 1e6) / pairs).toFixed(0)} ns per vmexit pair`);
}

/**
 * Where one scrape's time goes, in process CPU time (user + system, so less
 * sensitive than wall time to other work on the machine), best of 10: the
 * native snapshot, the collectors (snapshot included), the text, the gzip.
 */
async function scrapeBreakdown(file: string) {
  const session = await analyzeFile(file);
  const source = sessionSource(session);
  const o = defaultExporterOptions();
  const layout = classicLayout(o.histogramBucketsSeconds, secondsToNs);
  const scraper = new Scraper(source, {
    collectors: buildCollectors({ enabled: o.collectors, longExitThresholdSeconds: o.longExitThresholdSeconds, labels: o.labels }),
    layout,
    seriesLimit: 0,
    vms: new VmDirectory({ hostPids: false, procfs: '/proc', exitedTtlMs: 300_000 }),
  });
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const best = { snapshot: Infinity, collectors: Infinity, text: Infinity, gzip: Infinity };
  for (let i = 0; i < 10; i++) {
    let t = cpu();
    source.snapshot({ classicBoundsNs: layout.boundsNs });
    best.snapshot = Math.min(best.snapshot, cpu() - t);
    t = cpu();
    const { families } = scraper.gather();
    best.collectors = Math.min(best.collectors, cpu() - t);
    t = cpu();
    const body = await renderExposition(families, layout, OPENMETRICS_CONTENT_TYPE);
    best.text = Math.min(best.text, cpu() - t);
    t = cpu();
    await gzipExposition(body);
    best.gzip = Math.min(best.gzip, cpu() - t);
  }
  const f = (n: number) => n.toFixed(1);
  console.log(`\none scrape of ${file}, CPU ms (best of 10): snapshot ${f(best.snapshot)}; collectors incl. snapshot ${f(best.collectors)}; text ${f(best.text)}; gzip ${f(best.gzip)}; total ${f(best.collectors + best.text + best.gzip)}`);
  // What the exporter does: the plan on the event loop (a snapshot of the
  // rows without slots, the collectors -- reused while the rows stay the
  // same -- and the spec), then the native render on libuv's pool.
  const plan = { ids: Infinity, collectors: Infinity, spec: Infinity, render: Infinity, snapshot: Infinity, sum: Infinity };
  for (let i = 0; i < 10; i++) {
    let t = cpu();
    source.snapshot({ buckets: false });
    plan.ids = Math.min(plan.ids, cpu() - t);
    t = cpu();
    const g = await scraper.gatherAsync(false, false, false);
    plan.collectors = Math.min(plan.collectors, cpu() - t);
    t = cpu();
    const spec = await renderSpec(g.families, layout, OPENMETRICS_CONTENT_TYPE, g.snap.rows);
    plan.spec = Math.min(plan.spec, cpu() - t);
    const r = await source.render!({ ...spec, gzip: true, text: false });
    plan.render = Math.min(plan.render, r.seconds * 1000);
    plan.snapshot = Math.min(plan.snapshot, r.snapshotSeconds * 1000);
    plan.sum = Math.min(plan.sum, r.sumSeconds * 1000);
  }
  console.log(
    `native render: on the event loop, CPU ms (best of 10): rows snapshot ${f(plan.ids)}; plan (collectors incl. that snapshot, reused after the first) ${f(plan.collectors)}; spec ${f(plan.spec)}; ` +
      `on libuv's pool (its thread's wall time): ${f(plan.render)} in all, of which snapshot ${f(plan.snapshot)}, summing into children ${f(plan.sum)}, text + gzip the rest`,
  );
}

async function main() {
  mkdirSync(dir, { recursive: true });
  const template = join(dir, 'template.data');
  if (!existsSync(template)) recordTemplate(template);
  // 250 VMs x 4 vCPUs: 8,000 vmexit series plus 6,000 of the device families
  // (14,000 histograms); 179 VMs give the target's 10,000.
  const files: string[] = [];
  for (const vms of [250, 179]) {
    const file = join(dir, `exporter-${vms}vms.data`);
    if (!existsSync(file)) {
      buildScenario(template, { name: 'exp', vendor: 'amd', seed: 21, vms, vcpusPerVm: 4, exitsPerVcpu: 150, cpus: 4, rounds: true }).write(file, {
        cpuid: CPUID.amd,
      });
    }
    files.push(file);
  }
  if (!process.argv.includes('--observe-only')) {
    // The target's size first; --web.max-render-age 1s (the default) and 0 (a render per scrape).
    const sizes = process.argv.includes('--target-only') ? [files[1]] : [files[1], files[0]];
    for (const file of sizes) for (const age of [1, 0]) await exporterUnderLoad(file, age);
    if (process.argv.includes('--load-only')) return;
    for (const file of files) await scrapeBreakdown(file);
  }
  await nativeVsObserve(files[0]);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
