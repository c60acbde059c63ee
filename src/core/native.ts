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
}

export interface NativeSession {
  info(): RecordingInfo;
  readStats(): ReadStats;
  query(q?: StatQuery): StatColumns;
}

interface Binding {
  setErrorClass(cls: unknown): void;
  analyzeFile(path: string, onProgress?: (done: number, total: number) => void): Promise<NativeSession>;
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
): Promise<NativeSession> {
  try {
    return await loadBinding().analyzeFile(path, onProgress);
  } catch (err) {
    if (err instanceof KvmlensError) err.file = path;
    throw err;
  }
}
