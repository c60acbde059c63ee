#include "pipeline/session.h"

#include <condition_variable>
#include <exception>
#include <thread>

#include "core/errors.h"

namespace kvmlens {

namespace {

// Two cores for one file: this thread reads, orders and decodes the
// records; a second one analyzes the decoded events, in exactly the order
// the reader delivers them, so every statistic is the same as with one
// thread. Events cross packed in chunks through a small bounded queue
// (memory stays O(chunk), never O(events)).
class TwoStageSink : public RecordSink {
 public:
  // A decoded kvm event (a = vcpu_id, exit_reason, gpa, port or ecx; b =
  // mmio type, pio rw or msr write), or with kind kLost a LOST count.
  struct Packed {
    uint64_t time;
    uint64_t a;
    int32_t pid, tid;
    uint32_t b;
    uint8_t kind;
  };
  static constexpr uint8_t kLost = 0xff;
  static constexpr size_t kChunk = 4096, kChunks = 4;

  TwoStageSink(const KvmDecoder* decoder, KvmAnalyzer* analyzer) : decoder_(decoder), analyzer_(analyzer) {
    for (auto& c : chunks_) c.reset(new Packed[kChunk]);
    fill_ = chunks_[0].get();
    worker_ = std::thread([this] { consume(); });
  }
  ~TwoStageSink() override {
    try {
      finish();
    } catch (...) {
    }
  }

  void on_sample(const Sample& s) override {
    Packed& p = fill_[n_];
    KvmEvent::Kind kind;
    if (!decoder_->decode_fields(s, &kind, &p.a, &p.b)) return;
    p.time = s.time;
    p.pid = s.pid;
    p.tid = s.tid;
    p.kind = static_cast<uint8_t>(kind);
    if (++n_ == kChunk) hand_over();
  }
  void on_lost(uint64_t lost, uint32_t cpu) override {
    fill_[n_++] = Packed{0, lost, 0, 0, cpu, kLost};
    if (n_ == kChunk) hand_over();
  }

  // Hands over the last chunk, waits until everything is analyzed, and
  // rethrows what the analyzer thread threw (out of memory).
  void finish() {
    if (!worker_.joinable()) return;
    if (n_) hand_over();
    {
      std::lock_guard<std::mutex> hold(mutex_);
      done_ = true;
    }
    ready_cv_.notify_one();
    worker_.join();
    if (error_) std::rethrow_exception(error_);
  }

 private:
  // Chunk k of the sequence lives in chunks_[k % kChunks]; the reader may
  // fill chunk `produced_` once the analyzer is done with the one kChunks
  // before it.
  void hand_over() {
    std::unique_lock<std::mutex> hold(mutex_);
    sizes_[produced_ % kChunks] = n_;
    produced_++;
    ready_cv_.notify_one();
    free_cv_.wait(hold, [&] { return produced_ - consumed_ < kChunks; });
    fill_ = chunks_[produced_ % kChunks].get();
    n_ = 0;
  }

  void consume() {
    for (;;) {
      size_t index, count;
      {
        std::unique_lock<std::mutex> hold(mutex_);
        ready_cv_.wait(hold, [&] { return produced_ > consumed_ || done_; });
        if (produced_ == consumed_) return;
        index = consumed_ % kChunks;
        count = sizes_[index];
      }
      if (!error_) {
        try {
          analyze(chunks_[index].get(), count);
        } catch (...) {
          error_ = std::current_exception();  // keep draining so the reader never blocks
        }
      }
      {
        std::lock_guard<std::mutex> hold(mutex_);
        consumed_++;
      }
      free_cv_.notify_one();
    }
  }

  void analyze(const Packed* p, size_t count) {
    for (size_t i = 0; i < count; i++) {
      if (__builtin_expect(p[i].kind == kLost, 0)) {
        analyzer_->on_lost(p[i].a, p[i].b);
        continue;
      }
      analyzer_->on_fields(static_cast<KvmEvent::Kind>(p[i].kind), p[i].time, p[i].pid, p[i].tid, p[i].a, p[i].b);
    }
  }

  const KvmDecoder* decoder_;
  KvmAnalyzer* analyzer_;
  std::unique_ptr<Packed[]> chunks_[kChunks];
  size_t sizes_[kChunks] = {};
  Packed* fill_;
  size_t n_ = 0;
  std::mutex mutex_;
  std::condition_variable ready_cv_, free_cv_;
  uint64_t produced_ = 0, consumed_ = 0;  // chunks handed over / analyzed
  bool done_ = false;
  std::exception_ptr error_;
  std::thread worker_;
};

}  // namespace

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
  // The analyzer may run on its own thread unless it calls back (long events).
  const bool two_stage = !session->analyzer->calls_back() && std::thread::hardware_concurrency() > 1;
  std::unique_ptr<TwoStageSink> staged;
  if (two_stage) staged = std::make_unique<TwoStageSink>(session->decoder.get(), session->analyzer.get());
  RecordSink& sink = two_stage ? static_cast<RecordSink&>(*staged) : *session->analyzer;
  try {
    session->read_stats = reader->run(sink, progress);
  } catch (const ParseError& e) {
    session->has_data_error = true;
    session->data_error = e.what();
    session->data_error_offset = e.offset();
  }
  if (staged) staged->finish();  // what came before an error is analyzed too
  return session;
}

}  // namespace kvmlens
