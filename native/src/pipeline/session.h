// Assembles the data path for one run: source -> decoder -> analyzer.
// A file replay and (later) a live capture both produce a KvmSession, which
// the CLI and the exporter query through stat_query.h.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "kvm/kvm_analyzer.h"
#include "kvm/kvm_event.h"
#include "perf/perf_data.h"
#include "trace/tracing_data.h"

namespace kvmlens {

struct KvmSession {
  std::string source;        // file path, "-" or "live"
  PerfFileInfo info;
  TracingData tracing;
  std::unique_ptr<KvmDecoder> decoder;
  std::unique_ptr<KvmAnalyzer> analyzer;
  ReadStats read_stats;
  // A data-section error after some records were analyzed: what came before
  // it is kept and reported, and the error is reported beside it.
  bool has_data_error = false;
  std::string data_error;
  uint64_t data_error_offset = ~0ULL;
  std::mutex mutex;          // held while the source feeds the analyzer
};

// Reads a whole perf.data file (or "-" for a pipe on stdin) through the
// analyzer. Throws ParseError naming the problem; the offset is in the file.
std::unique_ptr<KvmSession> analyze_file(const std::string& path, AnalyzerOptions options,
                                       const std::function<void(uint64_t, uint64_t)>& progress);

}  // namespace kvmlens
