// Metric families as the collectors build them at scrape time: plain data,
// turned into Prometheus/OpenMetrics text by exposition.ts and into OTLP by
// otlp/producer.ts, so both outputs show the same series.

export type Labels = Record<string, string>;

export interface HistogramChild {
  labels: Labels;
  /** Non-cumulative classic slots (see buckets/classic.ts), last = above every bound. */
  slots: Float64Array;
  count: number;
  sumSeconds: number;
  minNs: number;
  maxNs: number;
  /** Snapshot rows merged into this child (for the OTLP exponential view). */
  rows: number[];
}

export interface HistogramFamily {
  type: 'histogram';
  name: string;
  help: string;
  children: HistogramChild[];
}

export interface Sample {
  labels: Labels;
  value: number;
}

export interface ScalarFamily {
  type: 'counter' | 'gauge';
  name: string;
  help: string;
  samples: Sample[];
}

export type MetricFamily = HistogramFamily | ScalarFamily;

/** Accumulates snapshot rows into histogram children keyed by their label values. */
export class HistogramBuilder {
  private readonly children = new Map<string, HistogramChild>();
  // Children's slots are views into shared blocks: one ArrayBuffer per 256
  // children instead of one each (a scrape has thousands of children).
  private block = new Float64Array(0);
  private used = 0;

  constructor(private readonly slotCount: number) {}

  /** The child for these labels (created empty on first use). */
  child(labels: Labels): HistogramChild {
    let key = '';
    for (const name in labels) key += `${labels[name]}\u0000`;
    return this.childFor(key, () => labels);
  }

  /**
   * The child whose label values `key` identifies; `labels` is called only
   * when the child is new (collectors key by what determines the labels).
   */
  childFor(key: string, labels: () => Labels): HistogramChild {
    let c = this.children.get(key);
    if (!c) {
      if (this.used + this.slotCount > this.block.length) {
        this.block = new Float64Array(this.slotCount * 256);
        this.used = 0;
      }
      const slots = this.block.subarray(this.used, this.used + this.slotCount);
      this.used += this.slotCount;
      c = {
        labels: labels(),
        slots,
        count: 0,
        sumSeconds: 0,
        minNs: Infinity,
        maxNs: -Infinity,
        rows: [],
      };
      this.children.set(key, c);
    }
    return c;
  }

  build(): HistogramChild[] {
    return [...this.children.values()];
  }
}
