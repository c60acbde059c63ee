#include "pipeline/session.h"

#include "core/errors.h"

namespace kvmlens {

std::unique_ptr<KvmSession> analyze_file(const std::string& path, AnalyzerOptions options,
                                       const std::function<void(uint64_t, uint64_t)>& progress) {
  auto analysis = std::make_unique<KvmSession>();
  analysis->source = path;
  std::unique_ptr<PerfDataReader> reader = PerfDataReader::open(path);
  analysis->info = reader->info();
  const PerfFileInfo& info = analysis->info;
  if (info.tracing_data.empty())
    throw ParseError(
        "no tracing data (HEADER_TRACING_DATA) in the file, so its kvm events cannot be "
        "decoded: record it with `kvmlens stat record` or `perf kvm stat record`");
  analysis->tracing = parse_tracing_data(info.tracing_data.data(), info.tracing_data.size(),
                                         info.tracing_data_offset);
  analysis->decoder = std::make_unique<KvmDecoder>(analysis->tracing, reader->info().attrs,
                                                   info.cpuid, info.arch);
  analysis->analyzer = std::make_unique<KvmAnalyzer>(*analysis->decoder, std::move(options));
  std::lock_guard<std::mutex> hold(analysis->mutex);
  try {
    analysis->read_stats = reader->run(*analysis->analyzer, progress);
  } catch (const ParseError& e) {
    analysis->has_data_error = true;
    analysis->data_error = e.what();
    analysis->data_error_offset = e.offset();
  }
  return analysis;
}

}  // namespace kvmlens
