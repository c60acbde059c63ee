// Reading the analyzer's rows the way a report wants them: filtered by
// analysis, vcpu and pid, and merged into groups (per key like perf's table,
// or per VM / vCPU for kvmlens' breakdowns). Merging happens here, in C++,
// so that percentiles of a group come from the merged histogram.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kvm/kvm_analyzer.h"

namespace kvmlens {

enum class GroupBy : uint8_t {
  kKey,         // one row per (key, info): perf's table
  kVmKey,       // per (pid, key, info)
  kVcpuKey,     // per (pid, vcpu, key, info)
};

struct StatQuery {
  Analysis analysis = Analysis::kVmexit;
  bool all_analyses = false;      // ignore `analysis`, keep rows of every analysis
  int64_t vcpu = -1;              // -1 = all vcpus
  std::vector<int32_t> pids;      // empty = all pids
  GroupBy group_by = GroupBy::kKey;
};

struct QueryRow {
  Analysis analysis;
  int32_t pid;                    // -1 when merged over pids
  int64_t vcpu;                   // -1 when merged over vcpus
  uint64_t key;
  uint32_t info;
  uint64_t long_count = 0;
  LatencyHistogram hist;
};

// Rows with at least one sample, in first-seen order of the analyzer.
std::vector<QueryRow> run_stat_query(const KvmAnalyzer& analyzer, const StatQuery& query);

}  // namespace kvmlens
