// Opt-in labels for high-cardinality keys (I/O port, guest physical address,
// MSR index). At most N distinct values get a label of their own; the rest
// share the value "other". Membership is sticky: a key once admitted keeps
// its series for the exporter's lifetime, so neither it nor "other" ever
// goes backwards (a counter reset would confuse rate()).

export const OTHER_KEY = 'other';

export class StickyTopKeys {
  private readonly admitted = new Set<bigint>();

  constructor(readonly limit: number) {}

  /**
   * Admits unseen keys, busiest first, while there is room; call once per
   * scrape with every key of the snapshot and its event count.
   */
  update(counts: Map<bigint, number>) {
    if (this.admitted.size >= this.limit) return;
    const fresh = [...counts].filter(([k]) => !this.admitted.has(k)).sort((a, b) => b[1] - a[1]);
    for (const [k] of fresh) {
      if (this.admitted.size >= this.limit) break;
      this.admitted.add(k);
    }
  }

  label(key: bigint): string {
    return this.admitted.has(key) ? `0x${key.toString(16)}` : OTHER_KEY;
  }
}
