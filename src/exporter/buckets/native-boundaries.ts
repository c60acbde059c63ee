// The native histogram's bucket layout (native/src/stats/histogram.cc):
// durations are whole nanoseconds; values below 64 each have their own
// bucket, and every power of two from 64 up is split into 64 equal buckets.
// A bucket is [lowerNs, upperNs): it holds the integers lowerNs..upperNs-1.

const SUB_BUCKET_BITS = 6;
const SUB_BUCKETS = 1 << SUB_BUCKET_BITS;

/** Whether `ns` is the lower edge of some native bucket (so no bucket straddles it). */
export function isNativeBoundary(ns: number): boolean {
  if (!Number.isInteger(ns) || ns < 0) return false;
  if (ns <= SUB_BUCKETS) return true;
  const width = 2 ** (Math.floor(Math.log2(ns)) - SUB_BUCKET_BITS);
  return ns % width === 0;
}

/** The largest native boundary <= ns (what a classic bound at `ns` really counts up to). */
export function nativeBoundaryAtOrBelow(ns: number): number {
  if (ns < SUB_BUCKETS) return Math.max(0, Math.floor(ns));
  const width = 2 ** (Math.floor(Math.log2(ns)) - SUB_BUCKET_BITS);
  return Math.floor(ns / width) * width;
}

/**
 * Default classic bounds: every second power of two of nanoseconds from
 * 2^10 ns (1.024 µs) to 2^34 ns (17.2 s), 13 buckets. Powers of two are
 * native boundaries, so these buckets are exact; factor 4 keeps a
 * per-vCPU, per-reason histogram at 16 series.
 */
export const DEFAULT_CLASSIC_BOUNDS_SECONDS: readonly number[] = Array.from(
  { length: 13 },
  (_, i) => 2 ** (10 + 2 * i) / 1e9,
);

/** Seconds -> nanoseconds, snapping float noise (1.024e-6 * 1e9 = 1024.0000000000001). */
export function secondsToNs(seconds: number): number {
  const ns = seconds * 1e9;
  const rounded = Math.round(ns);
  return Math.abs(ns - rounded) <= 1e-6 * Math.max(1, rounded) ? rounded : ns;
}
