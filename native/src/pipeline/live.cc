// Live capture into a KvmSession: the same decoder and analyzer as a file,
// fed by ring buffers instead of the perf.data reader.
#include <unistd.h>

#include "core/errors.h"
#include "live/host_info.h"
#include "live/live_source.h"
#include "pipeline/session_runner.h"

namespace kvmlens {

const std::vector<std::string>& kvm_tracepoints() {
  static const std::vector<std::string> tps = {"kvm:kvm_entry", "kvm:kvm_exit", "kvm:kvm_mmio", "kvm:kvm_pio",
                                               "kvm:kvm_msr"};
  return tps;
}

namespace {

class LiveRunner : public SessionRunner {
 public:
  explicit LiveRunner(std::unique_ptr<LiveSource> source) : source_(std::move(source)) {}
  ~LiveRunner() override { stop(); }
  void stop() override { source_->stop(); }
  bool running() const override { return source_->running(); }
  std::vector<uint64_t> lost_per_cpu() const override { return source_->lost_per_cpu(); }
  std::string error() const override { return ""; }
  LiveSource& source() { return *source_; }

 private:
  std::unique_ptr<LiveSource> source_;
};

}  // namespace

std::unique_ptr<SessionRunner> start_live(const LiveCaptureOptions& options, AnalyzerOptions analyzer_options,
                                          KvmSession* session) {
  std::string root;
  session->source = "live";
  session->tracing = read_tracefs({"kvm"}, &root);
  session->info.cpuid = host_cpuid();
  session->info.arch = host_arch();
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  session->info.hostname = host;
  LiveOptions lo;
  lo.tracepoints = kvm_tracepoints();
  lo.mmap_pages = options.mmap_pages;
  lo.pids = options.pids;
  auto source = std::make_unique<LiveSource>(lo, root);
  session->info.attrs = source->attrs();
  attach_analyzer(session, source->attrs(), std::move(analyzer_options));
  source->start(session->analyzer.get(), &session->mutex, nullptr);
  return std::make_unique<LiveRunner>(std::move(source));
}

}  // namespace kvmlens

#include "live/perf_data_recorder.h"
#include "trace/tracing_blob.h"

namespace kvmlens {

namespace {

class FileRecording : public Recording {
 public:
  FileRecording(std::unique_ptr<LiveSource> source, std::unique_ptr<PerfDataRecorder> recorder)
      : source_(std::move(source)), recorder_(std::move(recorder)) {}
  ~FileRecording() override {
    try {
      stop();
    } catch (...) {
    }
  }
  Result stop() override {
    if (!stopped_) {
      stopped_ = true;
      source_->stop();   // final drain first: nothing collected is lost
      recorder_->close();
    }
    uint64_t lost = 0;
    for (uint64_t l : source_->lost_per_cpu()) lost += l;
    return Result{recorder_->samples(), lost, recorder_->data_bytes()};
  }
  bool running() const override { return !stopped_ && source_->running(); }
  void start() { source_->start(nullptr, nullptr, recorder_.get()); }

 private:
  std::unique_ptr<LiveSource> source_;
  std::unique_ptr<PerfDataRecorder> recorder_;
  bool stopped_ = false;
};

}  // namespace

std::unique_ptr<Recording> start_record(const std::string& path, const LiveCaptureOptions& options,
                                        std::vector<std::string> cmdline) {
  std::string root;
  read_tracefs({"kvm"}, &root);  // the clear error when tracefs or kvm is missing
  LiveOptions lo;
  lo.tracepoints = kvm_tracepoints();
  lo.mmap_pages = options.mmap_pages;
  lo.pids = options.pids;
  auto source = std::make_unique<LiveSource>(lo, root);
  auto recorder = std::make_unique<PerfDataRecorder>(path, source->kernel_attrs(), source->attrs(),
                                                     build_tracing_blob(root, lo.tracepoints), std::move(cmdline));
  auto recording = std::make_unique<FileRecording>(std::move(source), std::move(recorder));
  recording->start();
  return recording;
}

}  // namespace kvmlens
