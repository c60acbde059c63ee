// libFuzzer target: arbitrary bytes through the whole file path a report
// takes (reader -> tracing data -> decoder -> analyzer -> query). Anything
// but a clean result or a ParseError is a bug.
#include <cstddef>
#include <cstdint>

#include "core/errors.h"
#include "kvm/kvm_analyzer.h"
#include "kvm/stat_query.h"
#include "perf/perf_data.h"
#include "trace/tracing_data.h"

using namespace kvmlens;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto reader = PerfDataReader::open_memory(data, size);
    const PerfFileInfo& info = reader->info();
    if (info.tracing_data.empty()) {
      struct Null : RecordSink {
        void on_sample(const Sample&) override {}
      } sink;
      reader->run(sink, [](uint64_t, uint64_t) {});
      return 0;
    }
    TracingData td = parse_tracing_data(info.tracing_data.data(), info.tracing_data.size(), 0);
    KvmDecoder decoder(td, info.attrs, info.cpuid, info.arch);
    AnalyzerOptions options;
    options.long_threshold_ns = 1000;
    KvmAnalyzer analyzer(decoder, options);
    reader->run(analyzer, [](uint64_t, uint64_t) {});
    StatQuery q;
    q.all_analyses = true;
    for (const QueryRow& row : run_stat_query(analyzer, q)) {
      bool known;
      (void)analyzer.key_name(row.analysis, row.key, row.info, &known);
      (void)row.hist.quantile(0.99);
    }
  } catch (const ParseError&) {
  }
  return 0;
}
