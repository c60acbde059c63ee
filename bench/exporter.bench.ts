// Exporter under load: scrape latency with ~10,000 series and 50 concurrent
// scrapers, the exporter's RSS, and native aggregation vs prom-client's
// per-event Histogram.observe() for the same pairs and label sets.
//   npm run bench:exporter            (needs perf and root for the template)
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Histogram, Registry } from 'prom-client';
import { recordTemplate } from '../scripts/make-test-files.ts';
import { buildScenario, CPUID } from '../test/support/kvm-scenarios.ts';
import { analyzeFile } from '../src/core/native.ts';

const dir = process.env.KVMLENS_BENCH_DIR ?? '/tmp/kvmlens-bench';
const root = join(import.meta.dirname, '..');
const port = 19756;
const scrapers = 50;
const seconds = 10;

function percentile(sorted: number[], q: number) {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

async function main() {
  mkdirSync(dir, { recursive: true });
  const template = join(dir, 'template.data');
  if (!existsSync(template)) recordTemplate(template);
  // 250 VMs x 4 vCPUs x ~10 exit reasons ~ 10,000 vmexit series, plus the device families.
  const file = join(dir, 'exporter-10k-series.data');
  if (!existsSync(file)) {
    buildScenario(template, { name: 'exp', vendor: 'amd', seed: 21, vms: 250, vcpusPerVm: 4, exitsPerVcpu: 150, cpus: 4, rounds: true })
      .write(file, { cpuid: CPUID.amd });
  }

  const exporter = spawn(process.execPath, [join(root, 'bin', 'kvmlens.js'), 'exporter', '--replay', file, '--speed', '0',
    '--web.listen-address', `127.0.0.1:${port}`, '--series.limit', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    let ready = false;
    for (let i = 0; i < 200 && !ready; i++) {
      await new Promise((r) => setTimeout(r, 100));
      ready = await fetch(`http://127.0.0.1:${port}/-/ready`).then((r) => r.ok, () => false);
    }
    if (!ready) throw new Error('exporter did not become ready');
    const first = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const series = new Set(first.split('\n').filter((l) => l.startsWith('kvm_') && l.includes('_count{')).map((l) => l.split(' ')[0])).size;

    const latencies: number[] = [];
    const until = Date.now() + seconds * 1000;
    let rss = 0;
    const poll = setInterval(() => {
      try {
        const status = readFileSync(`/proc/${exporter.pid}/status`, 'utf8');
        rss = Math.max(rss, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0));
      } catch {
        /* gone */
      }
    }, 50);
    await Promise.all(Array.from({ length: scrapers }, async () => {
      while (Date.now() < until) {
        const t0 = performance.now();
        const r = await fetch(`http://127.0.0.1:${port}/metrics`);
        await r.text();
        latencies.push(performance.now() - t0);
      }
    }));
    clearInterval(poll);
    latencies.sort((a, b) => a - b);
    console.log(`\nexporter, ${series} histogram series (+ buckets), ${scrapers} concurrent scrapers for ${seconds} s:`);
    console.log('| scrapes | p50 ms | p99 ms | peak RSS MB | exposition bytes |');
    console.log('|---|---|---|---|---|');
    console.log(`| ${latencies.length} | ${percentile(latencies, 0.5).toFixed(1)} | ${percentile(latencies, 0.99).toFixed(1)} | ${(rss / 1024).toFixed(0)} | ${first.length} |`);
  } finally {
    exporter.kill('SIGTERM');
  }

  // Native aggregation of the whole file vs observe() of the same pairs.
  const t0 = performance.now();
  const session = await analyzeFile(file);
  const nativeMs = performance.now() - t0;
  const rows = session.query({ analysis: 'vmexit', groupBy: 'vcpu' });
  const pairs = rows.count.reduce((a, b) => a + b, 0);
  const registry = new Registry();
  const h = new Histogram({ name: 'bench_exit_seconds', help: 'bench', labelNames: ['pid', 'vcpu', 'reason'], registers: [registry],
    buckets: [1, 4, 16, 64, 256, 1024, 4096, 16384].map((us) => us / 1e6) });
  const t1 = performance.now();
  for (let i = 0; i < rows.length; i++) {
    const child = h.labels(String(rows.pid[i]), String(rows.vcpu[i]), rows.name[i]);
    const v = rows.meanNs[i] / 1e9;
    for (let k = 0; k < rows.count[i]; k++) child.observe(v);
  }
  const observeMs = performance.now() - t1;
  // Like for like: observe() per pair with a label lookup per event, as an exporter without a native core would.
  const t2 = performance.now();
  for (let i = 0; i < rows.length; i++) {
    const labels = { pid: String(rows.pid[i]), vcpu: String(rows.vcpu[i]), reason: rows.name[i] };
    const v = rows.meanNs[i] / 1e9;
    for (let k = 0; k < rows.count[i]; k++) h.observe(labels, v);
  }
  const observeLabelsMs = performance.now() - t2;
  console.log(`\n${pairs} vmexit pairs (the file also holds mmio/ioport/msr events):`);
  console.log('| path | ms | ns per pair |');
  console.log('|---|---|---|');
  console.log(`| native: read file, decode, pair, aggregate all analyses | ${nativeMs.toFixed(1)} | ${((nativeMs * 1e6) / pairs).toFixed(0)} |`);
  console.log(`| prom-client observe(), label child cached | ${observeMs.toFixed(1)} | ${((observeMs * 1e6) / pairs).toFixed(0)} |`);
  console.log(`| prom-client observe(labels, v) per event | ${observeLabelsMs.toFixed(1)} | ${((observeLabelsMs * 1e6) / pairs).toFixed(0)} |`);
  console.log(`ratio observe(labels)/native: ${(observeLabelsMs / nativeMs).toFixed(1)}x (native includes file reading and pairing)`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
