// Families -> Prometheus text 0.0.4 or OpenMetrics, as one Buffer per scrape.
//
// The histogram families (thousands of series, ~16 sample lines each) are
// written here straight from each child's classic slots: one label string per
// child, then one short string per bucket line, with no object per sample.
// The per-VM counter and gauge families (kvm_long_exits_total, kvm_vm_info)
// are written here too; the exporter's own small kvmlens_* families go
// through prom-client's Registry as before. The text is byte for byte what
// prom-client would write for the same families (test/exporter-web.test.ts
// compares the two): same escaping, number formatting, family separators and
// OpenMetrics' `# EOF`.
import { promisify } from 'node:util';
import { createGzip, gzip as gzipCallback } from 'node:zlib';
import { Registry, type Metric, type RegistryContentType } from 'prom-client';
import { releaseHistogramFamilies, writeHistogramFamily, type RenderSpec, type StatColumns } from '../core/native.ts';
import type { ClassicLayout } from './buckets/classic.ts';
import type { HistogramFamily, MetricFamily, ScalarFamily } from './families.ts';

export const PROMETHEUS_CONTENT_TYPE: string = Registry.PROMETHEUS_CONTENT_TYPE;
export const OPENMETRICS_CONTENT_TYPE: string = Registry.OPENMETRICS_CONTENT_TYPE;

const gzipAsync = promisify(gzipCallback);

/** Content negotiation: OpenMetrics when the client accepts it (Prometheus does), else text 0.0.4. */
export function negotiateContentType(accept: string | undefined): string {
  return accept && /application\/openmetrics-text/i.test(accept) ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE;
}

/** Whether an Accept-Encoding header allows gzip (RFC 9110: `gzip` or `*`, unless q=0). */
export function acceptsGzip(acceptEncoding: string | undefined): boolean {
  if (!acceptEncoding) return false;
  let gzip: boolean | undefined;
  let star: boolean | undefined;
  for (const part of acceptEncoding.split(',')) {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => /^\s*q\s*=\s*([0-9.]+)\s*$/.exec(p)).find(Boolean);
    const allowed = !q || Number(q[1]) > 0;
    if (coding.trim() === 'gzip' || coding.trim() === 'x-gzip') gzip = allowed;
    else if (coding.trim() === '*') star = allowed;
  }
  return gzip ?? star ?? false;
}

// prom-client's escaping (registry.js): help and label values escape \ and
// newline; label values also ".
const escapeString = (s: string) => (/[\\\n]/.test(s) ? s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n') : s);
const escapeLabelValue = (s: string) => (/[\\\n"]/.test(s) ? escapeString(s).replace(/"/g, '\\"') : s);

/** prom-client's getValueAsString. */
function valueText(v: number): string {
  if (Number.isNaN(v)) return 'Nan';
  if (!Number.isFinite(v)) return v < 0 ? '-Inf' : '+Inf';
  return `${v}`;
}

/** `a="1",b="2"` in the labels' own order, as prom-client's formatLabels. */
function labelText(labels: Record<string, string>): string {
  let out = '';
  for (const name in labels) {
    if (out) out += ',';
    out += `${name}="${escapeLabelValue(labels[name])}"`;
  }
  return out;
}

/** A histogram family's text, written natively; undefined when a count is too large (see histogramText). */
function nativeHistogramBuffer(f: HistogramFamily, layout: ClassicLayout): Buffer | undefined {
  const name = escapeString(f.name);
  const head = `# HELP ${name} ${escapeString(f.help)}\n# TYPE ${name} histogram`;
  const n = f.children.length;
  const per = layout.le.length + 1;
  const slots = new Float64Array(n * per);
  const counts = new Float64Array(n);
  // Escaped label text has no raw newline, nor has a number: '\n' separates children.
  let labels = '';
  let sums = '';
  for (let i = 0; i < n; i++) {
    const c = f.children[i];
    slots.set(c.slots, i * per);
    counts[i] = c.count;
    if (i > 0) {
      labels += '\n';
      sums += '\n';
    }
    labels += labelText(c.labels);
    sums += valueText(c.sumSeconds);
  }
  return writeHistogramFamily(head, f.name, layout.le, labels, slots, counts, sums);
}

/** A histogram family's text (no trailing newline), from its children's classic slots. */
export function histogramText(f: HistogramFamily, layout: ClassicLayout): string {
  const name = escapeString(f.name);
  let out = `# HELP ${name} ${escapeString(f.help)}\n# TYPE ${name} histogram`;
  const le = layout.le.map((b) => `le="${b}"} `);
  const bucket = `\n${f.name}_bucket{`;
  for (const child of f.children) {
    const labels = labelText(child.labels);
    const prefix = labels ? `${bucket}${labels},` : bucket;
    const { slots } = child;
    let running = 0;
    let text = '';
    for (let j = 0; j < le.length; j++) {
      running += slots[j];
      text += prefix + le[j] + valueText(running);
    }
    // +Inf is the child's own count, which equals the last cumulative slot.
    const count = valueText(child.count);
    const braces = labels ? `{${labels}}` : '';
    text += `${prefix}le="+Inf"} ${count}\n${f.name}_sum${braces} ${valueText(child.sumSeconds)}\n${f.name}_count${braces} ${count}`;
    out += text;
  }
  return out;
}

/** A counter or gauge family's text as prom-client writes it (no trailing newline). */
function scalarTextFast(f: ScalarFamily, contentType: string): string {
  // OpenMetrics: the family is named without _total, its samples with it.
  const counterOm = contentType === OPENMETRICS_CONTENT_TYPE && f.type === 'counter';
  const family = escapeString(counterOm ? f.name.replace(/_total$/, '') : f.name);
  const sample = counterOm ? `${family}_total` : family;
  let out = `# HELP ${family} ${escapeString(f.help)}\n# TYPE ${family} ${f.type}`;
  for (const s of f.samples) {
    const labels = labelText(s.labels);
    out += labels ? `\n${sample}{${labels}} ${valueText(s.value)}` : `\n${sample} ${valueText(s.value)}`;
  }
  return out;
}

/** A counter or gauge family's text through prom-client (no trailing newline). */
async function scalarText(f: ScalarFamily, contentType: string): Promise<string> {
  const registry = new Registry<RegistryContentType>();
  registry.setContentType(contentType as RegistryContentType);
  // The object prom-client's Registry reads; `name` may be rewritten by it
  // (OpenMetrics drops a counter's _total from the family name).
  const metric = {
    name: f.name,
    help: f.help,
    type: f.type,
    get: async () => ({ name: metric.name, help: f.help, type: f.type, values: f.samples, aggregator: 'sum' }),
  };
  registry.registerMetric(metric as unknown as Metric);
  const text = await registry.metrics();
  const trailer = contentType === OPENMETRICS_CONTENT_TYPE ? '\n# EOF\n' : '\n';
  return text.endsWith(trailer) ? text.slice(0, -trailer.length) : text;
}

/** One scrape's exposition: the concatenation of `chunks` (not copied into one Buffer). */
export interface Exposition {
  chunks: Buffer[];
  length: number;
  /** The chunks written natively, which releaseExposition() can free at once. */
  native?: Buffer[];
}

/**
 * Frees the natively written chunks of a text that nothing will send any
 * more (they read as empty afterwards): ~1,700 bytes per histogram that
 * would otherwise wait for a garbage collection, a few renders' worth.
 */
export function releaseExposition(body: Exposition): void {
  if (body.native?.length) releaseHistogramFamilies(body.native);
  body.chunks = [];
  body.native = [];
  body.length = 0;
}

/** The whole exposition for one scrape. */
export async function renderExposition(
  families: MetricFamily[],
  layout: ClassicLayout,
  contentType: string,
  /** Awaited before each histogram family (lets the event loop run between them). */
  between?: () => Promise<void>,
): Promise<Exposition> {
  const openMetrics = contentType === OPENMETRICS_CONTENT_TYPE;
  // prom-client's layout: families joined by a blank line (text) or a newline
  // (OpenMetrics), then a newline (text) or `# EOF` (OpenMetrics).
  const separator = openMetrics ? '\n' : '\n\n';
  const chunks: Buffer[] = [];
  const native: Buffer[] = [];
  // Small texts are gathered into one chunk; the histogram families are chunks of their own.
  let text = '';
  for (let i = 0; i < families.length; i++) {
    const f = families[i];
    if (i > 0) text += separator;
    if (f.type === 'histogram') {
      if (text) chunks.push(Buffer.from(text));
      text = '';
      if (between) await between();
      const written = nativeHistogramBuffer(f, layout);
      if (written) native.push(written);
      chunks.push(written ?? Buffer.from(histogramText(f, layout)));
    } else {
      text += f.name.startsWith('kvm_') ? scalarTextFast(f, contentType) : await scalarText(f, contentType);
    }
  }
  chunks.push(Buffer.from(text + (openMetrics ? '\n# EOF\n' : '\n')));
  return { chunks, length: chunks.reduce((n, c) => n + c.length, 0), native };
}

/** A histogram family's part of a render spec, kept while the family object is reused (scraper.ts' plan). */
interface FamilySpec {
  family: RenderSpec['families'][number];
  /** Snapshot row -> child index, for the rows in the family. */
  rowIndex: Int32Array;
  childIndex: Int32Array;
}
const familySpecs = new WeakMap<HistogramFamily, FamilySpec>();

function familySpec(f: HistogramFamily): FamilySpec {
  let fs = familySpecs.get(f);
  if (fs) return fs;
  const name = escapeString(f.name);
  let labels = '';
  let n = 0;
  for (const child of f.children) n += child.rows.length;
  const rowIndex = new Int32Array(n);
  const childIndex = new Int32Array(n);
  let k = 0;
  for (let c = 0; c < f.children.length; c++) {
    const child = f.children[c];
    if (c > 0) labels += '\n';
    labels += labelText(child.labels);
    for (const row of child.rows) {
      rowIndex[k] = row;
      childIndex[k++] = c;
    }
  }
  fs = {
    family: { head: `# HELP ${name} ${escapeString(f.help)}\n# TYPE ${name} histogram`, name: f.name, labels, children: f.children.length },
    rowIndex,
    childIndex,
  };
  familySpecs.set(f, fs);
  return fs;
}

/**
 * What the native render (session.render) needs to write the same text as
 * renderExposition: the histogram families' heads and children's label text,
 * which child each snapshot row goes to, and the other families' text
 * between them. `families` were built from the snapshot whose `rows` these
 * are (the children's `rows` index it); their slots are not used.
 */
export async function renderSpec(
  families: MetricFamily[],
  layout: ClassicLayout,
  contentType: string,
  rows: StatColumns,
): Promise<Omit<RenderSpec, 'gzip' | 'text'>> {
  const openMetrics = contentType === OPENMETRICS_CONTENT_TYPE;
  const separator = openMetrics ? '\n' : '\n\n';
  const rowFamily = new Int32Array(rows.length).fill(-1);
  const rowChild = new Int32Array(rows.length);
  const histograms: RenderSpec['families'] = [];
  const parts: (string | number)[] = [];
  let text = '';
  for (let i = 0; i < families.length; i++) {
    const f = families[i];
    if (i > 0) text += separator;
    if (f.type === 'histogram') {
      if (text) parts.push(text);
      text = '';
      const at = histograms.length;
      const fs = familySpec(f);
      for (let k = 0; k < fs.rowIndex.length; k++) {
        rowFamily[fs.rowIndex[k]] = at;
        rowChild[fs.rowIndex[k]] = fs.childIndex[k];
      }
      histograms.push(fs.family);
      parts.push(at);
    } else {
      text += f.name.startsWith('kvm_') ? scalarTextFast(f, contentType) : await scalarText(f, contentType);
    }
  }
  parts.push(text + (openMetrics ? '\n# EOF\n' : '\n'));
  return { boundsNs: layout.boundsNs, le: layout.le, rows, rowFamily, rowChild, families: histograms, parts };
}

/** The exposition prom-client itself would write for these families (reference for tests). */
export async function renderWithPromClient(families: MetricFamily[], layout: ClassicLayout, contentType: string): Promise<string> {
  const registry = new Registry<RegistryContentType>();
  registry.setContentType(contentType as RegistryContentType);
  for (const f of families) {
    const values =
      f.type === 'histogram'
        ? f.children.flatMap((child) => {
            let running = 0;
            const out: { metricName: string; labels: Record<string, string>; value: number }[] = layout.le.map((le, j) => {
              running += child.slots[j];
              return { metricName: `${f.name}_bucket`, labels: { ...child.labels, le }, value: running };
            });
            out.push({ metricName: `${f.name}_bucket`, labels: { ...child.labels, le: '+Inf' }, value: child.count });
            out.push({ metricName: `${f.name}_sum`, labels: child.labels, value: child.sumSeconds });
            out.push({ metricName: `${f.name}_count`, labels: child.labels, value: child.count });
            return out;
          })
        : f.samples;
    const metric = { name: f.name, help: f.help, type: f.type, get: async () => ({ name: metric.name, help: f.help, type: f.type, values, aggregator: 'sum' }) };
    registry.registerMetric(metric as unknown as Metric);
  }
  return registry.metrics();
}

/**
 * gzip for scrapers that accept it, on libuv's thread pool (the event loop
 * keeps serving meanwhile). Level 1: the text repeats itself, so it still
 * shrinks ~16 times, and higher levels cost 3-5 times the time for ~15 %
 * less. (A pigz-style parallel deflate was tried: on this 2-core machine
 * under load it gained nothing and needs a CRC pass on the main thread.)
 */
export function gzipExposition(body: Exposition): Promise<Buffer> {
  if (body.chunks.length === 1) return gzipAsync(body.chunks[0], { level: 1, memLevel: 9 });
  // A stream takes the chunks as they are (no 20 MB concatenation first).
  return new Promise((resolve, reject) => {
    const z = createGzip({ level: 1, memLevel: 9, chunkSize: 1 << 20 });
    const out: Buffer[] = [];
    z.on('data', (c: Buffer) => out.push(c));
    z.on('end', () => resolve(Buffer.concat(out)));
    z.on('error', reject);
    for (const c of body.chunks) z.write(c);
    z.end();
  });
}
