// The native part of `kvmlens stat report` alone, for profiling and for
// checking that a change keeps every statistic bit for bit:
//   build/report_bench FILE [REPEAT] [--dump] [--one-thread | --read-only | --touch-raw |
//                                              --decode-only | --analyze-only]
// prints the best wall time of REPEAT analyze_file() runs, or of one stage:
// the reader alone (--read-only; --touch-raw also loads two payload bytes),
// reader and decoder (--decode-only), or the analyzer alone on events
// decoded into memory beforehand (--analyze-only). --dump prints
// every analyzer row (count, sum, min, max, and mean/M2-derived values in
// hex) so that two builds can be diffed.
#include <sys/resource.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "pipeline/session.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE [REPEAT] [--dump]\n", argv[0]);
    return 2;
  }
  const std::string path = argv[1];
  int repeat = 1;
  bool dump = false;
  int stage = 0;  // 1: reader only, 2: reader + decoder
  bool one_thread = false;  // an analyzer that calls back keeps analyze_file on one thread
  for (int i = 2; i < argc; i++) {
    if (std::strcmp(argv[i], "--dump") == 0) dump = true;
    else if (std::strcmp(argv[i], "--read-only") == 0) stage = 1;
    else if (std::strcmp(argv[i], "--decode-only") == 0) stage = 2;
    else if (std::strcmp(argv[i], "--one-thread") == 0) one_thread = true;
    else if (std::strcmp(argv[i], "--touch-raw") == 0) stage = 3;
    else if (std::strcmp(argv[i], "--analyze-only") == 0) stage = 4;
    else repeat = std::atoi(argv[i]);
  }
  double best = 1e30;
  std::unique_ptr<kvmlens::KvmSession> session;
  for (int r = 0; r < repeat; r++) {
    auto t0 = std::chrono::steady_clock::now();
    if (stage) {
      // The reader (and decoder) alone, into a sink that only counts.
      struct Count : kvmlens::RecordSink {
        const kvmlens::KvmDecoder* decoder = nullptr;
        uint64_t n = 0;
        bool touch = false, collect = false;
        struct Fields {
          uint64_t time, a;
          int32_t pid, tid;
          uint32_t b;
          kvmlens::KvmEvent::Kind kind;
        };
        std::vector<Fields> events;
        void on_sample(const kvmlens::Sample& s) override {
          if (touch) { n += s.raw[s.raw_size - 4] + s.raw[8]; return; }
          kvmlens::KvmEvent::Kind kind;
          uint64_t a;
          uint32_t b;
          if (collect) {
            if (decoder->decode_fields(s, &kind, &a, &b)) events.push_back(Fields{s.time, a, s.pid, s.tid, b, kind});
            return;
          }
          if (!decoder || decoder->decode_fields(s, &kind, &a, &b)) n += a;
        }
      } count;
      session = std::make_unique<kvmlens::KvmSession>();
      auto reader = kvmlens::open_session_source(path, kvmlens::AnalyzerOptions(), session.get());
      count.touch = stage == 3;
      if (stage == 2 || stage == 4) count.decoder = session->decoder.get();
      count.collect = stage == 4;
      if (stage == 4) count.events.reserve(10100000);
      session->read_stats = reader->run(count, [](uint64_t, uint64_t) {});
      if (stage == 4) {
        // The analyzer alone, on events decoded beforehand.
        t0 = std::chrono::steady_clock::now();
        for (const auto& e : count.events) session->analyzer->on_fields(e.kind, e.time, e.pid, e.tid, e.a, e.b);
        session->analyzer->rows();
      }
    } else {
      kvmlens::AnalyzerOptions options;
      if (one_thread) options.long_threshold_ns = ~0ULL;  // never reached, but a callback
      session = kvmlens::analyze_file(path, options, [](uint64_t, uint64_t) {});
    }
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (s < best) best = s;
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  const double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  std::fprintf(stderr, "cpu (user+sys, all runs): %.3f s per run\n", cpu / repeat);
  const auto& st = session->read_stats;
  std::fprintf(stderr, "best of %d: %.3f s; %" PRIu64 " records, %" PRIu64 " samples, %" PRIu64
               " rounds, %" PRIu64 " kvm events, %zu rows%s%s\n",
               repeat, best, st.records, st.samples, st.finished_rounds, session->analyzer->events(),
               session->analyzer->rows().size(), session->has_data_error ? "; error: " : "",
               session->data_error.c_str());
  if (dump) {
    for (const auto& row : session->analyzer->rows()) {
      double mean = row.hist.mean(), rel = row.hist.rel_stddev_percent();
      uint64_t mb, rb;
      std::memcpy(&mb, &mean, 8);
      std::memcpy(&rb, &rel, 8);
      std::printf("%d %d %u %" PRIx64 " %u n=%" PRIu64 " sum=%" PRIu64 " min=%" PRIu64 " max=%" PRIu64
                  " mean=%016" PRIx64 " rel=%016" PRIx64 " p50=%" PRIu64 " p99=%" PRIu64 "\n",
                  static_cast<int>(row.analysis), row.pid, row.vcpu, row.key, row.info, row.hist.count(),
                  row.hist.sum(), row.hist.min(), row.hist.max(), mb, rb, row.hist.quantile(0.5),
                  row.hist.quantile(0.99));
      // Every bucket, folded into one hash, and the octave range they span.
      std::vector<kvmlens::LatencyHistogram::Bucket> b;
      row.hist.buckets(&b);
      uint64_t h = 0xcbf29ce484222325ULL;
      for (const auto& x : b) h = (h ^ x.lower ^ (x.count << 20)) * 0x100000001b3ULL;
      const int lo = b.empty() ? 0 : kvmlens::LatencyHistogram::index_of(b.front().lower) / 64;
      const int hi = b.empty() ? 0 : kvmlens::LatencyHistogram::index_of(b.back().lower) / 64;
      std::printf("  buckets=%zu octaves=%d-%d hash=%016" PRIx64 " le1us=%" PRIu64 "\n", b.size(), lo, hi, h,
                  row.hist.count_at_or_below(1000));
    }
  }
  return 0;
}
