// Typed facade over the addon's profileFile: the per-sample work (maps,
// comms, counting, symbol lookup) happens in C++; what crosses is one set of
// typed-array columns and a string table.
import { KvmlensError } from '../core/errors.ts';
import { loadBinding } from '../core/native.ts';

export interface SymbolSources {
  /** Resolve host samples (perf's perf_host). */
  host?: boolean;
  /** Resolve guest samples (perf's perf_guest). */
  guest?: boolean;
  kallsyms?: string;
  vmlinux?: string;
  guestKallsyms?: string;
  guestModules?: string;
  guestVmlinux?: string;
  guestMount?: string;
  /** Build-id cache directory (default $HOME/.debug). */
  buildidDir?: string;
  /** C++ symbol names demangled, as perf shows them (default true; perf report --no-demangle). */
  demangle?: boolean;
}

export interface ProfileOptions extends SymbolSources {
  /** false: header and build-ids only. */
  samples?: boolean;
  /**
   * perf report's `trace` sort: 'also' counts samples by tracepoint text as
   * well, 'only' that alone, 'auto' that alone when every event of the file
   * is a tracepoint (perf's default sort order for such files).
   */
  trace?: 'also' | 'only' | 'auto';
  /** perf report's children mode for these sort keys (used when the file has call chains). */
  children?: { comm: boolean; dso: boolean; sym: boolean };
}

/** Samples per (event, tracepoint text); "N/A" for samples of other events. */
export interface TraceRows {
  length: number;
  event: Uint32Array;
  text: string[];
  samples: Float64Array;
  period: Float64Array;
  /** Print fmts that could not be read, or tracing data that could not. */
  warnings: string[];
}

export interface ProfileRows {
  length: number;
  event: Uint32Array;
  comm: Uint32Array;
  /** -1: no map ([unknown]). */
  dso: Int32Array;
  /** -1: unresolved (the address is printed). */
  sym: Int32Array;
  /** char code of perf's marker: . k g u H */
  level: Uint8Array;
  symIsObject: Uint8Array;
  addr: BigUint64Array;
  symStart: BigUint64Array;
  samples: Float64Array;
  period: Float64Array;
  /** Sequence number of the row's first sample (perf shows that sample's address). */
  first: Float64Array;
  /** Length of the current comm of the first sample's thread (perf sizes the Command column by it). */
  commWidth: Uint32Array;
  /** With children: the row's entry for the sort keys (index into ProfileResult.children). */
  group?: Uint32Array;
}

export interface ProfileEvent {
  name: string;
  type: number;
  config: number;
  samples: number;
  period: number;
  filteredSamples: number;
  filteredPeriod: number;
}

export interface BuildIdInfo {
  buildId: string;
  filename: string;
  misc: number;
  pid: number;
  hit: boolean;
  /** false: a DSO with samples that the recording's HEADER_BUILD_ID does not list. */
  fromHeader: boolean;
}

export interface ProfileResult {
  strings: string[];
  rows: ProfileRows;
  /**
   * Children mode (asked for, and the file has call chains): per entry
   * (rows.group), the samples and period of the stacks holding it, once each.
   */
  children?: { samples: Float64Array; period: Float64Array };
  events: ProfileEvent[];
  /** Lost events: LOST and LOST_SAMPLES records. */
  lost: number;
  /** LOST_SAMPLES records only: what perf report prints as "Total Lost Samples". */
  lostSamples: number;
  warnings: string[];
  notes: string[];
  buildIds: BuildIdInfo[];
  info: { hostname: string; osrelease: string; perfVersion: string; arch: string; pipe: boolean; cmdline: string[] };
  readStats: { records: number; samples: number; lost: number; bytes: number };
  dataError?: { message: string; offset?: number };
  /** Present when the samples were counted by tracepoint text (options.trace). */
  trace?: TraceRows;
}

interface ProfileBinding {
  profileFile(path: string, options: ProfileOptions, onProgress?: (done: number, total: number) => void): Promise<ProfileResult>;
}

/** Reads a perf.data file and returns its samples aggregated per comm, dso and symbol. */
export async function profileFile(
  path: string,
  options: ProfileOptions = {},
  onProgress?: (done: number, total: number) => void,
): Promise<ProfileResult> {
  const binding = loadBinding() as unknown as ProfileBinding;
  try {
    return await binding.profileFile(path, options, onProgress);
  } catch (err) {
    if (err instanceof KvmlensError) err.file = path;
    throw err;
  }
}
