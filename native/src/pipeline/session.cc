#include "pipeline/session.h"

#include "core/errors.h"

namespace kvmlens {

std::unique_ptr<PerfDataReader> open_session_source(const std::string& path, AnalyzerOptions options,
                                                    KvmSession* session) {
  session->source = path;
  std::unique_ptr<PerfDataReader> reader = PerfDataReader::open(path);
  session->info = reader->info();
  const PerfFileInfo& info = session->info;
  if (info.tracing_data.empty())
    throw ParseError(
        "no tracing data (HEADER_TRACING_DATA) in the file, so its kvm events cannot be "
        "decoded: record it with `kvmlens stat record` or `perf kvm stat record`");
  session->tracing = parse_tracing_data(info.tracing_data.data(), info.tracing_data.size(),
                                        info.tracing_data_offset);
  // Samples point at the reader's own attrs, so the decoder binds to those.
  attach_analyzer(session, reader->info().attrs, std::move(options));
  return reader;
}

void attach_analyzer(KvmSession* session, const std::vector<EventAttr>& attrs, AnalyzerOptions options) {
  session->decoder = std::make_unique<KvmDecoder>(session->tracing, attrs, session->info.cpuid,
                                                  session->info.arch);
  if (options.long_threshold_ns > 0 && !options.on_long_event) {
    session->long_events.reserve(KvmSession::kMaxPendingLongEvents);
    // Called with session->mutex held (every source feeds under it).
    options.on_long_event = [session](const KvmEvent& end, Analysis analysis, uint64_t key,
                                      uint32_t info, uint32_t vcpu, uint64_t duration_ns) {
      if (session->long_events.size() >= KvmSession::kMaxPendingLongEvents) {
        session->long_events_dropped++;
        return;
      }
      session->long_events.push_back(LongEvent{end.time, end.pid, vcpu, analysis, key, info, duration_ns});
    };
  }
  session->analyzer = std::make_unique<KvmAnalyzer>(*session->decoder, std::move(options));
}

std::unique_ptr<KvmSession> analyze_file(const std::string& path, AnalyzerOptions options,
                                         const std::function<void(uint64_t, uint64_t)>& progress) {
  auto session = std::make_unique<KvmSession>();
  std::unique_ptr<PerfDataReader> reader = open_session_source(path, std::move(options), session.get());
  std::lock_guard<std::mutex> hold(session->mutex);
  try {
    session->read_stats = reader->run(*session->analyzer, progress);
  } catch (const ParseError& e) {
    session->has_data_error = true;
    session->data_error = e.what();
    session->data_error_offset = e.offset();
  }
  return session;
}

}  // namespace kvmlens
