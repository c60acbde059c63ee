// Latency statistics for one key: exact count, sum, min, max and Welford
// mean/variance (as perf's update_stats), plus log-linear buckets (64 per
// power of two, ~0.8% worst-case relative error at the bucket midpoint) for
// percentiles and Prometheus / OTLP buckets. Histograms merge exactly.
//
// Layout (64 bytes plus one allocation): the counters of the octaves from the
// lowest to the highest one touched, one byte each, in "planes": plane p holds
// byte p of every counter, so a counter is the sum of plane[p] << 8p. A byte
// that wraps carries into the next plane, which is added (and the counters
// copied once) the first time any bucket passes 2^8, 2^16, ...: no count is
// ever lost, up to the full 64 bits. Recording allocates only when a value
// lands in an octave outside the range held or a bucket first needs another
// plane (at most 59 + 7 times per histogram, whatever the number of values);
// reset() keeps the storage. A row of an exporter (tens of values over ~5
// octaves) takes ~400 bytes instead of the ~2 KB of 64-bit blocks per octave.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

namespace kvmlens {

class LatencyHistogram {
 public:
  static constexpr int kSubBucketBits = 6;                  // 64 sub-buckets
  static constexpr int kSubBuckets = 1 << kSubBucketBits;
  static constexpr int kOctaves = 64 - kSubBucketBits + 1;  // covers all u64

  LatencyHistogram() = default;
  LatencyHistogram(LatencyHistogram&& o) noexcept { *this = std::move(o); }
  LatencyHistogram& operator=(LatencyHistogram&& o) noexcept;
  LatencyHistogram(const LatencyHistogram&) = delete;
  LatencyHistogram& operator=(const LatencyHistogram&) = delete;
  ~LatencyHistogram() { delete[] counters_; }

  void record(uint64_t value_ns);
  // record() without perf's running mean and M2 (their division chain is
  // most of record()'s latency when one key's values come back to back):
  // count, sum, min, max and buckets only, for outputs that use nothing
  // else (the exporter). A histogram recorded this way reports mean() and
  // variance() as 0; do not mix the two on one histogram.
  void record_without_moments(uint64_t value_ns);
  // Hints for recording `value_ns` soon (batched recording): first the
  // statistics and the counters' pointer and range, later the counter itself.
  void prefetch_for(uint64_t /*value_ns*/) const {
    __builtin_prefetch(&count_, 1);
    __builtin_prefetch(&planes_, 1);  // the object's other cache line, if it spans two
  }
  void prefetch_counter(uint64_t value_ns) const {
    const unsigned rel = relative(index_of(value_ns));
    if (rel < held()) __builtin_prefetch(counters_ + rel, 1);
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
  // histogram that is probably not in cache: the counters are a separate
  // allocation, so they would otherwise be a serial cache miss).
  void prefetch() const;

  static int index_of(uint64_t value);     // global bucket index
  static uint64_t lower_bound(int index);
  static uint64_t upper_bound(int index);  // exclusive (saturating)

 private:
  // Position of global bucket `index` in a plane (>= held() when outside the range).
  unsigned relative(int index) const {
    return static_cast<unsigned>(index) - (static_cast<unsigned>(lo_) << kSubBucketBits);
  }
  unsigned held() const { return static_cast<unsigned>(n_octaves_) << kSubBucketBits; }
  void count_bucket(uint64_t value);     // the bucket's counter + 1
  uint64_t counter(unsigned rel) const;  // the planes' bytes put together
  unsigned grow(int index);              // extends the range to `index`'s octave
  void carry(unsigned rel);              // plane 0's byte wrapped
  void add(unsigned rel, uint64_t n);    // merge: counter += n
  void add_plane();

  uint64_t count_ = 0, sum_ = 0, min_ = ~0ULL, max_ = 0;
  double mean_ = 0, m2_ = 0;
  uint8_t* counters_ = nullptr;  // planes_ planes of held() bytes each
  uint8_t lo_ = 0;               // first octave held
  uint8_t n_octaves_ = 0;        // octaves held (0: no storage)
  uint8_t planes_ = 0;
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

  count_bucket(v);
}

inline void LatencyHistogram::record_without_moments(uint64_t v) {
  count_++;
  sum_ += v;
  if (v > max_) max_ = v;
  if (v < min_) min_ = v;
  count_bucket(v);
}

inline void LatencyHistogram::count_bucket(uint64_t v) {
  const int index = index_of(v);
  unsigned rel = relative(index);
  if (__builtin_expect(rel >= held(), 0)) rel = grow(index);
  if (__builtin_expect(++counters_[rel] == 0, 0)) carry(rel);
}

}  // namespace kvmlens
