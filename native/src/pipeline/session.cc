#include "pipeline/session.h"

#include <condition_variable>
#include <exception>
#include <thread>

#include "core/errors.h"

namespace kvmlens {

namespace {

// Two cores for one file: this thread reads and orders the records (the
// reader), a second one decodes and analyzes them, in exactly the order the
// reader delivers them, so every statistic is the same as with one thread.
// Samples cross in chunks through a small bounded queue (memory stays
// O(chunk), never O(events)).
class TwoStageSink : public RecordSink {
 public:
  // A sample as the decoder needs it; attr == kLost carries a LOST count.
  struct Entry {
    uint64_t time;
    const uint8_t* raw;
    int32_t pid, tid;
    uint32_t cpu, raw_size;
    const EventAttr* attr;
  };
  static constexpr size_t kChunk = 2048, kChunks = 4;

  explicit TwoStageSink(KvmAnalyzer* analyzer) : analyzer_(analyzer) {
    for (auto& c : chunks_) c.reset(new Entry[kChunk]);
    fill_ = chunks_[0].get();
    worker_ = std::thread([this] { consume(); });
  }
  ~TwoStageSink() override { finish(); }

  void on_sample(const Sample& s) override {
    fill_[n_++] = Entry{s.time, s.raw, s.pid, s.tid, s.cpu, s.raw_size, s.attr};
    if (n_ == kChunk) hand_over();
  }
  void on_lost(uint64_t lost, uint32_t cpu) override {
    fill_[n_++] = Entry{lost, nullptr, 0, 0, cpu, 0, nullptr};
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

  void analyze(const Entry* e, size_t count) {
    Sample s;
    for (size_t i = 0; i < count; i++) {
      if (i + 8 < count && e[i + 8].raw) __builtin_prefetch(e[i + 8].raw);
      if (!e[i].attr) {
        analyzer_->on_lost(e[i].time, e[i].cpu);
        continue;
      }
      s.attr = e[i].attr;
      s.time = e[i].time;
      s.pid = e[i].pid;
      s.tid = e[i].tid;
      s.cpu = e[i].cpu;
      s.raw = e[i].raw;
      s.raw_size = e[i].raw_size;
      analyzer_->on_sample(s);
    }
  }

  KvmAnalyzer* analyzer_;
  std::unique_ptr<Entry[]> chunks_[kChunks];
  size_t sizes_[kChunks] = {};
  Entry* fill_;
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
  if (two_stage) staged = std::make_unique<TwoStageSink>(session->analyzer.get());
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
