// LatencyHistogram: perf's statistics exactly, percentiles within 1%, merge.
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "check.h"
#include "stats/histogram.h"

using kvmlens::LatencyHistogram;

// perf's update_stats / stddev_stats / rel_stddev_stats, written out.
struct PerfStats {
  double n = 0, mean = 0, M2 = 0;
  void update(uint64_t v) {
    n++;
    double delta = v - mean;
    mean += delta / n;
    M2 += delta * (v - mean);
  }
  double rel() const {
    if (n < 2) return 0;
    double variance = M2 / (n - 1);
    double stddev = std::sqrt(variance / n);
    return mean ? 100.0 * stddev / mean : 0;
  }
};

int main() {
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> dist(9.0, 1.5);
  LatencyHistogram h, a, b;
  PerfStats ref;
  std::vector<uint64_t> values;
  uint64_t sum = 0;
  for (int i = 0; i < 200000; i++) {
    uint64_t v = static_cast<uint64_t>(dist(rng));
    values.push_back(v);
    h.record(v);
    (i % 3 ? a : b).record(v);
    ref.update(v);
    sum += v;
  }
  CHECK(h.count() == values.size());
  CHECK(h.sum() == sum);
  CHECK(h.min() == *std::min_element(values.begin(), values.end()));
  CHECK(h.max() == *std::max_element(values.begin(), values.end()));
  CHECK(h.mean() == ref.mean);                 // bit for bit: same operations
  CHECK(h.rel_stddev_percent() == ref.rel());

  std::sort(values.begin(), values.end());
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    uint64_t exact = values[static_cast<size_t>(std::ceil(q * values.size())) - 1];
    double err = std::fabs(static_cast<double>(h.quantile(q)) - exact) / exact;
    CHECK(err <= 0.01);
  }
  a.merge(b);
  CHECK(a.count() == h.count() && a.sum() == h.sum() && a.min() == h.min() && a.max() == h.max());
  CHECK(std::fabs(a.mean() - h.mean()) / h.mean() < 1e-9);
  CHECK(std::fabs(a.rel_stddev_percent() - h.rel_stddev_percent()) < 1e-6);
  for (double q : {0.5, 0.99}) CHECK(a.quantile(q) == h.quantile(q));

  // Bucket bounds tile the value range; each value lands inside its bucket.
  for (uint64_t v : {0ull, 1ull, 63ull, 64ull, 65ull, 127ull, 128ull, 1000ull, 123456789ull, ~0ull}) {
    int i = LatencyHistogram::index_of(v);
    CHECK(LatencyHistogram::lower_bound(i) <= v);
    CHECK(v < LatencyHistogram::upper_bound(i) || LatencyHistogram::upper_bound(i) == ~0ull);
  }
  // Classic bucket counts at power-of-two bounds are exact.
  for (uint64_t bound : {1024ull, 65536ull, 1ull << 20}) {
    uint64_t exact = std::upper_bound(values.begin(), values.end(), bound - 1) - values.begin();
    CHECK(h.count_at_or_below(bound - 1) == exact);
  }
  h.reset();
  CHECK(h.count() == 0 && h.quantile(0.5) == 0);
  return finish("histogram_test");
}
