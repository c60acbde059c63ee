// Classic and exponential buckets derived from the native log-linear
// buckets: properties on synthetic durations (with the native layout
// modelled here) and on a real recording's snapshot.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { analyzeFile } from '../src/core/native.ts';
import { addRowToSlots, classicLayout, cumulative, type NativeBuckets } from '../src/exporter/buckets/classic.ts';
import { exponentialFromNative } from '../src/exporter/buckets/exponential.ts';
import {
  DEFAULT_CLASSIC_BOUNDS_SECONDS,
  isNativeBoundary,
  nativeBoundaryAtOrBelow,
  secondsToNs,
} from '../src/exporter/buckets/native-boundaries.ts';

// native/src/stats/histogram.cc: v < 64 exact; else 64 buckets per power of two.
function nativeBucket(v: number): [number, number] {
  if (v < 64) return [v, v + 1];
  const h = Math.floor(Math.log2(v));
  const width = 2 ** (h - 6);
  const lower = Math.floor(v / width) * width;
  return [lower, lower + width];
}

/** Native buckets of one row holding `durations`, ascending as the addon returns them. */
function nativeOf(durations: number[]): NativeBuckets {
  const m = new Map<number, [number, number, number]>();
  for (const d of durations) {
    const [lo, up] = nativeBucket(d);
    const e = m.get(lo) ?? [lo, up, 0];
    e[2]++;
    m.set(lo, e);
  }
  const sorted = [...m.values()].sort((a, b) => a[0] - b[0]);
  return {
    offsets: Uint32Array.from([0, sorted.length]),
    lowerNs: Float64Array.from(sorted, (e) => e[0]),
    upperNs: Float64Array.from(sorted, (e) => e[1]),
    count: Float64Array.from(sorted, (e) => e[2]),
  };
}

function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Heavy-tailed durations from 0 ns to ~30 s, plus every edge of the default bounds. */
function durations(seed: number, n: number): number[] {
  const r = rng(seed);
  const out = Array.from({ length: n }, () => Math.floor(2 ** (r() * 35)) - 1);
  for (const s of DEFAULT_CLASSIC_BOUNDS_SECONDS) {
    const b = secondsToNs(s);
    out.push(b - 1, b, b + 1);
  }
  return out;
}

test('native boundary arithmetic matches the layout', () => {
  for (const v of [0, 1, 63, 64, 65, 127, 128, 1000, 1023, 1024, 1040, 999_999, 2 ** 33]) {
    const [lo, up] = nativeBucket(v);
    assert.ok(isNativeBoundary(lo) && isNativeBoundary(up), `edges of ${v}'s bucket`);
    assert.is(nativeBoundaryAtOrBelow(v), lo, `boundary at or below ${v}`);
  }
  assert.not.ok(isNativeBoundary(1_000_000), '1 ms is not a native edge');
  assert.is(nativeBoundaryAtOrBelow(1_000_000), 999_424);
  for (const s of DEFAULT_CLASSIC_BOUNDS_SECONDS) assert.ok(isNativeBoundary(secondsToNs(s)), `default bound ${s}`);
  assert.is(secondsToNs(1.024e-6), 1024);
});

test('classic buckets: +Inf = count, monotonic, exact at native boundaries', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const ds = durations(seed, 5000);
    const native = nativeOf(ds);
    // Default bounds plus random native boundaries and random non-boundaries.
    const r = rng(seed * 7);
    const extraBoundaries = Array.from({ length: 20 }, () => nativeBucket(Math.floor(2 ** (r() * 34)))[0]).filter((b) => b > 0);
    const arbitrary = Array.from({ length: 20 }, () => 1 + Math.floor(2 ** (r() * 34)));
    const boundsNs = [...DEFAULT_CLASSIC_BOUNDS_SECONDS.map(secondsToNs), ...extraBoundaries, ...arbitrary];
    const layout = classicLayout(boundsNs.map((ns) => ns / 1e9), secondsToNs);
    const slots = new Float64Array(layout.boundsNs.length + 1);
    const added = addRowToSlots(native, 0, layout.boundsNs, slots);
    const cum = cumulative(slots);
    assert.is(added, ds.length);
    assert.is(cum[cum.length - 1], ds.length, '+Inf equals _count');
    for (let j = 1; j < cum.length; j++) assert.ok(cum[j] >= cum[j - 1], 'cumulative counts never decrease');
    for (let j = 0; j < layout.boundsNs.length; j++) {
      const b = layout.boundsNs[j];
      const below = ds.filter((d) => d < b).length;
      if (isNativeBoundary(b)) {
        assert.is(cum[j], below, `bound ${b} ns is exact: every duration < ${b} ns`);
      } else {
        // Counted up to the boundary below b: never more than the truth, never
        // less than what lies below that boundary.
        const floor = nativeBoundaryAtOrBelow(b);
        assert.is(cum[j], ds.filter((d) => d < floor).length, `bound ${b} ns counts below ${floor} ns`);
        assert.ok(cum[j] <= below);
      }
    }
  }
});

test('classic layout rejects nonsense and dedupes', () => {
  assert.throws(() => classicLayout([], secondsToNs), /at least one/);
  assert.throws(() => classicLayout([0.1, -1], secondsToNs), /positive/);
  assert.equal(classicLayout([0.5, 0.1, 0.5], secondsToNs).boundsSeconds, [0.1, 0.5]);
});

test('exponential buckets: counts preserved, each native bucket within one bucket of its events', () => {
  for (const scale of [5, 3, 0, -2]) {
    const ds = durations(11 + scale, 3000).filter((d) => d > 0);
    const native = nativeOf([...ds, 0, 0]);
    const e = exponentialFromNative(native, [0], scale, 10_000);
    assert.is(e.scale, scale);
    assert.is(e.zeroCount, 2);
    assert.is(e.bucketCounts.reduce((a, b) => a + b, 0), ds.length);
    // Per native bucket: the true exponential index of each of its events vs where its count went.
    const idx = (sec: number) => Math.ceil(Math.log2(sec) * 2 ** scale) - 1;
    for (let k = 0; k < native.count.length; k++) {
      if (native.lowerNs[k] === 0) continue;
      const placed = idx((native.lowerNs[k] + native.upperNs[k] - 1) / 2 / 1e9);
      for (const v of [native.lowerNs[k], native.upperNs[k] - 1]) {
        assert.ok(Math.abs(idx(v / 1e9) - placed) <= 1, `scale ${scale}: native [${native.lowerNs[k]}, ${native.upperNs[k]}) at ${placed}`);
      }
    }
  }
});

test('exponential buckets: the scale drops until the range fits', () => {
  const native = nativeOf([1, 1000, 1_000_000, 1_000_000_000]);
  const e = exponentialFromNative(native, [0], 5, 160);
  assert.ok(e.bucketCounts.length <= 160);
  assert.ok(e.scale < 5);
  assert.is(e.bucketCounts.reduce((a, b) => a + b, 0), 4);
});

test('a real recording: every row converts with +Inf = count and _sum from the native sum', async () => {
  const session = await analyzeFile('test/fixtures/kvm-intel-sample.data');
  const rows = session.query({ analysis: 'all', groupBy: 'vcpu', buckets: true });
  const layout = classicLayout(DEFAULT_CLASSIC_BOUNDS_SECONDS, secondsToNs);
  assert.ok(rows.length > 0 && rows.buckets);
  for (let i = 0; i < rows.length; i++) {
    const slots = new Float64Array(layout.boundsNs.length + 1);
    addRowToSlots(rows.buckets!, i, layout.boundsNs, slots);
    const cum = cumulative(slots);
    assert.is(cum[cum.length - 1], rows.count[i], `row ${i} (${rows.name[i]}): +Inf = count`);
    // Buckets come in ascending order and stay within min..max.
    const { offsets, lowerNs, upperNs } = rows.buckets!;
    for (let k = offsets[i]; k < offsets[i + 1]; k++) {
      if (k > offsets[i]) assert.ok(lowerNs[k] >= upperNs[k - 1]);
      assert.ok(lowerNs[k] <= rows.maxNs[i] && upperNs[k] > rows.minNs[i]);
    }
  }
});

test.run();
