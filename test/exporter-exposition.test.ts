// The fast exposition path: histogram families written natively from the
// snapshot's classic slots must be byte for byte what prom-client writes for
// the same families, in both formats; the native classic slots must equal
// the ones derived in JS from the native buckets; gzip is served to scrapers
// that accept it and only to them.
import { request } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { analyzeFile, jsNumberText, type NativeSession } from '../src/core/native.ts';
import { buildCollectors } from '../src/exporter/collectors/index.ts';
import { Scraper } from '../src/exporter/scraper.ts';
import { VmDirectory } from '../src/exporter/vm-info/directory.ts';
import { addRowToSlots, classicLayout } from '../src/exporter/buckets/classic.ts';
import { DEFAULT_CLASSIC_BOUNDS_SECONDS, secondsToNs } from '../src/exporter/buckets/native-boundaries.ts';
import { defaultExporterOptions, startExporter } from '../src/exporter/exporter.ts';
import {
  acceptsGzip,
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  releaseExposition,
  renderExposition,
  type Exposition,
  renderSpec,
  renderWithPromClient,
} from '../src/exporter/exposition.ts';
import type { HistogramChild, MetricFamily } from '../src/exporter/families.ts';
import { sessionSource } from '../src/exporter/source.ts';

const layout = classicLayout(DEFAULT_CLASSIC_BOUNDS_SECONDS, secondsToNs);
let session: NativeSession;
const open = async () => (session ??= await analyzeFile('test/fixtures/kvm-amd-sample.data'));

function child(labels: Record<string, string>, slots: number[], sumSeconds: number): HistogramChild {
  const s = Float64Array.from(slots);
  const count = slots.reduce((a, b) => a + b, 0);
  return { labels, slots: s, count, sumSeconds, minNs: 0, maxNs: 0, rows: [] };
}

const slotsOf = (n: number, at: number) => Array.from({ length: layout.le.length + 1 }, (_, j) => (j === at ? n : 0));

test('native classic slots equal the slots derived from the native buckets', async () => {
  const s = await open();
  const withBuckets = s.query({ analysis: 'all', groupBy: 'vcpu', buckets: true });
  // The defaults (octave edges: each native octave falls in one slot) and
  // bounds inside octaves, which split them.
  const odd = classicLayout([1e-5, 2.5e-5, 3e-5, 1e-4, 0.001, 0.0123], secondsToNs);
  for (const l of [layout, odd]) {
    const lean = s.query({ analysis: 'all', groupBy: 'vcpu', stats: false, classicBoundsNs: l.boundsNs });
    const full = s.query({ analysis: 'all', groupBy: 'vcpu', buckets: true, classicBoundsNs: l.boundsNs });
    assert.ok(lean.length > 0);
    assert.is(lean.length, withBuckets.length);
    const per = l.boundsNs.length + 1;
    for (let i = 0; i < lean.length; i++) {
      const slots = new Float64Array(per);
      addRowToSlots(withBuckets.buckets!, i, l.boundsNs, slots);
      assert.equal([...lean.classic!.subarray(i * per, (i + 1) * per)], [...slots], `row ${i}`);
      assert.equal([...full.classic!.subarray(i * per, (i + 1) * per)], [...slots], `row ${i} (with buckets)`);
      assert.is(lean.count[i], withBuckets.count[i]);
      assert.is(lean.sumNs[i], withBuckets.sumNs[i]);
      assert.is(lean.minNs[i], withBuckets.minNs[i]);
      assert.is(lean.maxNs[i], withBuckets.maxNs[i]);
      assert.is(lean.longCount[i], withBuckets.longCount[i]);
      assert.is(lean.name[i], withBuckets.name[i]);
      assert.is(lean.known[i], withBuckets.known[i]);
      assert.ok(Number.isNaN(lean.p99Ns[i]), 'stats: false leaves percentiles out');
    }
  }
  assert.throws(() => s.query({ classicBoundsNs: Float64Array.of(2, 1) }), /strictly increasing/);
});

test('exposition is byte for byte what prom-client writes (text and OpenMetrics)', async () => {
  const s = await open();
  const e = await startExporter(
    { ...defaultExporterOptions(), listenAddresses: ['127.0.0.1:0'] },
    { source: sessionSource(s), warn: () => {} },
  );
  try {
    const { families } = e.scraper.gather();
    const extra: MetricFamily[] = [
      {
        type: 'histogram',
        name: 'test_odd_duration_seconds',
        help: 'Help with a \\ backslash\nand a newline.',
        children: [
          child({ vm: 'a "quoted" \\ name\nnext', vcpu: '0' }, slotsOf(3, 2), 0.1 + 0.2),
          child({}, slotsOf(5, layout.le.length), 1e-7),
          child({ vm: 'ünïcode ✓' }, slotsOf(1, 0), 12345678.9),
        ],
      },
      { type: 'histogram', name: 'test_empty_duration_seconds', help: 'No children.', children: [] },
      // kvm_* counters and gauges take the fast writer too.
      {
        type: 'counter',
        name: 'kvm_test_odd_total',
        help: 'Odd \\ help\nhere.',
        samples: [
          { labels: {}, value: 3 },
          { labels: { vm: 'q"\\\n' }, value: 2 ** 60 },
        ],
      },
      {
        type: 'gauge',
        name: 'kvm_test_gauge',
        help: 'Gauge.',
        samples: [
          { labels: { a: '1' }, value: NaN },
          { labels: { a: '2' }, value: -Infinity },
          { labels: { a: '3' }, value: 1e-7 },
        ],
      },
      // A count JS prints with an exponent: the native writer declines, the JS one takes over.
      { type: 'histogram', name: 'test_huge_duration_seconds', help: 'Huge.', children: [child({ a: 'b' }, slotsOf(2 ** 60, 1), 1)] },
    ];
    assert.ok(families.some((f) => f.type === 'histogram' && f.children.length > 0));
    for (const ct of [PROMETHEUS_CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE]) {
      for (const fams of [families, [...families, ...extra]]) {
        const mine = Buffer.concat((await renderExposition(fams, layout, ct)).chunks).toString('utf8');
        const reference = await renderWithPromClient(fams, layout, ct);
        assert.is(mine, reference, ct);
      }
    }
  } finally {
    await e.stop();
  }
});

test('Accept-Encoding: gzip only when gzip (or *) is acceptable', () => {
  assert.ok(acceptsGzip('gzip'));
  assert.ok(acceptsGzip('deflate, gzip;q=1.0, *;q=0.5'));
  assert.ok(acceptsGzip('*'));
  assert.ok(acceptsGzip('x-gzip'));
  assert.not.ok(acceptsGzip(undefined));
  assert.not.ok(acceptsGzip(''));
  assert.not.ok(acceptsGzip('identity'));
  assert.not.ok(acceptsGzip('gzip;q=0'));
  assert.not.ok(acceptsGzip('*;q=0'));
  assert.not.ok(acceptsGzip('br, *;q=0'));
});

function get(url: string, headers: Record<string, string>): Promise<{ headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}

test('gzip for scrapers that accept it; concurrent scrapes share one render', async () => {
  const s = await open();
  const e = await startExporter(
    { ...defaultExporterOptions(), listenAddresses: ['127.0.0.1:0'] },
    { source: sessionSource(s), warn: () => {} },
  );
  try {
    const url = `http://${e.addresses[0]}/metrics`;
    const prometheus = { Accept: 'application/openmetrics-text;version=1.0.0', 'Accept-Encoding': 'gzip' };
    // Scrapes that arrive while a render is in flight share it (and its gzip).
    const r1 = e.render(prometheus.Accept);
    const r2 = e.render(prometheus.Accept);
    assert.is(await r1, await r2);
    assert.is(await (await r1).gzip(), await (await r2).gzip());
    const [zipped, zipped2, plain] = await Promise.all([get(url, prometheus), get(url, prometheus), get(url, { Accept: prometheus.Accept })]);
    assert.is(zipped.headers['content-encoding'], 'gzip');
    assert.is(zipped.headers['vary'], 'Accept-Encoding');
    assert.is(plain.headers['content-encoding'], undefined);
    assert.is(Number(plain.headers['content-length']), plain.body.length);
    assert.ok(zipped.body.length < plain.body.length);
    // Equal but for the time each render took.
    const timeless = (t: string) => t.replace(/^kvmlens_scrape\w*duration_seconds.*$/gm, '');
    const text = gunzipSync(zipped.body).toString('utf8');
    assert.is(timeless(text), timeless(plain.body.toString('utf8')));
    assert.is(timeless(gunzipSync(zipped2.body).toString('utf8')), timeless(text));
    assert.ok(text.endsWith('# EOF\n'));
    // +Inf equals _count for every series.
    const inf = [...text.matchAll(/^(kvm_\w+)_bucket\{(.*),le="\+Inf"\} (\d+)$/gm)];
    assert.ok(inf.length > 0);
    for (const [, name, labels, n] of inf) assert.ok(text.includes(`\n${name}_count{${labels}} ${n}\n`), `${name}{${labels}}`);
  } finally {
    await e.stop();
  }
});

test('the direct telemetry path answers as the express route does', async () => {
  const s = await open();
  const e = await startExporter({ ...defaultExporterOptions(), listenAddresses: ['127.0.0.1:0'], maxRenderAgeSeconds: 60 }, { source: sessionSource(s), warn: () => {} });
  try {
    const base = `http://${e.addresses[0]}`;
    const variants: Record<string, string>[] = [{ Accept: 'application/openmetrics-text;version=1.0.0', 'Accept-Encoding': 'gzip' }, { Accept: 'text/plain' }];
    for (const headers of variants) {
      // /metrics goes straight to the handler, /metrics/ (the same route, non-strict) through express.
      const [direct, routed] = await Promise.all([get(`${base}/metrics`, headers), get(`${base}/metrics/`, headers)]);
      const keep = (h: Record<string, unknown>) => Object.fromEntries(Object.entries(h).filter(([k]) => k !== 'date'));
      assert.equal(keep(direct.headers), keep(routed.headers));
      assert.ok(direct.body.equals(routed.body));
    }
  } finally {
    await e.stop();
  }
});

test('a kept render frees its natively written text once gzipped; a plain scrape then gets the text from the gzip', async () => {
  const s = await open();
  let built: Exposition | undefined;
  const e = await startExporter({ ...defaultExporterOptions(), listenAddresses: ['127.0.0.1:0'], maxRenderAgeSeconds: 60 }, { source: sessionSource(s), warn: () => {} });
  try {
    const r = await e.render('application/openmetrics-text;version=1.0.0');
    const zipped = await r.gzip();
    const text = gunzipSync(zipped);
    const body = await r.body();
    assert.is(Buffer.concat(body.chunks).toString(), text.toString());
    // The same, directly: released native chunks read as empty; the small JS-made ones are left alone.
    const scraper = e.scraper;
    built = await renderExposition(scraper.gather().families, e.layout, OPENMETRICS_CONTENT_TYPE);
    const native = [...(built.native ?? [])];
    assert.ok(native.length > 0);
    const before = Buffer.concat(built.chunks).toString();
    const smallOnes = built.chunks.filter((c) => !native.includes(c));
    releaseExposition(built);
    assert.ok(native.every((b) => b.length === 0));
    assert.is(built.chunks.length, 0);
    assert.ok(smallOnes.every((c) => c.length > 0));
    assert.ok(before.endsWith('# EOF\n'));
  } finally {
    await e.stop();
  }
});

test('a plan reuses the histogram collectors\' families while the rows stay the same; new rows make a new one', async () => {
  const s = await analyzeFile('test/fixtures/kvm-amd-sample.data');
  const o = defaultExporterOptions();
  const collectors = buildCollectors({ enabled: o.collectors, longExitThresholdSeconds: o.longExitThresholdSeconds, labels: o.labels });
  const vms = new VmDirectory({ hostPids: false, procfs: '/proc', exitedTtlMs: 0 });
  const scraper = new Scraper(sessionSource(s), { collectors, layout, seriesLimit: 0, vms });
  const timeless = (t: string) => t.replace(/^kvmlens_scrape\w*duration_seconds.*$/gm, '');
  const render = async () => {
    const g = await scraper.gatherAsync(true, false, false);
    const r = await s.render({ ...(await renderSpec(g.families, layout, PROMETHEUS_CONTENT_TYPE, g.snap.rows)), gzip: false, text: true });
    return timeless(r.text!.toString('utf8'));
  };
  const reference = async () => timeless(Buffer.concat((await renderExposition(scraper.gather(false).families, layout, PROMETHEUS_CONTENT_TYPE)).chunks).toString('utf8'));
  const first = await render();
  assert.is(first, await reference());
  assert.equal(scraper.planStats, { reused: 0, built: 1 });
  assert.is(await render(), first);
  assert.equal(scraper.planStats, { reused: 1, built: 1 });
  // Rows gone (as when an exited VM's rows are forgotten): planned afresh.
  const pid = s.query({ analysis: 'all', groupBy: 'vcpu', stats: false }).pid[0];
  s.forgetPids([pid]);
  const after = await render();
  assert.equal(scraper.planStats, { reused: 1, built: 2 });
  assert.ok(!after.includes(`pid="${pid}"`));
  assert.is(after, await reference());
});

test('the native render prints numbers as JavaScript does', () => {
  const values = [0, -0, 1, 7, 12345678901234, 2 ** 53, 2 ** 53 + 2, 2 ** 64, 1e21, 1.5e21, 1e-6, 1.5e-7, 1e-7, 0.1, 0.3, 1 / 3, 123.456,
    -2.5e-9, 5e-324, Number.MAX_VALUE, NaN, Infinity, -Infinity, 0.000001234, 1e300, 4.35, 100, 1e20, 123456789012345680000];
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let i = 0; i < 3000; i++) {
    // Sums as the collectors make them (ns / 1e9, added up), and arbitrary magnitudes.
    values.push(Math.floor(rand() * 2 ** (i % 60)) / 1e9, (rand() - 0.5) * 10 ** ((i % 60) - 30), Math.floor(rand() * 1e6) / 1e9 + Math.floor(rand() * 1e9) / 1e9);
  }
  const js = values.map((v) => (Number.isNaN(v) ? 'Nan' : !Number.isFinite(v) ? (v < 0 ? '-Inf' : '+Inf') : String(v)));
  const native = jsNumberText(Float64Array.from(values)).split('\n');
  for (let i = 0; i < values.length; i++) assert.is(native[i], js[i], `value ${values[i]}`);
});

test('the native render writes what renderExposition writes, gzipped or not, with the series limit cutting children', async () => {
  const s = await open();
  for (const seriesLimit of [0, 7]) {
    const collectors = buildCollectors({
      enabled: { vmexit: true, mmio: true, ioport: true, msr: true },
      reasonExclude: 'npf',
      longExitThresholdSeconds: 0.0001,
      labels: { ioportPort: true, mmioGpa: false, msrIndex: false, topN: 2 },
    });
    const vms = new VmDirectory({ hostPids: false, procfs: '/proc', exitedTtlMs: 0 });
    const scraper = new Scraper(sessionSource(s), { collectors, layout, seriesLimit, vms });
    for (const ct of [PROMETHEUS_CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE]) {
      const g = scraper.gather();
      const mine = Buffer.concat((await renderExposition(g.families, layout, ct)).chunks).toString('utf8');
      const spec = await renderSpec(g.families, layout, ct, g.snap.rows);
      const both = await s.render({ ...spec, gzip: true, text: true });
      assert.is(both.text!.toString('utf8'), mine, `${ct}, limit ${seriesLimit}: text`);
      assert.is(gunzipSync(both.gzip!).toString('utf8'), mine, `${ct}, limit ${seriesLimit}: gzip`);
      assert.is(both.textBytes, Buffer.byteLength(mine));
      assert.is(both.unplannedRows, 0);
      const zipped = await s.render({ ...spec, gzip: true, text: false });
      assert.is(zipped.text, undefined);
      assert.is(gunzipSync(zipped.gzip!).toString('utf8'), mine);
      const plain = await s.render({ ...spec, gzip: false, text: false });
      assert.is(plain.gzip, undefined);
      assert.is(plain.text!.toString('utf8'), mine);
      // A plan from a slot-less snapshot (as the exporter makes it) gives the same text.
      const lean = await scraper.gatherAsync(false, false, false); // drops counted once
      const fromLean = await s.render({ ...(await renderSpec(lean.families, layout, ct, lean.snap.rows)), gzip: false, text: true });
      const timeless = (t: string) => t.replace(/^kvmlens_scrape\w*duration_seconds.*$/gm, '');
      assert.is(timeless(fromLean.text!.toString('utf8')), timeless(mine));
    }
  }
  // A malformed spec is a clear error, thrown before anything is queued.
  assert.throws(() => s.render({ boundsNs: new Float64Array(1), le: [] } as never), /render: boundsNs and le/);
});

test.run();
