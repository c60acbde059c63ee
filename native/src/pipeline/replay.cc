// File replay at the recorded pace: the demo and test source for the
// exporter on machines without KVM. Same reader, decoder and analyzer as
// `stat report`; only the pacing sink is added in front of the analyzer.
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "core/errors.h"
#include "pipeline/session_runner.h"

namespace kvmlens {

namespace {

struct ReplayStopped {};

// Sleeps so that sample time offsets map to wall-clock offsets / speed, and
// feeds the analyzer under the session lock.
class PacedSink : public RecordSink {
 public:
  PacedSink(KvmSession* session, double speed, const std::atomic<bool>* stop)
      : session_(session), speed_(speed), stop_(stop) {}

  void begin_pass() { first_time_ = 0; }

  void on_sample(const Sample& s) override {
    if (stop_->load(std::memory_order_relaxed)) throw ReplayStopped{};
    pace(s.time);
    std::lock_guard<std::mutex> hold(session_->mutex);
    session_->analyzer->on_sample(s);
  }
  void on_lost(uint64_t lost, uint32_t cpu) override {
    std::lock_guard<std::mutex> hold(session_->mutex);
    session_->analyzer->on_lost(lost, cpu);
  }

 private:
  void pace(uint64_t t) {
    if (speed_ <= 0 || t == 0) return;
    auto now = std::chrono::steady_clock::now();
    if (first_time_ == 0) {
      first_time_ = t;
      wall_start_ = now;
      return;
    }
    if (t < first_time_) return;
    auto due = wall_start_ + std::chrono::nanoseconds(static_cast<int64_t>((t - first_time_) / speed_));
    // Sleep in slices so stop() is honoured within 100 ms even across long gaps.
    while (due > now + std::chrono::milliseconds(1)) {
      if (stop_->load(std::memory_order_relaxed)) throw ReplayStopped{};
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          due - now, std::chrono::milliseconds(100)));
      now = std::chrono::steady_clock::now();
    }
  }

  KvmSession* session_;
  double speed_;
  const std::atomic<bool>* stop_;
  uint64_t first_time_ = 0;
  std::chrono::steady_clock::time_point wall_start_;
};

class ReplayRunner : public SessionRunner {
 public:
  ReplayRunner(std::string path, ReplayOptions options, KvmSession* session)
      : path_(std::move(path)), options_(options), session_(session) {}

  void start(std::unique_ptr<PerfDataReader> first_reader) {
    thread_ = std::thread([this, reader = std::move(first_reader)]() mutable { loop(std::move(reader)); });
  }

  ~ReplayRunner() override { stop(); }

  void stop() override {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  bool running() const override { return running_.load(); }
  std::vector<uint64_t> lost_per_cpu() const override { return {}; }
  std::string error() const override {
    std::lock_guard<std::mutex> hold(error_mutex_);
    return error_;
  }

 private:
  void loop(std::unique_ptr<PerfDataReader> reader) {
    PacedSink sink(session_, options_.speed, &stop_);
    try {
      for (;;) {
        sink.begin_pass();
        ReadStats stats = reader->run(sink, [](uint64_t, uint64_t) {});
        {
          std::lock_guard<std::mutex> hold(session_->mutex);
          session_->read_stats.records += stats.records;
          session_->read_stats.samples += stats.samples;
          session_->read_stats.lost += stats.lost;
          session_->read_stats.bytes += stats.bytes;
        }
        if (!options_.loop || stop_.load()) break;
        reader = PerfDataReader::open(path_);
        rebind(*reader);
      }
    } catch (const ReplayStopped&) {
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> hold(error_mutex_);
      error_ = e.what();
    }
    running_.store(false);
  }

  // A new reader has new attr objects: the decoder binds to them afresh.
  void rebind(const PerfDataReader& reader) {
    std::lock_guard<std::mutex> hold(session_->mutex);
    session_->decoder->rebind(reader.info().attrs);
  }

  std::string path_;
  ReplayOptions options_;
  KvmSession* session_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> running_{true};
  mutable std::mutex error_mutex_;
  std::string error_;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<SessionRunner> start_replay(const std::string& path, const ReplayOptions& options,
                                            AnalyzerOptions analyzer_options, KvmSession* session) {
  std::unique_ptr<PerfDataReader> reader = open_session_source(path, std::move(analyzer_options), session);
  auto runner = std::make_unique<ReplayRunner>(path, options, session);
  runner->start(std::move(reader));
  return runner;
}

}  // namespace kvmlens
