// A source that keeps feeding a KvmSession on a native thread (file replay at
// recorded pace, or live ring buffers), while JS queries the session under
// its mutex. One interface so the exporter does not care which it is.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/session.h"

namespace kvmlens {

class SessionRunner {
 public:
  virtual ~SessionRunner() = default;
  virtual void stop() = 0;                  // idempotent; joins the thread
  virtual bool running() const = 0;
  virtual std::vector<uint64_t> lost_per_cpu() const = 0;
  // Set when the source ended with an error (file damaged, device gone).
  virtual std::string error() const = 0;
};

struct ReplayOptions {
  double speed = 1.0;   // 2.0 = twice the recorded pace; <= 0 = as fast as possible
  bool loop = false;
};

// Opens the file (throws ParseError like analyze_file), then replays it on a
// thread into `session`, which must outlive the runner.
std::unique_ptr<SessionRunner> start_replay(const std::string& path, const ReplayOptions& options,
                                            AnalyzerOptions analyzer_options, KvmSession* session);

struct LiveCaptureOptions {
  uint64_t mmap_pages = 512;
  std::vector<int32_t> pids;   // empty: every VM on the host
};

// Opens the kvm tracepoints on every CPU (throws SetupError with the fix),
// fills `session` from tracefs and this host, and feeds its analyzer from a
// native drain thread until stop().
std::unique_ptr<SessionRunner> start_live(const LiveCaptureOptions& options, AnalyzerOptions analyzer_options,
                                          KvmSession* session);

}  // namespace kvmlens

namespace kvmlens {

// `stat record`: ring buffers drained straight into a perf.data file.
class Recording {
 public:
  virtual ~Recording() = default;
  struct Result { uint64_t samples, lost, bytes; };
  virtual Result stop() = 0;  // drains, writes the features, closes; throws SetupError on I/O errors
  virtual bool running() const = 0;
};

std::unique_ptr<Recording> start_record(const std::string& path, const LiveCaptureOptions& options,
                                        std::vector<std::string> cmdline);

}  // namespace kvmlens
