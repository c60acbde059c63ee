// report / diff / buildid-list over one perf.data file: reader ->
// ProfileAggregator -> resolved snapshot, plus the recording's build-ids.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "perf/perf_data.h"
#include "profile/profile_aggregator.h"
#include "profile/trace_counter.h"

namespace kvmlens {
namespace profile {

struct BuildIdRow {
  std::string build_id;  // hex
  std::string filename;
  uint16_t misc = 0;
  int32_t pid = -1;
  bool hit = false;      // only meaningful when samples were read
  bool from_header = true;  // false: a DSO with samples that HEADER_BUILD_ID does not list
};

struct ProfileFileResult {
  PerfFileInfo info;
  ReadStats stats;
  ProfileSnapshot snapshot;
  std::vector<BuildIdRow> build_ids;
  bool data_error = false;
  std::string data_error_message;
  int64_t data_error_offset = -1;
  bool trace_sorted = false;              // trace_rows were counted
  std::vector<TraceRow> trace_rows;       // with trace: perf report's `trace` sort entries
  std::vector<std::string> trace_warnings;
};

// read_samples = false: header and build-ids only (buildid-list without
// --with-hits) — unless the file has no HEADER_BUILD_ID (a pipe, or
// recorded with -B), where, as perf does, the samples are read to find the
// DSOs that were hit.
// `children`: perf report's children mode for these sort keys (used when
// the file has call chains; see ProfileAggregator::set_children).
// Throws ParseError when the header cannot be read; a damaged data section
// is reported in data_error with the report of what came before it.
// trace: also count samples by tracepoint payload (trace_rows), or only
// that; kAuto: only that when every event of the file is a tracepoint (perf
// report's default sort order for such files), else nothing.
enum class TraceSort { kNone, kAlso, kOnly, kAuto };
ProfileFileResult profile_file(const std::string& path, const SymbolizerOptions& options, bool read_samples,
                               const std::function<void(uint64_t, uint64_t)>& progress,
                               TraceSort trace = TraceSort::kNone, const ChildrenKeys* children = nullptr);

}  // namespace profile
}  // namespace kvmlens
