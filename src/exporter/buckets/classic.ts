// Classic (Prometheus `le`) buckets derived from the native log-linear
// buckets, without approximation: a native bucket is counted in the first
// classic bucket whose bound is >= the native bucket's (exclusive) upper
// edge. So a classic bound B counts the native buckets lying entirely below
// B, i.e. every duration < B ns.
//
// Exactness: when B is a native boundary (isNativeBoundary) no native bucket
// straddles it, and the bucket holds exactly the durations < B. Durations are
// whole nanoseconds, so the only difference to Prometheus' "<= B" is a
// duration of exactly B ns, which is counted one bucket up. When B is not a
// native boundary, the native bucket straddling B is counted above B: the
// bucket under-counts by at most that one native bucket (< 1/64 of an octave,
// about 1.6 %); the exporter warns about such bounds at start-up.

/** Native buckets of one query: row i owns buckets [offsets[i], offsets[i+1]). */
export interface NativeBuckets {
  offsets: Uint32Array;
  lowerNs: Float64Array;
  upperNs: Float64Array;
  count: Float64Array;
}

/** Classic bounds ready for conversion: sorted, in ns, plus their `le` label text. */
export interface ClassicLayout {
  boundsNs: Float64Array;
  boundsSeconds: readonly number[];
  le: readonly string[];
}

export function classicLayout(boundsSeconds: readonly number[], toNs: (s: number) => number): ClassicLayout {
  const sorted = [...new Set(boundsSeconds)].sort((a, b) => a - b);
  if (sorted.length === 0) throw new Error('at least one histogram bucket bound is needed');
  for (const b of sorted) {
    if (!Number.isFinite(b) || b <= 0) throw new Error(`histogram bucket bounds must be positive seconds, got ${b}`);
  }
  return {
    boundsNs: Float64Array.from(sorted, toNs),
    boundsSeconds: sorted,
    le: sorted.map((s) => String(s)),
  };
}

/** Index of the first bound >= upperNs (bounds.length = the +Inf slot). */
function slotOf(boundsNs: Float64Array, upperNs: number): number {
  let lo = 0;
  let hi = boundsNs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (boundsNs[mid] >= upperNs) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * Adds row `row`'s native buckets into `slots` (length bounds + 1, not
 * cumulative: slots[j] counts durations in (bound[j-1], bound[j]], the last
 * slot those above every bound). Returns the number of events added.
 */
export function addRowToSlots(native: NativeBuckets, row: number, boundsNs: Float64Array, slots: Float64Array): number {
  let total = 0;
  const end = native.offsets[row + 1];
  for (let k = native.offsets[row]; k < end; k++) {
    const c = native.count[k];
    slots[slotOf(boundsNs, native.upperNs[k])] += c;
    total += c;
  }
  return total;
}

/** Non-cumulative slots -> cumulative `le` counts; the last element is +Inf (= _count). */
export function cumulative(slots: Float64Array): Float64Array {
  const out = new Float64Array(slots.length);
  let running = 0;
  for (let j = 0; j < slots.length; j++) {
    running += slots[j];
    out[j] = running;
  }
  return out;
}
