// The only module that touches the addon. Everything else imports the typed
// facade below; the raw binding stays private to this file.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KvmlensError } from './errors.ts';

export type AnalysisName = 'vmexit' | 'mmio' | 'ioport' | 'msr';
export const ANALYSES: readonly AnalysisName[] = ['vmexit', 'mmio', 'ioport', 'msr'];

export interface RecordingInfo {
  source: string;
  pipe: boolean;
  cpuid: string;
  arch: string;
  hostname: string;
  osrelease: string;
  perfVersion: string;
  nrCpusOnline: number;
  cmdline: string[];
  isa: string;
  hasKvmEvents: boolean;
  events: string[];
  dataError?: { message: string; offset?: number };
}

export interface ReadStats {
  records: number;
  samples: number;
  lost: number;
  finishedRounds: number;
  unordered: number;
  bytes: number;
  kvmEvents: number;
  unpaired: number;
}

export interface StatQuery {
  analysis?: AnalysisName | 'all';
  vcpu?: number;
  pids?: number[];
  groupBy?: 'key' | 'vm' | 'vcpu';
  buckets?: boolean;
  /** false: skip mean, stddev and percentiles (NaN) -- the exporter's cheap snapshot. Default true. */
  stats?: boolean;
  /** Classic `le` bounds in ns (strictly increasing): adds `classic`, bounds + 1 slots per row. */
  classicBoundsNs?: Float64Array;
}

/** Columns of one query: row i is the i-th element of every array. */
export interface StatColumns {
  length: number;
  analysis: Uint8Array;
  pid: Int32Array;
  vcpu: Float64Array;
  key: BigUint64Array;
  info: Uint32Array;
  name: string[];
  known: Uint8Array;
  count: Float64Array;
  sumNs: Float64Array;
  minNs: Float64Array;
  maxNs: Float64Array;
  meanNs: Float64Array;
  stddevNs: Float64Array;
  relStddevPct: Float64Array;
  longCount: Float64Array;
  p50Ns: Float64Array;
  p90Ns: Float64Array;
  p99Ns: Float64Array;
  p999Ns: Float64Array;
  buckets?: { offsets: Uint32Array; lowerNs: Float64Array; upperNs: Float64Array; count: Float64Array };
  /**
   * With classicBoundsNs: row i's slots are classic[i*S .. i*S+S-1], S = bounds + 1, not
   * cumulative; slot j counts the native buckets whose upper edge is <= bound j (the
   * first bound >= that edge), the last slot those above every bound.
   */
  classic?: Float64Array;
}

/**
 * The exporter's render on libuv's thread pool (native/src/addon/render_worker.cc):
 * a fresh snapshot's rows summed into the children planned from an earlier
 * snapshot's rows (`rows`, `rowFamily[i]`/`rowChild[i]`, -1 = not exported),
 * then `parts` written in order (a string as it is, a number as that histogram
 * family's text) and gzipped as it is written.
 */
export interface RenderSpec {
  boundsNs: Float64Array;
  /** `le` label text per bound. */
  le: readonly string[];
  rows: Pick<StatColumns, 'analysis' | 'pid' | 'vcpu' | 'key' | 'info'>;
  rowFamily: Int32Array;
  rowChild: Int32Array;
  /** head: "# HELP ...\n# TYPE ... histogram"; labels: per child escaped label text, joined by '\n'. */
  families: { head: string; name: string; labels: string; children: number }[];
  parts: (string | number)[];
  gzip: boolean;
  /** Also (or, without gzip, only) the plain text. */
  text: boolean;
}

export interface RenderResult {
  gzip?: Buffer;
  text?: Buffer;
  textBytes: number;
  /** Rows of the render's own snapshot, and those the plan did not know (new since it). */
  rows: number;
  unplannedRows: number;
  /** Time the render took on its thread: in all, its snapshot (under the session's lock), summing into the children. */
  seconds: number;
  snapshotSeconds: number;
  sumSeconds: number;
}

export interface NativeSession {
  info(): RecordingInfo;
  readStats(): ReadStats;
  query(q?: StatQuery): StatColumns;
  render(spec: RenderSpec): Promise<RenderResult>;
  /** Drops the rows and threads of these processes (exited VMs). */
  forgetPids(pids: number[]): void;
}

/** Pairs slower than the long-event threshold, oldest first (stat live --duration). */
export interface LongEvents {
  length: number;
  time: BigUint64Array;
  pid: Int32Array;
  vcpu: Uint32Array;
  durationNs: Float64Array;
  /** Index into ANALYSES. */
  analysis: Uint8Array;
  name: string[];
  /** Long events not kept because JS did not fetch them in time. */
  dropped: number;
}

/** A session that a native thread keeps filling (replay or live capture). */
export interface LiveSession extends NativeSession {
  /** stat live: statistics are per interval; thread pairing state is kept. */
  resetStats(): void;
  takeLongEvents(): LongEvents;
  stop(): Promise<void>;
  readonly running: boolean;
  lostPerCpu(): Float64Array;
  /** Why the source stopped early, if it did. */
  sourceError(): string | undefined;
}

export interface AnalyzerOptions {
  /** Pairs longer than this (other than HLT) count as long exits; 0 = off. */
  longThresholdNs?: number;
  /**
   * false: the rows keep count, sum, min, max and buckets but not perf's running mean and
   * variance (cheaper per event); query() then reports meanNs, stddevNs and relStddevPct as 0.
   * For the exporter, whose outputs use none of them. Default true.
   */
  moments?: boolean;
}

export interface ReplayOptions extends AnalyzerOptions {
  /** 1 = recorded pace, 2 = twice as fast, 0 = as fast as possible. */
  speed?: number;
  loop?: boolean;
}

export interface LiveOptions extends AnalyzerOptions {
  /** Only these processes (their threads, including new ones); default: all CPUs. */
  pids?: number[];
  /** Ring buffer per CPU: pages (power of two) or a size with B/K/M/G, as perf's -m. */
  mmapPages?: string;
}

export interface RecordOptions {
  output: string;
  /** Stored as the file's HEADER_CMDLINE. */
  cmdline?: string[];
  pids?: number[];
  mmapPages?: string;
}

export interface RecordResult {
  samples: number;
  lost: number;
  bytes: number;
}

/** A running `stat record`: ring buffers drained into a perf.data file. */
export interface Recorder {
  stop(): Promise<RecordResult>;
  readonly running: boolean;
}

interface Binding {
  setErrorClass(cls: unknown): void;
  analyzeFile(
    path: string,
    onProgress?: (done: number, total: number) => void,
    options?: AnalyzerOptions,
  ): Promise<NativeSession>;
  startReplay(path: string, options: ReplayOptions): LiveSession;
  startLive(options: LiveOptions): LiveSession;
  startRecord(options: RecordOptions): Recorder;
  recordDurations(keys: Uint32Array, durationsNs: Float64Array, mode?: RecordMode): { ns: number; count: number; sum: number };
  writeHistogramFamily(
    head: string,
    name: string,
    le: readonly string[],
    labels: string,
    slots: Float64Array,
    counts: Float64Array,
    sums: string,
  ): Buffer | undefined;
  releaseHistogramFamilies(buffers: Buffer[]): number;
  jsNumberText(values: Float64Array): string;
  limitMallocArenas(n: number): boolean;
}

let binding: Binding | undefined;

function projectRoot(): string {
  // src/core/native.ts and dist/core/native.js both sit two levels down.
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

export function loadBinding(): Binding {
  if (binding) return binding;
  const candidates = [
    process.env.KVMLENS_ADDON,
    join(projectRoot(), 'build', 'Release', 'kvmlens.node'),
  ].filter((p): p is string => !!p);
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new KvmlensError(
      `native addon not built (looked for ${candidates.join(', ')}): run \`npm install\` or \`npm run build\``,
      'ESETUP',
    );
  }
  const require = createRequire(import.meta.url);
  binding = require(found) as Binding;
  binding.setErrorClass(KvmlensError);
  return binding;
}

/** Reads a perf.data file through the native decoder and analyzer. */
export async function analyzeFile(
  path: string,
  onProgress?: (done: number, total: number) => void,
  options: AnalyzerOptions = {},
): Promise<NativeSession> {
  try {
    return await loadBinding().analyzeFile(path, onProgress, options);
  } catch (err) {
    if (err instanceof KvmlensError) err.file = path;
    throw err;
  }
}

/** Replays a perf.data file through the analyzer at its recorded pace. */
export function startReplay(path: string, options: ReplayOptions = {}): LiveSession {
  try {
    return loadBinding().startReplay(path, options);
  } catch (err) {
    if (err instanceof KvmlensError) err.file = path;
    throw err;
  }
}

/** Live capture of the kvm tracepoints through perf_event_open ring buffers. */
export function startLive(options: LiveOptions = {}): LiveSession {
  return loadBinding().startLive(options);
}

/** Records the kvm tracepoints into a perf.data file that perf can read. */
export function startRecord(options: RecordOptions): Recorder {
  try {
    return loadBinding().startRecord(options);
  } catch (err) {
    if (err instanceof KvmlensError) err.file = options.output;
    throw err;
  }
}

/**
 * The exporter's histogram lines, written natively into one Buffer (see
 * native/src/addon/exposition_writer.cc); undefined when a count is not a
 * whole number below 2^53, for the caller to fall back on JavaScript.
 */
export function writeHistogramFamily(
  head: string,
  name: string,
  le: readonly string[],
  /** Per child `a="1",b="2"` (escaped) or '', joined by '\n'. */
  labels: string,
  slots: Float64Array,
  counts: Float64Array,
  /** Per child _sum as JS prints it, joined by '\n'. */
  sums: string,
): Buffer | undefined {
  return loadBinding().writeHistogramFamily(head, name, le, labels, slots, counts, sums);
}

/** Frees writeHistogramFamily texts now (they read as empty afterwards) and trims the C heap; returns how many were freed. */
export function releaseHistogramFamilies(buffers: Buffer[]): number {
  return loadBinding().releaseHistogramFamilies(buffers);
}

/** Tests only: the values as the native render prints them, joined by '\n'. */
export function jsNumberText(values: Float64Array): string {
  return loadBinding().jsNumberText(values);
}

/** Bench only: native per-event aggregation of in-memory (key, duration) events, timed natively. */
export function recordDurations(
  keys: Uint32Array,
  durationsNs: Float64Array,
  mode: RecordMode = 'batched',
): { ns: number; count: number; sum: number } {
  return loadBinding().recordDurations(keys, durationsNs, mode);
}

/**
 * Bench only: 'batched' is the analyzer's recording (RecordBatch), 'noMoments' the same without
 * perf's running mean and variance (AnalyzerOptions::moments = false), 'oneByOne' record() per event.
 */
export type RecordMode = 'batched' | 'noMoments' | 'oneByOne';

/** At most `n` glibc malloc arenas in this process (unless MALLOC_ARENA_MAX is set): see native/src/addon/malloc_arenas.cc. */
export function limitMallocArenas(n: number): boolean {
  return loadBinding().limitMallocArenas(n);
}
