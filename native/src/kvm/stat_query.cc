#include "kvm/stat_query.h"

#include <algorithm>
#include <map>
#include <tuple>

namespace kvmlens {

namespace {

bool selected(const StatRow& row, const StatQuery& q) {
  if (row.hist.count() == 0) return false;  // reset_stats() leaves empty rows
  if (!q.all_analyses && row.analysis != q.analysis) return false;
  if (q.vcpu >= 0 && static_cast<int64_t>(row.vcpu) != q.vcpu) return false;
  if (!q.pids.empty() &&
      std::find(q.pids.begin(), q.pids.end(), row.pid) == q.pids.end())
    return false;
  return true;
}

}  // namespace

std::vector<QueryRow> run_stat_query(const KvmAnalyzer& analyzer, const StatQuery& q) {
  // Group identity: (analysis, pid or -1, vcpu or -1, key, info).
  using GroupKey = std::tuple<int, int32_t, int64_t, uint64_t, uint32_t>;
  std::map<GroupKey, size_t> index;
  std::vector<QueryRow> out;
  for (const StatRow& row : analyzer.rows()) {
    if (!selected(row, q)) continue;
    const bool keep_pid = q.group_by != GroupBy::kKey;
    const bool keep_vcpu = q.group_by == GroupBy::kVcpuKey;
    GroupKey gk{static_cast<int>(row.analysis), keep_pid ? row.pid : -1,
                keep_vcpu ? static_cast<int64_t>(row.vcpu) : -1, row.key, row.info};
    auto it = index.find(gk);
    if (it == index.end()) {
      index.emplace(gk, out.size());
      QueryRow qr{row.analysis, std::get<1>(gk), std::get<2>(gk), row.key, row.info,
                  row.long_count, LatencyHistogram()};
      qr.hist.merge(row.hist);
      out.push_back(std::move(qr));
    } else {
      QueryRow& qr = out[it->second];
      qr.long_count += row.long_count;
      qr.hist.merge(row.hist);
    }
  }
  return out;
}

}  // namespace kvmlens
