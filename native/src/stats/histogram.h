// Latency statistics for one key: exact count, sum, min, max and Welford
// mean/variance (as perf's update_stats), plus log-linear buckets (64 per
// power of two, ~0.8% worst-case relative error at the bucket midpoint) for
// percentiles and Prometheus / OTLP buckets. Recording never allocates after
// the first value in an octave; histograms merge exactly.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <vector>

namespace kvmlens {

class LatencyHistogram {
 public:
  static constexpr int kSubBucketBits = 6;                  // 64 sub-buckets
  static constexpr int kSubBuckets = 1 << kSubBucketBits;
  static constexpr int kOctaves = 64 - kSubBucketBits + 1;  // covers all u64

  void record(uint64_t value_ns);
  // Hints for recording `value_ns` soon (batched recording): first the
  // statistics and the octave's block pointer, later the counter itself.
  void prefetch_for(uint64_t value_ns) const {
    __builtin_prefetch(&count_, 1);
    __builtin_prefetch(&octaves_[static_cast<size_t>(index_of(value_ns)) / kSubBuckets]);
  }
  void prefetch_counter(uint64_t value_ns) const {
    const int index = index_of(value_ns);
    if (const uint64_t* block = octaves_[static_cast<size_t>(index) / kSubBuckets].get())
      __builtin_prefetch(block + index % kSubBuckets, 1);
  }
  void merge(const LatencyHistogram& other);
  void reset();

  uint64_t count() const { return count_; }
  uint64_t sum() const { return sum_; }
  uint64_t min() const { return count_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  double mean() const { return mean_; }       // Welford running mean (perf's stats.mean)
  double variance() const;                     // sample variance M2/(n-1), 0 if n < 2
  double stddev_of_mean() const;               // perf's stddev_stats(): sqrt(var / n)
  double rel_stddev_percent() const;           // perf's rel_stddev_stats(stddev, avg)

  // Value at quantile q in [0,1] (bucket midpoint, clamped to [min, max]).
  uint64_t quantile(double q) const;
  // Count of values <= bound_ns, for classic buckets. Exact when bound_ns is
  // a bucket boundary, else interpolated down to the containing bucket's lower edge.
  uint64_t count_at_or_below(uint64_t bound_ns) const;

  // Non-empty buckets as (lower bound inclusive, upper bound exclusive, count).
  struct Bucket { uint64_t lower, upper, count; };
  void buckets(std::vector<Bucket>* out) const;

  // Adds every bucket's count to slots[slot_of[index]] (slot_of has one entry
  // per global index, non-decreasing): the exporter's classic buckets. An
  // octave whose buckets share one slot is summed as a block.
  void add_to_slots(const uint16_t* slot_of, double* slots) const;
  // Asks the CPU to start loading the counters (before add_to_slots on a
  // histogram that is probably not in cache: the octave blocks are separate
  // allocations, so each would otherwise be a serial cache miss).
  void prefetch() const;

  static int index_of(uint64_t value);     // global bucket index
  static uint64_t lower_bound(int index);
  static uint64_t upper_bound(int index);  // exclusive (saturating)

 private:
  uint64_t count_ = 0, sum_ = 0, min_ = ~0ULL, max_ = 0;
  double mean_ = 0, m2_ = 0;
  // Lazily allocated octave blocks of 64 counters each.
  std::array<std::unique_ptr<uint64_t[]>, kOctaves> octaves_{};
};

// Index layout: values 0..63 map to indexes 0..63 (octave 0, exact). A value
// v >= 64 with highest set bit h (h >= 6) lies in octave h-5; its sub-bucket
// is the 6 bits below the top bit. Octave k >= 1 covers [2^(k+5), 2^(k+6)) in
// 64 buckets of width 2^(k-1).
//
// Branch-free form: with s = max(h - 6, 0) (OR-ing in 64 makes h >= 6), the
// index is 64*s + (v >> s): for v < 128 that is v itself, and above, v >> s
// is the top bit plus the 6 sub-bucket bits, i.e. 64 + sub.
inline int LatencyHistogram::index_of(uint64_t v) {
  const int s = (63 - kSubBucketBits) - __builtin_clzll(v | kSubBuckets);
  return (s << kSubBucketBits) + static_cast<int>(v >> s);
}

// Inline: the hot path of every analysis.
inline void LatencyHistogram::record(uint64_t v) {
  // perf's update_stats(), same operations in the same order.
  count_++;
  sum_ += v;
  const double value = static_cast<double>(v);
  const double delta = value - mean_;
  mean_ += delta / static_cast<double>(count_);
  m2_ += delta * (value - mean_);
  if (v > max_) max_ = v;
  if (v < min_) min_ = v;

  const int index = index_of(v);
  std::unique_ptr<uint64_t[]>& block = octaves_[index / kSubBuckets];
  if (__builtin_expect(!block, 0)) block.reset(new uint64_t[kSubBuckets]());
  block[index % kSubBuckets]++;
}

}  // namespace kvmlens
