#include "stats/histogram.h"

#include <algorithm>
#include <cmath>

namespace kvmlens {

// index_of() and record() are inline in the header.

uint64_t LatencyHistogram::lower_bound(int index) {
  const int octave = index / kSubBuckets;
  const uint64_t sub = static_cast<uint64_t>(index % kSubBuckets);
  if (octave == 0) return sub;
  const int shift = octave - 1;
  return (static_cast<uint64_t>(kSubBuckets) + sub) << shift;
}

uint64_t LatencyHistogram::upper_bound(int index) {
  if (index + 1 >= kOctaves * kSubBuckets) return ~0ULL;
  return lower_bound(index + 1);
}

void LatencyHistogram::merge(const LatencyHistogram& o) {
  if (o.count_ == 0) return;
  if (count_ == 0) {
    // Copy exactly, so a group of one keeps perf's running mean bit for bit.
    count_ = o.count_;
    sum_ = o.sum_;
    min_ = o.min_;
    max_ = o.max_;
    mean_ = o.mean_;
    m2_ = o.m2_;
  } else {
    // Chan et al.'s parallel update of mean and M2.
    const double n1 = static_cast<double>(count_), n2 = static_cast<double>(o.count_);
    const double n = n1 + n2;
    const double delta = o.mean_ - mean_;
    mean_ += delta * n2 / n;
    m2_ += o.m2_ + delta * delta * n1 * n2 / n;
    count_ += o.count_;
    sum_ += o.sum_;
    min_ = std::min(min_, o.min_);
    max_ = std::max(max_, o.max_);
  }
  for (int k = 0; k < kOctaves; k++) {
    if (!o.octaves_[k]) continue;
    if (!octaves_[k]) octaves_[k].reset(new uint64_t[kSubBuckets]());
    for (int s = 0; s < kSubBuckets; s++) octaves_[k][s] += o.octaves_[k][s];
  }
}

void LatencyHistogram::reset() {
  count_ = sum_ = max_ = 0;
  min_ = ~0ULL;
  mean_ = m2_ = 0;
  // Keep the blocks (zeroed): a live interval reuses them without allocating.
  for (auto& block : octaves_)
    if (block) std::fill(block.get(), block.get() + kSubBuckets, 0);
}

double LatencyHistogram::variance() const {
  if (count_ < 2) return 0.0;
  return m2_ / static_cast<double>(count_ - 1);
}

// perf's stddev_stats(): the standard error of the mean.
double LatencyHistogram::stddev_of_mean() const {
  if (count_ < 2) return 0.0;
  const double variance_mean = variance() / static_cast<double>(count_);
  return std::sqrt(variance_mean);
}

// perf's rel_stddev_stats(stddev, avg).
double LatencyHistogram::rel_stddev_percent() const {
  const double avg = mean_;
  double pct = 0.0;
  if (avg) pct = 100.0 * stddev_of_mean() / avg;
  return pct;
}

uint64_t LatencyHistogram::quantile(double q) const {
  if (count_ == 0) return 0;
  if (!(q > 0)) return min();  // also NaN: never feed it to the rank cast
  if (q >= 1) return max_;
  uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  if (rank == 0) rank = 1;
  uint64_t seen = 0;
  for (int k = 0; k < kOctaves; k++) {
    if (!octaves_[k]) continue;
    for (int s = 0; s < kSubBuckets; s++) {
      seen += octaves_[k][s];
      if (seen >= rank) {
        const int index = k * kSubBuckets + s;
        const uint64_t lo = lower_bound(index), hi = upper_bound(index);
        const uint64_t mid = lo + (hi - lo - 1) / 2;
        return std::clamp(mid, min(), max_);
      }
    }
  }
  return max_;
}

uint64_t LatencyHistogram::count_at_or_below(uint64_t bound) const {
  // The exact extremes settle the bounds outside [min, max] without buckets.
  if (count_ == 0 || bound < min_) return 0;
  if (bound >= max_) return count_;
  uint64_t n = 0;
  for (int k = 0; k < kOctaves; k++) {
    if (!octaves_[k]) continue;
    for (int s = 0; s < kSubBuckets; s++) {
      const int index = k * kSubBuckets + s;
      // A bucket counts only when all of it is <= bound (its last value is upper-1).
      if (upper_bound(index) - 1 > bound) return n;
      n += octaves_[k][s];
    }
  }
  return n;
}

void LatencyHistogram::buckets(std::vector<Bucket>* out) const {
  for (int k = 0; k < kOctaves; k++) {
    if (!octaves_[k]) continue;
    for (int s = 0; s < kSubBuckets; s++) {
      if (!octaves_[k][s]) continue;
      const int index = k * kSubBuckets + s;
      out->push_back(Bucket{lower_bound(index), upper_bound(index), octaves_[k][s]});
    }
  }
}

void LatencyHistogram::prefetch() const {
  for (int k = 0; k < kOctaves; k++) {
    if (!octaves_[k]) continue;
    const char* p = reinterpret_cast<const char*>(octaves_[k].get());
    for (int line = 0; line < kSubBuckets * 8; line += 64) __builtin_prefetch(p + line);
  }
}

void LatencyHistogram::add_to_slots(const uint16_t* slot_of, double* slots) const {
  for (int k = 0; k < kOctaves; k++) {
    if (!octaves_[k]) continue;
    const uint64_t* c = octaves_[k].get();
    const uint16_t* slot = slot_of + k * kSubBuckets;
    if (slot[0] == slot[kSubBuckets - 1]) {
      uint64_t n = 0;
      for (int s = 0; s < kSubBuckets; s++) n += c[s];
      slots[slot[0]] += static_cast<double>(n);
    } else {
      for (int s = 0; s < kSubBuckets; s++) slots[slot[s]] += static_cast<double>(c[s]);
    }
  }
}

}  // namespace kvmlens
