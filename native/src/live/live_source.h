// Live capture: per-CPU perf_event_open on tracepoints, one mmap'd ring buffer
// per CPU, drained on a native thread (epoll + watermark wakeups). Records go
// time-ordered to a RecordSink (the analyzer) and, raw and unordered, to a
// RawRecordSink (the recorder), exactly as perf record writes them.
#pragma once
#include <linux/perf_event.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/sample.h"

namespace kvmlens {

struct LiveOptions {
  std::vector<std::string> tracepoints;  // "kvm:kvm_exit", ...
  uint64_t mmap_pages = 512;             // per CPU, power of two
  std::vector<int32_t> pids;             // empty = everything (filtered in user space)
};

class RawRecordSink {
 public:
  virtual ~RawRecordSink() = default;
  virtual void on_record(const uint8_t* record, uint32_t size) = 0;
  virtual void on_pass_end() = 0;  // every ring buffer drained once: FINISHED_ROUND
};

class LiveSource {
 public:
  // Opens and maps everything; throws SetupError with the fix on failure.
  LiveSource(const LiveOptions& options, const std::string& tracefs_root);
  ~LiveSource();
  LiveSource(const LiveSource&) = delete;
  LiveSource& operator=(const LiveSource&) = delete;

  const std::vector<EventAttr>& attrs() const { return attrs_; }
  const std::vector<perf_event_attr>& kernel_attrs() const { return kernel_attrs_; }

  // Enables the events and starts draining. `sink` is fed with `*sink_mutex`
  // held (once per drain pass, not per event); either sink may be null.
  void start(RecordSink* sink, std::mutex* sink_mutex, RawRecordSink* raw);
  // Disables the events, drains what is left, joins the thread. Idempotent.
  void stop();

  std::vector<uint64_t> lost_per_cpu() const;
  uint64_t samples() const { return samples_.load(); }
  uint64_t bytes() const { return bytes_.load(); }
  bool running() const { return running_.load(); }

 private:
  struct CpuBuffer {
    int cpu = 0;
    int leader_fd = -1;
    void* base = nullptr;          // perf_event_mmap_page + data
    size_t map_size = 0;
    std::vector<uint8_t> stage;    // drained, not yet delivered (time-ordered)
    size_t stage_pos = 0;
    std::atomic<uint64_t> lost{0};
  };

  void drain_loop();
  bool drain_pass();               // returns whether anything was read
  void drain_cpu(CpuBuffer& b);
  void flush_ordered(uint64_t limit);
  void deliver(const uint8_t* rec);

  std::vector<EventAttr> attrs_;
  std::vector<perf_event_attr> kernel_attrs_;
  std::vector<int> fds_;
  std::vector<CpuBuffer*> cpus_;
  std::vector<int32_t> pids_;
  uint64_t page_size_ = 4096;
  int epoll_fd_ = -1, stop_fd_ = -1;

  RecordSink* sink_ = nullptr;
  std::mutex* sink_mutex_ = nullptr;
  RawRecordSink* raw_ = nullptr;
  std::thread thread_;
  std::atomic<bool> running_{false}, stopping_{false};
  std::atomic<uint64_t> samples_{0}, bytes_{0};
  uint64_t delivered_ = 0;  // drain thread only; added to samples_ once per flush
  uint64_t prev_pass_max_ = 0, pass_max_ = 0;
  std::vector<uint8_t> scratch_;   // a record that wraps around the ring end
};

}  // namespace kvmlens
