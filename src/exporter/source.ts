// Where the exporter's numbers come from: a native session that keeps
// aggregating on its own threads (live capture or a replayed perf.data
// file). A scrape takes one snapshot: one query under the native lock.
import {
  startLive,
  startReplay,
  type LiveSession,
  type NativeSession,
  type ReadStats,
  type RenderResult,
  type RenderSpec,
  type StatColumns,
} from '../core/native.ts';

export interface Snapshot {
  /** Every analysis, grouped by (pid, vcpu, key), with native buckets. */
  rows: StatColumns;
  read: ReadStats;
  /** Lost events per CPU when the source knows them (live), else empty. */
  lostPerCpu: Float64Array;
  isa: string;
}

export interface SnapshotSource {
  readonly kind: 'live' | 'replay' | 'session';
  /**
   * Whether the pids in the data are processes of this host: then VM names
   * come from /proc/PID and series of exited VMs expire. Not for replays,
   * whose pids belong to the recording machine.
   */
  readonly hostPids: boolean;
  /**
   * One snapshot. `classicBoundsNs` adds the classic slots per row (rows.classic);
   * `buckets` adds the native buckets (for OTLP's exponential histograms).
   */
  snapshot(opts?: SnapshotOptions): Snapshot;
  /** Renders a scrape natively off the event loop (render_worker.cc), when the source can. */
  render?(spec: RenderSpec): Promise<RenderResult>;
  /** Frees the native rows of VMs that exited (after their series expired). */
  forget(pids: number[]): void;
  /** Why the source stopped early, if it did. */
  failure(): string | undefined;
  stop(): Promise<void>;
}

export interface SnapshotOptions {
  classicBoundsNs?: Float64Array;
  buckets?: boolean;
}

export interface SourceOptions {
  replay?: string;
  speed: number;
  loop: boolean;
  longThresholdNs: number;
  pids?: number[];
  mmapPages?: string;
}

function snapshotOf(session: NativeSession, lostPerCpu: () => Float64Array, opts: SnapshotOptions = { buckets: true }): Snapshot {
  // No percentiles: the exporter does not use them, and without them (and
  // without native buckets) the native side copies no histogram.
  const rows = session.query({
    analysis: 'all',
    groupBy: 'vcpu',
    stats: false,
    buckets: opts.buckets ?? false,
    classicBoundsNs: opts.classicBoundsNs,
  });
  return { rows, read: session.readStats(), lostPerCpu: lostPerCpu(), isa: session.info().isa };
}

function fromLiveSession(session: LiveSession, kind: 'live' | 'replay'): SnapshotSource {
  return {
    kind,
    hostPids: kind === 'live',
    snapshot: (o) => snapshotOf(session, () => session.lostPerCpu(), o),
    render: (spec) => session.render(spec),
    forget: (pids) => session.forgetPids(pids),
    failure: () => session.sourceError(),
    stop: () => session.stop(),
  };
}

/** Opens the native source: a replay of a file, or live capture (needs CAP_PERFMON). */
export function openSource(opts: SourceOptions): SnapshotSource {
  if (opts.replay) {
    const session = startReplay(opts.replay, {
      speed: opts.speed,
      loop: opts.loop,
      longThresholdNs: opts.longThresholdNs,
      moments: false,
    });
    return fromLiveSession(session, 'replay');
  }
  // moments: false: the exporter outputs count, sum, min, max and buckets only.
  const session = startLive({ pids: opts.pids, mmapPages: opts.mmapPages, longThresholdNs: opts.longThresholdNs, moments: false });
  return fromLiveSession(session, 'live');
}

/** A finished session (e.g. from analyzeFile) as a source: for tests and one-shot files. */
export function sessionSource(session: NativeSession, hostPids = false): SnapshotSource {
  return {
    kind: 'session',
    hostPids,
    snapshot: (o) => snapshotOf(session, () => new Float64Array(0), o),
    render: (spec) => session.render(spec),
    forget: (pids) => session.forgetPids(pids),
    failure: () => undefined,
    stop: async () => {},
  };
}
