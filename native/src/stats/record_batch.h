// Recording (row, value) pairs into many histograms in batches, as the
// analyzer records its pairs (and bench/exporter.bench.ts' native side, so
// that it times the production path): the rows' statistics and counters are
// mostly out of cache, so the batch first asks the CPU for all of them, letting
// the misses overlap, then records in order. Each row sees its values in the
// order they were pushed, so perf's running mean stays bit for bit.
#pragma once
#include <cstddef>
#include <cstdint>

#include "stats/histogram.h"

namespace kvmlens {

class RecordBatch {
 public:
  static constexpr size_t kSize = 128;

  bool full() const { return n_ == kSize; }
  void push(uint32_t row, uint64_t value) { pairs_[n_++] = Pair{row, value}; }

  // hist_of(row) -> LatencyHistogram&, evaluated at flush time (rows may have
  // moved since the push).
  // With moments false, LatencyHistogram::record_without_moments.
  template <class HistOf>
  void flush(HistOf&& hist_of, bool moments = true) {
    const size_t n = n_;
    n_ = 0;
    for (size_t i = 0; i < n; i++) hist_of(pairs_[i].row).prefetch_for(pairs_[i].value);
    for (size_t i = 0; i < n; i++) hist_of(pairs_[i].row).prefetch_counter(pairs_[i].value);
    if (moments) {
      for (size_t i = 0; i < n; i++) hist_of(pairs_[i].row).record(pairs_[i].value);
    } else {
      for (size_t i = 0; i < n; i++) hist_of(pairs_[i].row).record_without_moments(pairs_[i].value);
    }
  }

 private:
  struct Pair {
    uint32_t row;
    uint64_t value;
  };
  Pair pairs_[kSize];
  size_t n_ = 0;
};

}  // namespace kvmlens
