// Native log-linear buckets -> an OTLP base-2 exponential histogram (in
// seconds). Exponential bucket i at scale s covers (2^(i/2^s), 2^((i+1)/2^s)].
//
// The two layouts cannot line up exactly: native edges are 2^k·(1 + j/64) ns,
// exponential edges are irrational powers of two, and seconds are not a
// power-of-two multiple of nanoseconds. Each native bucket's count goes to
// the exponential bucket holding its midpoint. At scale <= 5 an exponential
// bucket (>= 2.2 % wide) is at least as wide as a native bucket (<= 1.6 %),
// so every count lands in the exponential bucket its events belong to or in
// a neighbour: off by at most one bucket. count, sum, min and max are exact.
// If the populated range needs more than `maxBuckets`, the scale is lowered
// (halving resolution each step) as the OpenTelemetry SDK does.
import type { NativeBuckets } from './classic.ts';

export interface ExponentialBuckets {
  scale: number;
  zeroCount: number;
  offset: number;
  bucketCounts: number[];
}

function indexAt(valueSeconds: number, scale: number): number {
  return Math.ceil(Math.log2(valueSeconds) * 2 ** scale) - 1;
}

/** Exponential histogram of the given snapshot rows' native buckets merged. */
export function exponentialFromNative(
  native: NativeBuckets,
  rows: readonly number[],
  maxScale: number,
  maxBuckets = 160,
): ExponentialBuckets {
  const counts = new Map<number, number>();
  let zeroCount = 0;
  for (const row of rows) {
    for (let k = native.offsets[row]; k < native.offsets[row + 1]; k++) {
      const lower = native.lowerNs[k];
      const upper = native.upperNs[k];
      // Integer durations lower..upper-1: their midpoint.
      const midNs = (lower + upper - 1) / 2;
      if (midNs <= 0) {
        zeroCount += native.count[k];
        continue;
      }
      const idx = indexAt(midNs / 1e9, maxScale);
      counts.set(idx, (counts.get(idx) ?? 0) + native.count[k]);
    }
  }
  let scale = maxScale;
  let indexed = [...counts];
  if (indexed.length === 0) return { scale, zeroCount, offset: 0, bucketCounts: [] };
  const span = () => {
    let lo = Infinity;
    let hi = -Infinity;
    for (const [i] of indexed) {
      lo = Math.min(lo, i);
      hi = Math.max(hi, i);
    }
    return { lo, hi };
  };
  let { lo, hi } = span();
  while (hi - lo + 1 > maxBuckets) {
    // Lowering the scale by one merges index pairs: i -> floor(i / 2).
    scale -= 1;
    const merged = new Map<number, number>();
    for (const [i, c] of indexed) merged.set(Math.floor(i / 2), (merged.get(Math.floor(i / 2)) ?? 0) + c);
    indexed = [...merged];
    ({ lo, hi } = span());
  }
  const bucketCounts = new Array<number>(hi - lo + 1).fill(0);
  for (const [i, c] of indexed) bucketCounts[i - lo] += c;
  return { scale, zeroCount, offset: lo, bucketCounts };
}
