// Rows of a stat report, in the order and units a report prints them.
// Built from one native query (typed columns); sorting follows perf.
import type { AnalysisName, StatColumns } from '../core/native.ts';

export interface StatRow {
  name: string;
  known: boolean;
  pid: number;          // -1 when merged over VMs
  vcpu: number;         // -1 when merged over vCPUs
  key: bigint;
  info: number;
  count: number;
  sumNs: number;
  minNs: number;
  maxNs: number;
  meanNs: number;       // perf's running (Welford) mean
  stddevNs: number;     // sample standard deviation
  relStddevPct: number;
  longCount: number;
  p50Ns: number;
  p90Ns: number;
  p99Ns: number;
  p999Ns: number;
  buckets?: { lowerNs: number; upperNs: number; count: number }[];
}

export function rowsFromColumns(c: StatColumns): StatRow[] {
  const rows: StatRow[] = [];
  for (let i = 0; i < c.length; i++) {
    const row: StatRow = {
      name: c.name[i],
      known: c.known[i] === 1,
      pid: c.pid[i],
      vcpu: c.vcpu[i],
      key: c.key[i],
      info: c.info[i],
      count: c.count[i],
      sumNs: c.sumNs[i],
      minNs: c.minNs[i],
      maxNs: c.maxNs[i],
      meanNs: c.meanNs[i],
      stddevNs: c.stddevNs[i],
      relStddevPct: c.relStddevPct[i],
      longCount: c.longCount[i],
      p50Ns: c.p50Ns[i],
      p90Ns: c.p90Ns[i],
      p99Ns: c.p99Ns[i],
      p999Ns: c.p999Ns[i],
    };
    if (c.buckets) {
      const { offsets, lowerNs, upperNs, count } = c.buckets;
      row.buckets = [];
      for (let b = offsets[i]; b < offsets[i + 1]; b++) {
        row.buckets.push({ lowerNs: lowerNs[b], upperNs: upperNs[b], count: count[b] });
      }
    }
    rows.push(row);
  }
  return rows;
}

/**
 * Sort keys. perf 6.1 knows `sample` (count) and `time` (mean, truncated to
 * whole ns); newer perf adds ev_name, max_t, min_t, mean_t and makes `time`
 * the total. We follow 6.1 for `time` and accept the rest.
 */
export const SORT_KEYS = ['sample', 'time', 'ev_name', 'name', 'max_t', 'max', 'min_t', 'min', 'mean_t', 'mean', 'total_t', 'total'] as const;
export type SortKey = (typeof SORT_KEYS)[number];

function sortValue(row: StatRow, key: SortKey): number {
  switch (key) {
    case 'sample': return row.count;
    case 'time': case 'mean_t': case 'mean': return Math.trunc(row.meanNs);
    case 'max_t': case 'max': return row.maxNs;
    case 'min_t': case 'min': return row.minNs;
    case 'total_t': case 'total': return row.sumNs;
    default: return 0;
  }
}

/** Largest first, as perf's result tree; ties keep first-seen order. */
export function sortRows(rows: StatRow[], key: SortKey): StatRow[] {
  if (key === 'ev_name' || key === 'name') {
    return [...rows].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
  return [...rows].sort((a, b) => sortValue(b, key) - sortValue(a, key));
}

export const EVENT_TITLES: Record<AnalysisName, string> = {
  vmexit: 'VM-EXIT',
  mmio: 'MMIO Access',
  ioport: 'IO Port Access',
  msr: 'MSR Access',
};
