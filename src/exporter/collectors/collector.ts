// What every collector sees during one scrape, and what it must provide.
// Collectors are pure functions of the snapshot (plus sticky label state):
// they never call into the native core themselves.
import type { ClassicLayout } from '../buckets/classic.ts';
import { addRowToSlots } from '../buckets/classic.ts';
import type { HistogramChild, MetricFamily } from '../families.ts';
import type { SeriesBudget } from '../series-budget.ts';
import type { Snapshot } from '../source.ts';
import type { VmDirectory } from '../vm-info/directory.ts';

/** Analysis codes of the snapshot's `analysis` column. */
export const ANALYSIS_CODE = { vmexit: 0, mmio: 1, ioport: 2, msr: 3 } as const;

export interface ScrapeContext {
  snap: Snapshot;
  vms: VmDirectory;
  layout: ClassicLayout;
  budget: SeriesBudget;
  /** exported[i] = 1 when row i's VM is still exported (not expired). */
  exported: Uint8Array;
}

export interface Collector {
  readonly name: string;
  /**
   * Its families depend only on which rows the snapshot has (their identity:
   * analysis, pid, vcpu, key, info), which are exported, and the series
   * budget -- not on the rows' values (beyond ordering children when the
   * budget cuts). The native render's plan may then reuse them while those
   * stay the same (scraper.ts).
   */
  readonly plannable?: boolean;
  collect(ctx: ScrapeContext): MetricFamily[];
}

/** Merges snapshot row `i` into a histogram child. */
export function addRow(child: HistogramChild, ctx: ScrapeContext, i: number) {
  const rows = ctx.snap.rows;
  const { classic } = rows;
  if (classic) {
    const n = child.slots.length;
    const base = i * n;
    for (let j = 0; j < n; j++) child.slots[j] += classic[base + j];
  } else if (rows.buckets) addRowToSlots(rows.buckets, i, ctx.layout.boundsNs, child.slots);
  child.count += rows.count[i];
  child.sumSeconds += rows.sumNs[i] / 1e9;
  child.minNs = Math.min(child.minNs, rows.minNs[i]);
  child.maxNs = Math.max(child.maxNs, rows.maxNs[i]);
  child.rows.push(i);
}

/** Reason filter from the allow/deny flags: both are anchored regular expressions. */
export function reasonFilter(include?: string, exclude?: string): (reason: string) => boolean {
  // Case-insensitive: VMX spells reasons in capitals (HLT), SVM in lower case (hlt).
  const inc = include ? new RegExp(`^(?:${include})$`, 'i') : undefined;
  const exc = exclude ? new RegExp(`^(?:${exclude})$`, 'i') : undefined;
  return (reason) => (!inc || inc.test(reason)) && !(exc && exc.test(reason));
}
