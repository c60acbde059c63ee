// Live capture: per-CPU perf_event_open on tracepoints, one mmap'd ring buffer
// per CPU, drained on a native thread (epoll + watermark wakeups). Records go
// time-ordered to a RecordSink (the analyzer) and, raw and unordered, to a
// RawRecordSink (the recorder), exactly as perf record writes them.
#pragma once
#include <linux/perf_event.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "core/sample.h"
#include "live/ring_buffer.h"

namespace kvmlens {

struct LiveOptions {
  std::vector<std::string> tracepoints;  // "kvm:kvm_exit", ...
  uint64_t mmap_pages = 512;             // per CPU, power of two
  std::vector<int32_t> pids;             // empty = everything (filtered in user space)
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

  std::vector<uint64_t> lost_per_cpu() const { return rings_.lost_per_cpu(); }
  uint64_t samples() const { return rings_.samples(); }
  uint64_t bytes() const { return rings_.bytes(); }
  bool running() const { return rings_.running(); }

 private:
  friend class PerCpuRings;  // the Layout of its records
  bool stage_time(const perf_event_header& h, const uint8_t* rec, uint64_t* time) const;
  uint64_t staged_time(const uint8_t* rec) const;
  bool deliver(const uint8_t* rec, RecordSink& sink) const;

  std::vector<EventAttr> attrs_;
  std::vector<perf_event_attr> kernel_attrs_;
  std::vector<int32_t> pids_;
  PerCpuRings rings_;  // last: its thread stops before the rest goes
};

}  // namespace kvmlens
