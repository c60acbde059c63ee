#include "stats/histogram.h"

#include <algorithm>
#include <cmath>
#include <cstring>

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

LatencyHistogram& LatencyHistogram::operator=(LatencyHistogram&& o) noexcept {
  if (this == &o) return *this;
  delete[] counters_;
  count_ = o.count_, sum_ = o.sum_, min_ = o.min_, max_ = o.max_, mean_ = o.mean_, m2_ = o.m2_;
  counters_ = o.counters_, lo_ = o.lo_, n_octaves_ = o.n_octaves_, planes_ = o.planes_;
  o.counters_ = nullptr;
  o.lo_ = o.n_octaves_ = o.planes_ = 0;
  o.count_ = o.sum_ = o.max_ = 0;
  o.min_ = ~0ULL;
  o.mean_ = o.m2_ = 0;
  return *this;
}

uint64_t LatencyHistogram::counter(unsigned rel) const {
  const unsigned width = held();
  uint64_t n = 0;
  for (unsigned p = 0; p < planes_; p++) n |= static_cast<uint64_t>(counters_[p * width + rel]) << (8 * p);
  return n;
}

// A value outside the octaves held: extend the range to its octave (and the
// ones between), moving every plane's counters to their new place.
unsigned LatencyHistogram::grow(int index) {
  const int octave = index / kSubBuckets;
  const int old_lo = lo_, old_n = n_octaves_;
  const int lo = old_n ? std::min(old_lo, octave) : octave;
  const int hi = old_n ? std::max(old_lo + old_n - 1, octave) : octave;
  const int planes = planes_ ? planes_ : 1;
  const size_t width = static_cast<size_t>(hi - lo + 1) * kSubBuckets;
  uint8_t* grown = new uint8_t[width * planes]();
  const size_t old_width = static_cast<size_t>(old_n) * kSubBuckets;
  const size_t shift = static_cast<size_t>(old_lo - lo) * kSubBuckets;
  for (int p = 0; p < planes_; p++)
    std::memcpy(grown + p * width + shift, counters_ + p * old_width, old_width);
  delete[] counters_;
  counters_ = grown;
  lo_ = static_cast<uint8_t>(lo);
  n_octaves_ = static_cast<uint8_t>(hi - lo + 1);
  planes_ = static_cast<uint8_t>(planes);
  return relative(index);
}

void LatencyHistogram::add_plane() {
  const size_t width = held();
  uint8_t* more = new uint8_t[width * (planes_ + 1)];
  std::memcpy(more, counters_, width * planes_);
  std::memset(more + width * planes_, 0, width);
  delete[] counters_;
  counters_ = more;
  planes_++;
}

// Plane 0's byte of bucket `rel` wrapped to 0: carry the one into the planes above.
void LatencyHistogram::carry(unsigned rel) {
  for (unsigned p = 1;; p++) {
    if (p == planes_) add_plane();  // never past 8 planes: a counter is at most count_
    if (++counters_[p * held() + rel] != 0) return;
  }
}

void LatencyHistogram::add(unsigned rel, uint64_t n) {
  const uint64_t total = counter(rel) + n;
  int needed = 1;
  while (needed < 8 && (total >> (8 * needed)) != 0) needed++;
  while (planes_ < needed) add_plane();
  const unsigned width = held();
  for (unsigned p = 0; p < planes_; p++) counters_[p * width + rel] = static_cast<uint8_t>(total >> (8 * p));
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
  if (!o.n_octaves_) return;
  const int first = o.lo_ * kSubBuckets, last = (o.lo_ + o.n_octaves_) * kSubBuckets - 1;
  if (relative(first) >= held()) grow(first);
  if (relative(last) >= held()) grow(last);
  const unsigned from = o.held();
  for (unsigned r = 0; r < from; r++) {
    const uint64_t n = o.counter(r);
    if (n) add(relative(first + static_cast<int>(r)), n);
  }
}

void LatencyHistogram::reset() {
  count_ = sum_ = max_ = 0;
  min_ = ~0ULL;
  mean_ = m2_ = 0;
  // Keep the storage (zeroed): a live interval reuses it without allocating.
  if (counters_) std::memset(counters_, 0, static_cast<size_t>(held()) * planes_);
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
  const unsigned n = held();
  for (unsigned r = 0; r < n; r++) {
    seen += counter(r);
    if (seen >= rank) {
      const int index = lo_ * kSubBuckets + static_cast<int>(r);
      const uint64_t lo = lower_bound(index), hi = upper_bound(index);
      const uint64_t mid = lo + (hi - lo - 1) / 2;
      return std::clamp(mid, min(), max_);
    }
  }
  return max_;
}

uint64_t LatencyHistogram::count_at_or_below(uint64_t bound) const {
  // The exact extremes settle the bounds outside [min, max] without buckets.
  if (count_ == 0 || bound < min_) return 0;
  if (bound >= max_) return count_;
  uint64_t n = 0;
  const unsigned held_ = held();
  for (unsigned r = 0; r < held_; r++) {
    const int index = lo_ * kSubBuckets + static_cast<int>(r);
    // A bucket counts only when all of it is <= bound (its last value is upper-1).
    if (upper_bound(index) - 1 > bound) return n;
    n += counter(r);
  }
  return n;
}

void LatencyHistogram::buckets(std::vector<Bucket>* out) const {
  const unsigned n = held();
  for (unsigned r = 0; r < n; r++) {
    const uint64_t c = counter(r);
    if (!c) continue;
    const int index = lo_ * kSubBuckets + static_cast<int>(r);
    out->push_back(Bucket{lower_bound(index), upper_bound(index), c});
  }
}

void LatencyHistogram::prefetch() const {
  const size_t bytes = static_cast<size_t>(held()) * planes_;
  for (size_t line = 0; line < bytes; line += 64) __builtin_prefetch(counters_ + line);
}

void LatencyHistogram::add_to_slots(const uint16_t* slot_of, double* slots) const {
  const unsigned width = held();
  for (int k = 0; k < n_octaves_; k++) {
    const uint16_t* slot = slot_of + (lo_ + k) * kSubBuckets;
    if (slot[0] == slot[kSubBuckets - 1]) {
      // One slot for the whole octave: sum each plane's 64 bytes.
      uint64_t n = 0;
      for (int p = 0; p < planes_; p++) {
        const uint8_t* c = counters_ + p * width + k * kSubBuckets;
        uint64_t plane = 0;
        for (int s = 0; s < kSubBuckets; s++) plane += c[s];
        n += plane << (8 * p);
      }
      if (n) slots[slot[0]] += static_cast<double>(n);
    } else {
      for (int s = 0; s < kSubBuckets; s++) {
        const uint64_t c = counter(static_cast<unsigned>(k * kSubBuckets + s));
        if (c) slots[slot[s]] += static_cast<double>(c);
      }
    }
  }
}

}  // namespace kvmlens
