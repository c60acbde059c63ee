// A per-scrape cap on label sets across all collectors. Collectors hand in
// their children busiest first, so what is cut is the long tail; each cut is
// added to a counter that outlives the scrape (kvmlens_series_dropped_total),
// so an alert can see that the limit bites.

export class SeriesDropCounter {
  private readonly totals = new Map<string, number>();

  add(collector: string, n: number) {
    this.totals.set(collector, (this.totals.get(collector) ?? 0) + n);
  }

  /** Every collector that ever dropped, plus the ones named (so the series exist at 0). */
  entries(collectors: readonly string[]): [string, number][] {
    const names = new Set([...collectors, ...this.totals.keys()]);
    return [...names].sort().map((c) => [c, this.totals.get(c) ?? 0]);
  }
}

export class SeriesBudget {
  private left: number;
  /** Whether admit() left anything out in this scrape. */
  cut = false;

  constructor(
    readonly limit: number,
    private readonly drops?: SeriesDropCounter,
  ) {
    this.left = limit > 0 ? limit : Infinity;
  }

  /** Keeps as many of `items` (busiest first by `weight`) as the budget allows. */
  admit<T>(collector: string, items: T[], weight: (item: T) => number): T[] {
    if (items.length <= this.left) {
      this.left -= items.length;
      return items;
    }
    this.cut = true;
    const kept = [...items].sort((a, b) => weight(b) - weight(a)).slice(0, Math.max(0, this.left));
    this.drops?.add(collector, items.length - kept.length);
    this.left -= kept.length;
    return kept;
  }
}
