// Typed facade over the addon's profiling entry points (kvmlens record /
// top). Loads the binding through native.ts like every other caller.
import type { ProfileResult } from '../profile/native-profile.ts';
import { loadBinding } from './native.ts';

export interface ProfileRecordOptions {
  output: string;
  /** Every task on every CPU (default); otherwise `tids`. */
  systemWide?: boolean;
  /** Threads to sample when not system-wide (their new children inherit). */
  tids?: number[];
  /** Processes whose existing maps and names are synthesized from /proc (not system-wide). */
  synthPids?: number[];
  /** Samples per second (perf -F); ignored when `period` is set. */
  freq?: number;
  /** Fixed sample period (perf -c). */
  period?: number;
  excludeHost?: boolean;
  excludeGuest?: boolean;
  /** The events start at the targets' next exec (a command gated before exec). */
  enableOnExec?: boolean;
  mmapPages?: string;
  cmdline?: string[];
  guestmount?: string;
  guestkallsyms?: string;
  guestmodules?: string;
  guestvmlinux?: string;
  /** false: cpu-clock without trying cycles first. */
  hardware?: boolean;
  /** perf's -e strings (each may be comma separated); unset: cycles, else cpu-clock. */
  events?: string[];
  /** -F was given: tracepoints sample at that rate too (else every hit). */
  freqGiven?: boolean;
  /** perf record -g: PERF_SAMPLE_CALLCHAIN (frame pointers). */
  callchain?: boolean;
  /** Add the hit DSOs to this build-id cache (perf's $HOME/.debug); unset: none. */
  buildidDir?: string;
}

export interface ProfileRecordResult {
  samples: number;
  lost: number;
  bytes: number;
  /** HEADER_BUILD_ID as written: one entry per hit DSO with a build-id. */
  buildIds: { buildId: string; name: string }[];
  /** Hit DSOs without a readable build-id, and the like. */
  warnings: string[];
  /** Build-id cache entries that could not be added. */
  cacheProblems: string[];
}

export interface ProfileRecorder {
  stop(): Promise<ProfileRecordResult>;
  readonly running: boolean;
  /** "cycles", or "cpu-clock" where there is no hardware PMU (with ":G" for guest only). */
  readonly eventName: string;
  /** Said once at start: the cpu-clock fallback, hidden kernel addresses. */
  readonly setupWarnings: string[];
}

interface ProfileBinding {
  startProfileRecord(options: ProfileRecordOptions): ProfileRecorder;
}

/** Starts sampling into a perf.data file that perf report reads. */
export function startProfileRecord(options: ProfileRecordOptions): ProfileRecorder {
  // Setup errors already name the file or the event they concern.
  return (loadBinding() as unknown as ProfileBinding).startProfileRecord(options);
}

export interface ProfileLiveOptions extends Omit<ProfileRecordOptions, 'output' | 'cmdline'> {
  /** Resolve host samples (perf's perf_host); guest samples (perf_guest). */
  host?: boolean;
  guest?: boolean;
  kallsyms?: string;
  vmlinux?: string;
}

/** `top`'s source: the record sampler feeding report's native aggregator. */
export interface LiveProfile {
  /** The counts since the last reset, resolved; `reset` starts the next interval. */
  snapshot(reset: boolean): ProfileResult;
  stop(): Promise<void>;
  readonly running: boolean;
  readonly eventName: string;
  readonly setupWarnings: string[];
}

interface LiveBinding {
  startProfileLive(options: ProfileLiveOptions): LiveProfile;
}

export function startProfileLive(options: ProfileLiveOptions): LiveProfile {
  return (loadBinding() as unknown as LiveBinding).startProfileLive(options);
}
