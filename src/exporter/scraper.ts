// One scrape: one native snapshot, then every enabled collector builds its
// families from it. Nothing is kept between scrapes except sticky label
// state, drop counters and the VM directory's cache.
import { performance } from 'node:perf_hooks';
import type { ClassicLayout } from './buckets/classic.ts';
import type { Collector, ScrapeContext } from './collectors/collector.ts';
import { selfFamilies, type CollectorRun } from './collectors/self.ts';
import type { MetricFamily } from './families.ts';
import { SeriesBudget, SeriesDropCounter } from './series-budget.ts';
import type { Snapshot, SnapshotSource } from './source.ts';
import type { VmDirectory } from './vm-info/directory.ts';

export interface ScraperOptions {
  collectors: Collector[];
  layout: ClassicLayout;
  seriesLimit: number;
  vms: VmDirectory;
  /** Reports a collector's failure (once per collector until it recovers). */
  onCollectorError?: (collector: string, err: unknown) => void;
}

export interface Gathered {
  families: MetricFamily[];
  snap: Snapshot;
}

/** The plannable collectors' families of the last plan, and what they were made from. */
interface PlanMemo {
  rows: Snapshot['rows'];
  exported: Uint8Array;
  vmsVersion: number;
  families: Map<string, MetricFamily[]>;
}

/** Whether two snapshots have the same rows (identity columns), byte for byte. */
function sameRows(a: Snapshot['rows'], b: Snapshot['rows']): boolean {
  if (a.length !== b.length) return false;
  const bytes = (v: ArrayBufferView) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return (
    bytes(a.analysis).equals(bytes(b.analysis)) &&
    bytes(a.pid).equals(bytes(b.pid)) &&
    bytes(a.vcpu).equals(bytes(b.vcpu)) &&
    bytes(a.key).equals(bytes(b.key)) &&
    bytes(a.info).equals(bytes(b.info))
  );
}

export class Scraper {
  readonly drops = new SeriesDropCounter();
  private readonly failing = new Set<string>();
  private memo?: PlanMemo;
  /** Plans that reused the plannable collectors' families / that built them (for tests and the bench). */
  readonly planStats = { reused: 0, built: 0 };

  constructor(
    readonly source: SnapshotSource,
    readonly opts: ScraperOptions,
  ) {}

  /**
   * Builds every family from one fresh snapshot. `countDrops` is false for
   * OTLP pushes, so series cut there are not counted twice; `nativeBuckets`
   * (OTLP's exponential histograms) adds the native buckets to the snapshot.
   */
  gather(countDrops = true, nativeBuckets = !countDrops): Gathered {
    const steps = this.steps(countDrops, nativeBuckets, true);
    for (;;) {
      const r = steps.next();
      if (r.done) return r.value;
    }
  }

  /**
   * gather(), letting the event loop run between the snapshot and each
   * collector (so a scrape served from a kept render is not held up for a
   * whole render). `slots` false: the snapshot has no classic slots and the
   * children's slots stay empty -- the plan for the native render, which
   * sums the slots itself (the children's counts and sums are this
   * snapshot's, used only to order children under the series limit).
   */
  async gatherAsync(countDrops = true, nativeBuckets = !countDrops, slots = true): Promise<Gathered> {
    const steps = this.steps(countDrops, nativeBuckets, slots);
    for (;;) {
      const r = steps.next();
      if (r.done) return r.value;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private *steps(countDrops: boolean, nativeBuckets: boolean, slots: boolean): Generator<void, Gathered> {
    const started = performance.now();
    const snap = this.source.snapshot({ classicBoundsNs: slots ? this.opts.layout.boundsNs : undefined, buckets: nativeBuckets });
    const ctx = this.context(snap, countDrops);
    const families: MetricFamily[] = [];
    const runs: CollectorRun[] = [];
    // A plan (no slots) may reuse the plannable collectors' families of the
    // last plan while the rows, the exported ones and the VMs' identities are
    // the same and the series limit cut nothing: their children, labels and
    // rows are then the same (the native render sums the values afresh).
    const memo = this.memo;
    const reuse =
      !slots &&
      !nativeBuckets &&
      memo !== undefined &&
      memo.vmsVersion === this.opts.vms.version &&
      sameRows(memo.rows, snap.rows) &&
      Buffer.from(memo.exported).equals(Buffer.from(ctx.exported));
    const made = new Map<string, MetricFamily[]>();
    for (const c of this.opts.collectors) {
      yield;
      const t0 = performance.now();
      let success = true;
      try {
        const kept = reuse && c.plannable ? memo.families.get(c.name) : undefined;
        let out: MetricFamily[];
        if (kept) {
          out = kept;
          // Spend the budget as the collector would (it fits: it did with the same rows).
          for (const f of kept) if (f.type === 'histogram') ctx.budget.admit(c.name, f.children, (x) => x.count);
        } else {
          out = c.collect(ctx);
        }
        if (c.plannable) made.set(c.name, out);
        families.push(...out);
        this.failing.delete(c.name);
      } catch (err) {
        success = false;
        if (!this.failing.has(c.name)) this.opts.onCollectorError?.(c.name, err);
        this.failing.add(c.name);
      }
      runs.push({ name: c.name, seconds: (performance.now() - t0) / 1e3, success });
    }
    if (!slots && !nativeBuckets) {
      if (reuse) this.planStats.reused++;
      else this.planStats.built++;
      const complete = runs.every((r) => r.success);
      this.memo = !ctx.budget.cut && complete
        ? { rows: snap.rows, exported: ctx.exported, vmsVersion: this.opts.vms.version, families: made }
        : undefined;
    }
    families.push(
      ...selfFamilies({
        snap,
        sourceKind: this.source.kind,
        drops: this.drops,
        seriesLimit: this.opts.seriesLimit,
        runs,
        scrapeSeconds: (performance.now() - started) / 1e3,
      }),
    );
    return { families, snap };
  }

  private context(snap: Snapshot, countDrops: boolean): ScrapeContext {
    const { rows } = snap;
    const pids = new Set<number>(rows.pid);
    this.opts.vms.refresh(pids);
    const expired = new Set([...pids].filter((p) => this.opts.vms.expired(p)));
    const exported = new Uint8Array(rows.length);
    for (let i = 0; i < rows.length; i++) exported[i] = expired.has(rows.pid[i]) ? 0 : 1;
    // Their series are gone from now on: free the native rows too, so memory
    // stays bounded while VMs come and go (a reused pid starts afresh).
    if (expired.size > 0) this.source.forget([...expired]);
    return {
      snap,
      vms: this.opts.vms,
      layout: this.opts.layout,
      budget: new SeriesBudget(this.opts.seriesLimit, countDrops ? this.drops : undefined),
      exported,
    };
  }
}
