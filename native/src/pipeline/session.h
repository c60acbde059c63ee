// Assembles the data path for one run: source -> decoder -> analyzer.
// A file replay and (later) a live capture both produce a KvmSession, which
// the CLI and the exporter query through stat_query.h.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kvm/kvm_analyzer.h"
#include "kvm/kvm_event.h"
#include "perf/perf_data.h"
#include "trace/tracing_data.h"

namespace kvmlens {

// One pair slower than the long-event threshold (stat live --duration).
struct LongEvent {
  uint64_t time;         // end event's timestamp
  int32_t pid;
  uint32_t vcpu;
  Analysis analysis;
  uint64_t key;
  uint32_t info;
  uint64_t duration_ns;
};

struct KvmSession {
  static constexpr size_t kMaxPendingLongEvents = 10000;

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
  // Long pairs not yet fetched by JS (bounded; the overflow is counted).
  std::vector<LongEvent> long_events;
  uint64_t long_events_dropped = 0;
  std::mutex mutex;          // held while the source feeds the analyzer
};

// Opens `path` and sets up `session` (info, tracing formats, decoder and an
// analyzer with `options`); returns the reader, positioned before the data.
std::unique_ptr<PerfDataReader> open_session_source(const std::string& path, AnalyzerOptions options,
                                                    KvmSession* session);

// Builds the decoder (for samples whose attr is one of `attrs`) and the
// analyzer of a session whose info and tracing formats are set.
void attach_analyzer(KvmSession* session, const std::vector<EventAttr>& attrs, AnalyzerOptions options);

// Reads a whole perf.data file (or "-" for a pipe on stdin) through the
// analyzer. Throws ParseError naming the problem; the offset is in the file.
std::unique_ptr<KvmSession> analyze_file(const std::string& path, AnalyzerOptions options,
                                       const std::function<void(uint64_t, uint64_t)>& progress);

}  // namespace kvmlens
