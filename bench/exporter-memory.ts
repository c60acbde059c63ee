// Where the exporter's memory goes during one scrape, in process: RSS,
// anonymous RSS and V8's figures after each step (native aggregation,
// snapshot, families, text, gzip), then over 8 more renders with and
// without freeing each text once gzipped (as a kept render does).
//   node --expose-gc --import tsx bench/exporter-memory.ts /tmp/kvmlens-bench/exporter-179vms.data
// (the file is one that `npm run bench:exporter` generates). The baseline
// includes tsx's TypeScript loader, so absolute figures are ~15 MB above
// the exporter's own; the steps' differences are what this is for.
import { readFileSync } from 'node:fs';
import { analyzeFile } from '../src/core/native.ts';
import { classicLayout } from '../src/exporter/buckets/classic.ts';
import { secondsToNs } from '../src/exporter/buckets/native-boundaries.ts';
import { buildCollectors } from '../src/exporter/collectors/index.ts';
import { defaultExporterOptions } from '../src/exporter/exporter.ts';
import { gzipExposition, OPENMETRICS_CONTENT_TYPE, releaseExposition, renderExposition, type Exposition } from '../src/exporter/exposition.ts';
import { Scraper, type Gathered } from '../src/exporter/scraper.ts';
import { sessionSource, type Snapshot } from '../src/exporter/source.ts';
import { VmDirectory } from '../src/exporter/vm-info/directory.ts';

const file = process.argv[2];
if (!file) throw new Error('usage: bench/exporter-memory.ts FILE.data');
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const mb = (n: number) => (n / 2 ** 20).toFixed(0);
const anon = () => Number(/RssAnon:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;
const phase = (name: string) => {
  gc();
  const m = process.memoryUsage();
  console.log(
    `| ${name} | ${mb(m.rss)} | ${mb(anon())} | ${mb(m.heapUsed)} / ${mb(m.heapTotal)} | ${mb(m.external)} |`,
  );
};
console.log('| step (each held) | RSS MB | anonymous MB | V8 heap used / total MB | external (Buffers) MB |');
console.log('|---|---|---|---|---|');
phase('start');
const session = await analyzeFile(file);
phase('native aggregation (analyzeFile)');
const source = sessionSource(session);
const o = defaultExporterOptions();
const layout = classicLayout(o.histogramBucketsSeconds, secondsToNs);
const scraper = new Scraper(source, {
  collectors: buildCollectors({ enabled: o.collectors, longExitThresholdSeconds: o.longExitThresholdSeconds, labels: o.labels }),
  layout,
  seriesLimit: 0,
  vms: new VmDirectory({ hostPids: false, procfs: '/proc', exitedTtlMs: 300_000 }),
});
let snap: Snapshot | undefined = source.snapshot({ classicBoundsNs: layout.boundsNs });
phase('+ a snapshot');
let gathered: Gathered | undefined = scraper.gather();
phase('+ families (and their snapshot)');
let body: Exposition | undefined = await renderExposition(gathered.families, layout, OPENMETRICS_CONTENT_TYPE);
phase(`+ text (${mb(body.length)} MB)`);
const zipped = await gzipExposition(body);
phase(`+ gzip (${(zipped.length / 2 ** 20).toFixed(1)} MB)`);
snap = gathered = body = undefined;
await new Promise((r) => setTimeout(r, 50));
phase('all released (gc)');
for (const release of [false, true]) {
  let peak = 0;
  for (let i = 0; i < 8; i++) {
    const b = await renderExposition(scraper.gather().families, layout, OPENMETRICS_CONTENT_TYPE);
    await gzipExposition(b);
    if (release) releaseExposition(b);
    await new Promise((r) => setImmediate(r));
    peak = Math.max(peak, anon());
  }
  console.log(`8 renders + gzip, ${release ? 'each text freed once gzipped' : 'texts left to the GC'}: peak anonymous ${mb(peak)} MB`);
}
if (snap ?? gathered ?? body) throw new Error('unreachable');
