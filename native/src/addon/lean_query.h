// The exporter's lean grouping of the analyzer's rows, shared by
// SessionWrap::Query (the snapshot JavaScript reads) and the native render
// (render_worker.cc), so both see the same rows in the same order.
#pragma once
#include <cstdint>
#include <tuple>
#include <vector>

#include "kvm/kvm_analyzer.h"
#include "kvm/stat_query.h"

namespace kvmlens_addon {

// (analysis, pid or -1, vcpu or -1, key, info): a row of a query's result.
using GroupKey = std::tuple<int, int32_t, int64_t, uint64_t, uint32_t>;

struct GroupKeyHash {
  size_t operator()(const GroupKey& k) const {
    uint64_t h = static_cast<uint64_t>(std::get<0>(k)) * 0x9E3779B97F4A7C15ULL;
    h ^= static_cast<uint64_t>(static_cast<uint32_t>(std::get<1>(k))) + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
    h ^= static_cast<uint64_t>(std::get<2>(k)) + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
    h ^= std::get<3>(k) + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
    h ^= static_cast<uint64_t>(std::get<4>(k)) + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
    return static_cast<size_t>(h ^ (h >> 29));
  }
};

struct LeanRow {
  kvmlens::Analysis analysis;
  int32_t pid;
  int64_t vcpu;
  uint64_t key;
  uint32_t info;
  uint64_t long_count, count, sum, min, max;
};

// slot_of[index] = the classic slot of native bucket `index`: the first bound
// >= the bucket's exclusive upper edge (bounds.size() = above every bound).
std::vector<uint16_t> classic_slot_table(const std::vector<double>& bounds);

// Groups the analyzer's non-empty rows per query (first-seen order) with
// count, sum, min, max, long count and, when slot_count > 0, the classic
// slots (slot_count per row, appended to *classic). Copies no histogram.
// The caller holds the session's mutex.
void lean_query(const kvmlens::KvmAnalyzer& analyzer, const kvmlens::StatQuery& q, const std::vector<uint16_t>& slot_of,
                size_t slot_count, std::vector<LeanRow>* out, std::vector<double>* classic);

}  // namespace kvmlens_addon
