// LatencyHistogram: perf's statistics bit for bit, percentiles within 1%,
// merge equal to recording into one, bucket bounds that tile u64, counters
// that carry past 2^32 without losing a count, and no allocation on the hot
// path once the storage exists.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <new>
#include <random>
#include <vector>

#include "check.h"
#include "stats/histogram.h"
#include "stats/record_batch.h"

using kvmlens::LatencyHistogram;

// Counts heap allocations, to prove record() does not allocate.
static std::atomic<uint64_t> g_allocations{0};
void* operator new(size_t n) {
  g_allocations++;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

// perf's struct stats with update_stats / stddev_stats / rel_stddev_stats
// (tools/perf/util/stat.c), written out independently.
struct PerfStats {
  double n = 0, mean = 0, M2 = 0;
  uint64_t max = 0, min = ~0ULL;
  void update(uint64_t val) {
    double delta;
    n++;
    delta = val - mean;
    mean += delta / n;
    M2 += delta * (val - mean);
    if (val > max) max = val;
    if (val < min) min = val;
  }
  double stddev() const {
    if (n < 2) return 0.0;
    double variance = M2 / (n - 1);
    double variance_mean = variance / n;
    return std::sqrt(variance_mean);
  }
  double rel(double stddev, double avg) const {
    double pct = 0.0;
    if (avg) pct = 100.0 * stddev / avg;
    return pct;
  }
};

static uint64_t exact_quantile(const std::vector<uint64_t>& sorted, double q) {
  if (q <= 0) return sorted.front();
  if (q >= 1) return sorted.back();
  size_t rank = static_cast<size_t>(std::ceil(q * sorted.size()));
  if (rank == 0) rank = 1;
  return sorted[rank - 1];
}

static bool same_buckets(const LatencyHistogram& a, const LatencyHistogram& b) {
  std::vector<LatencyHistogram::Bucket> x, y;
  a.buckets(&x);
  b.buckets(&y);
  if (x.size() != y.size()) return false;
  for (size_t i = 0; i < x.size(); i++)
    if (x[i].lower != y[i].lower || x[i].upper != y[i].upper || x[i].count != y[i].count) return false;
  return true;
}

static void check_distribution(const char* name, const std::function<uint64_t()>& draw, int n) {
  LatencyHistogram whole, parts[3];
  PerfStats ref;
  std::vector<uint64_t> values;
  uint64_t sum = 0;
  for (int i = 0; i < n; i++) {
    const uint64_t v = draw();
    values.push_back(v);
    whole.record(v);
    parts[i % 3].record(v);
    ref.update(v);
    sum += v;
  }
  const int failures_before = g_failures;
  // perf's statistics: same operations in the same order, so equal bits.
  CHECK(whole.count() == values.size());
  CHECK(whole.sum() == sum);
  CHECK(whole.min() == ref.min);
  CHECK(whole.max() == ref.max);
  CHECK(whole.mean() == ref.mean);
  CHECK(whole.stddev_of_mean() == ref.stddev());
  CHECK(whole.rel_stddev_percent() == ref.rel(ref.stddev(), ref.mean));
  if (n >= 2) CHECK(whole.variance() == ref.M2 / (ref.n - 1));

  // Percentiles: bucket midpoints are within 1/128 of any value in the bucket.
  std::vector<uint64_t> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  for (double q : {0.0, 0.001, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 0.9999, 1.0}) {
    const uint64_t exact = exact_quantile(sorted, q);
    const uint64_t got = whole.quantile(q);
    if (exact < 64) {
      CHECK(got == exact);  // exact region
    } else {
      const double err = std::fabs(static_cast<double>(got) - static_cast<double>(exact)) / static_cast<double>(exact);
      CHECK(err <= 0.01);
    }
  }
  CHECK(whole.quantile(0) == sorted.front());
  CHECK(whole.quantile(1) == sorted.back());

  // Merge equals recording into one: exact parts exactly, moments to rounding.
  LatencyHistogram merged;
  for (const LatencyHistogram& p : parts) merged.merge(p);
  CHECK(merged.count() == whole.count());
  CHECK(merged.sum() == whole.sum());
  CHECK(merged.min() == whole.min());
  CHECK(merged.max() == whole.max());
  CHECK(std::fabs(merged.mean() - whole.mean()) <= 1e-9 * std::max(1.0, std::fabs(whole.mean())));
  CHECK(std::fabs(merged.variance() - whole.variance()) <= 1e-9 * std::max(1.0, whole.variance()));
  CHECK(same_buckets(merged, whole));
  for (double q : {0.5, 0.9, 0.99}) CHECK(merged.quantile(q) == whole.quantile(q));

  // Buckets: ordered, non-empty, counts add up, every value inside its bucket.
  std::vector<LatencyHistogram::Bucket> buckets;
  whole.buckets(&buckets);
  uint64_t total = 0;
  for (size_t i = 0; i < buckets.size(); i++) {
    CHECK(buckets[i].count > 0);
    CHECK(buckets[i].lower < buckets[i].upper || buckets[i].upper == ~0ULL);
    if (i) CHECK(buckets[i - 1].upper <= buckets[i].lower);
    total += buckets[i].count;
  }
  CHECK(total == whole.count());
  // Cumulative counts at bucket boundaries (upper - 1) are exact.
  for (const auto& b : buckets) {
    const uint64_t bound = b.upper == ~0ULL ? ~0ULL : b.upper - 1;
    const uint64_t exact = static_cast<uint64_t>(std::upper_bound(sorted.begin(), sorted.end(), bound) - sorted.begin());
    CHECK(whole.count_at_or_below(bound) == exact);
  }
  CHECK(whole.count_at_or_below(sorted.back()) == whole.count());
  if (sorted.front() > 0) CHECK(whole.count_at_or_below(sorted.front() - 1) == 0);
  if (g_failures != failures_before) std::fprintf(stderr, "  (distribution %s)\n", name);
}

int main() {
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> lognormal(9.0, 1.5);  // ~8 us median, long tail
  std::exponential_distribution<double> exponential(1.0 / 2500.0);
  std::uniform_int_distribution<uint64_t> small(0, 200);
  std::uniform_int_distribution<uint64_t> huge(1ULL << 40, ~0ULL >> 1);
  std::uniform_int_distribution<int> bits(0, 63);
  check_distribution("lognormal", [&] { return static_cast<uint64_t>(lognormal(rng)); }, 200000);
  check_distribution("exponential", [&] { return static_cast<uint64_t>(exponential(rng)); }, 100000);
  check_distribution("small", [&] { return small(rng); }, 50000);
  check_distribution("huge", [&] { return huge(rng) >> 20; }, 50000);  // sum stays below 2^64
  check_distribution("every octave", [&] { return (1ULL << bits(rng)) >> 4 | (rng() & 0xf); }, 50000);
  check_distribution("constant", [] { return uint64_t{12345}; }, 1000);
  check_distribution("single", [] { return uint64_t{777}; }, 1);
  check_distribution("two", [&] { return small(rng) + 1000; }, 2);

  // Bucket bounds tile u64: each value lies in [lower, upper) of its index.
  for (uint64_t v : {0ULL, 1ULL, 63ULL, 64ULL, 65ULL, 127ULL, 128ULL, 129ULL, 1000ULL, 123456789ULL, 1ULL << 63,
                     ~0ULL - 1, ~0ULL}) {
    const int i = LatencyHistogram::index_of(v);
    CHECK(i >= 0 && i < LatencyHistogram::kOctaves * LatencyHistogram::kSubBuckets);
    CHECK(LatencyHistogram::lower_bound(i) <= v);
    CHECK(v < LatencyHistogram::upper_bound(i) || LatencyHistogram::upper_bound(i) == ~0ULL);
  }
  for (int i = 0; i + 1 < LatencyHistogram::kOctaves * LatencyHistogram::kSubBuckets; i++) {
    CHECK(LatencyHistogram::upper_bound(i) == LatencyHistogram::lower_bound(i + 1));
    CHECK(LatencyHistogram::index_of(LatencyHistogram::lower_bound(i)) == i);
  }

  // Merging into an empty histogram copies perf's running mean bit for bit.
  {
    LatencyHistogram a, empty;
    for (uint64_t v : {5ULL, 17ULL, 400ULL, 123456ULL}) a.record(v);
    empty.merge(a);
    CHECK(empty.mean() == a.mean() && empty.rel_stddev_percent() == a.rel_stddev_percent());
    LatencyHistogram none;
    a.merge(none);
    CHECK(a.count() == 4);
  }

  // Empty: zeros everywhere; min() hides the sentinel.
  {
    LatencyHistogram h;
    CHECK(h.count() == 0 && h.min() == 0 && h.max() == 0 && h.quantile(0.5) == 0);
    CHECK(h.rel_stddev_percent() == 0 && h.variance() == 0 && h.count_at_or_below(~0ULL) == 0);
    h.record(100);
    h.record(5000);
    CHECK(h.quantile(std::nan("")) == 100 && h.quantile(-1) == 100 && h.quantile(7) == 5000);
  }

  // The hot path allocates only for the first value of an octave; after
  // reset() the blocks are kept and reused.
  {
    LatencyHistogram h;
    std::vector<uint64_t> values;
    for (int i = 0; i < 10000; i++) values.push_back(static_cast<uint64_t>(lognormal(rng)));
    for (uint64_t v : values) h.record(v);
    const uint64_t before = g_allocations.load();
    for (int round = 0; round < 3; round++) {
      for (uint64_t v : values) h.record(v);
      h.reset();
    }
    for (uint64_t v : values) h.record(v);
    CHECK(g_allocations.load() == before);
    CHECK(h.count() == values.size());
  }
  // Counters never lose a count: a bucket's byte carries into the next plane
  // (added when first needed), through u32's wrap (an exporter at 1 M
  // events/s reaches 2^32 in one bucket in ~71 minutes) and beyond.
  {
    const uint64_t v = 5000, w = 700000;  // two octaves apart
    LatencyHistogram a;  // 255 = 0xff in v's bucket
    for (int i = 0; i < 255; i++) a.record(v);
    LatencyHistogram b;  // 255 * 257 = 0xffff
    for (int i = 0; i < 257; i++) b.merge(a);
    LatencyHistogram c;  // 0xffff * 0x10001 = 2^32 - 1
    for (int i = 0; i < 0x10001; i++) c.merge(b);
    const uint64_t u32max = 0xffffffffULL;
    CHECK(c.count() == u32max && c.count_at_or_below(v) == u32max);
    c.record(v);  // every byte of the counter wraps: carried into a fifth plane
    std::vector<LatencyHistogram::Bucket> bk;
    c.buckets(&bk);
    CHECK(bk.size() == 1 && bk[0].count == (1ULL << 32) && c.count() == (1ULL << 32));
    // The range grows both ways with five planes, counts moved along.
    c.record(w);
    c.record(70);
    bk.clear();
    c.buckets(&bk);
    CHECK(bk.size() == 3 && bk[0].count == 1 && bk[1].count == (1ULL << 32) && bk[2].count == 1);
    CHECK(c.count_at_or_below(LatencyHistogram::upper_bound(LatencyHistogram::index_of(v)) - 1) == (1ULL << 32) + 1);
    CHECK(c.quantile(0.5) >= 4960 && c.quantile(0.5) <= 5040 && c.quantile(0.9999999999) == w);
    std::vector<uint16_t> slot_of(LatencyHistogram::kOctaves * LatencyHistogram::kSubBuckets);
    for (size_t i = 0; i < slot_of.size(); i++) slot_of[i] = LatencyHistogram::upper_bound(static_cast<int>(i)) <= 100000 ? 0 : 1;
    double slots[2] = {0, 0};
    c.add_to_slots(slot_of.data(), slots);
    CHECK(slots[0] == static_cast<double>((1ULL << 32) + 1) && slots[1] == 1);
    // Merges past 2^40 (ping-pong doubles), against plain u64 arithmetic.
    LatencyHistogram x, y;
    x.merge(c);
    uint64_t nx = (1ULL << 32), ny = 0;
    for (int i = 0; i < 10; i++) {
      y.merge(x), ny += nx;
      x.merge(y), nx += ny;
    }
    bk.clear();
    x.buckets(&bk);
    CHECK(bk.size() == 3 && bk[1].count == nx && nx > (1ULL << 44));
    // Recording into the counter promoted by merges carries as well.
    x.record(v);
    bk.clear();
    x.buckets(&bk);
    CHECK(bk[1].count == nx + 1);
    // reset() keeps every plane: no allocation afterwards.
    c.reset();
    CHECK(c.count() == 0 && c.count_at_or_below(~0ULL) == 0);
    const uint64_t before = g_allocations.load();
    for (int i = 0; i < 1000; i++) c.record(i % 2 ? v : w);
    CHECK(g_allocations.load() == before);
    bk.clear();
    c.buckets(&bk);
    CHECK(bk.size() == 2 && bk[0].count == 500 && bk[1].count == 500);
  }

  // Carries on the hot path against a model: a skewed mix (some buckets pass
  // 2^8 and 2^16, others stay small), recorded, merged in parts and compared
  // bucket by bucket with exact counts; moved histograms keep everything.
  {
    std::vector<uint64_t> model(LatencyHistogram::kOctaves * LatencyHistogram::kSubBuckets);
    LatencyHistogram whole, part[2];
    std::uniform_int_distribution<int> pick(0, 999);
    for (int i = 0; i < 3000000; i++) {
      const int r = pick(rng);
      const uint64_t v = r < 900 ? 1000 + (r % 3) : r < 990 ? 60000 + r : (1ULL << (r % 50)) + r;
      whole.record(v);
      part[i % 2].record(v);
      model[LatencyHistogram::index_of(v)]++;
    }
    LatencyHistogram merged;
    merged.merge(part[0]);
    merged.merge(part[1]);
    LatencyHistogram moved(std::move(merged));
    CHECK(merged.count() == 0);
    for (const LatencyHistogram* h : {&whole, &moved}) {
      std::vector<LatencyHistogram::Bucket> bk;
      h->buckets(&bk);
      uint64_t seen = 0, nonzero = 0;
      for (const auto& b : bk) {
        CHECK(b.count == model[LatencyHistogram::index_of(b.lower)]);
        seen += b.count;
      }
      for (uint64_t m : model) nonzero += m != 0;
      CHECK(seen == 3000000 && bk.size() == nonzero);
    }
    CHECK(model[LatencyHistogram::index_of(1000)] > 65536);
  }
  // Without the moments: the same count, sum, min, max and buckets as
  // record(); mean and variance stay 0. Also through RecordBatch, which
  // records each row's values in push order either way.
  {
    LatencyHistogram full, lean;
    std::vector<LatencyHistogram> rows_full(7), rows_lean(7);
    kvmlens::RecordBatch batch_full, batch_lean;
    const auto of = [](std::vector<LatencyHistogram>& rows) {
      return [&rows](uint32_t r) -> LatencyHistogram& { return rows[r]; };
    };
    LatencyHistogram one_by_one[7];
    for (int i = 0; i < 100000; i++) {
      const uint64_t v = static_cast<uint64_t>(lognormal(rng));
      const uint32_t row = static_cast<uint32_t>(v % 7);
      full.record(v);
      lean.record_without_moments(v);
      one_by_one[row].record(v);
      if (batch_full.full()) batch_full.flush(of(rows_full));
      if (batch_lean.full()) batch_lean.flush(of(rows_lean), false);
      batch_full.push(row, v);
      batch_lean.push(row, v);
    }
    batch_full.flush(of(rows_full));
    batch_lean.flush(of(rows_lean), false);
    CHECK(lean.count() == full.count() && lean.sum() == full.sum() && lean.min() == full.min() &&
          lean.max() == full.max() && same_buckets(lean, full));
    CHECK(lean.mean() == 0 && lean.variance() == 0 && lean.quantile(0.99) == full.quantile(0.99));
    for (int r = 0; r < 7; r++) {
      CHECK(rows_full[r].mean() == one_by_one[r].mean() && rows_full[r].variance() == one_by_one[r].variance());
      CHECK(rows_full[r].count() == one_by_one[r].count() && same_buckets(rows_full[r], one_by_one[r]));
      CHECK(rows_lean[r].count() == one_by_one[r].count() && rows_lean[r].sum() == one_by_one[r].sum() &&
            rows_lean[r].min() == one_by_one[r].min() && rows_lean[r].max() == one_by_one[r].max() &&
            same_buckets(rows_lean[r], one_by_one[r]) && rows_lean[r].mean() == 0);
    }
  }
  return finish("histogram_test");
}
