// Profiling capture: one sampling event (`cycles`, or `cpu-clock` where the
// machine has no hardware PMU, as perf falls back) per CPU, system-wide or
// on given threads, with the kernel's COMM/MMAP2/FORK/EXIT side band on the
// same event. One ring buffer per CPU, drained on a native thread. Records
// go raw to a RawRecordSink (the perf.data writer) and, merged across CPUs
// in time order, to a RecordSink: samples as Sample (ip, period, cpumode),
// everything else as SideBandRecord.
#pragma once
#include <linux/perf_event.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/sample.h"
#include "live/ring_buffer.h"

namespace kvmlens {

struct SamplingOptions {
  bool exclude_host = false;       // perf kvm: !--host
  bool exclude_guest = false;      // perf kvm: --no-guest
  bool exclude_kernel = false;     // set by the source itself when only user space is allowed
  uint64_t freq = 4000;            // samples per second (perf -F); used when period == 0
  bool freq_given = false;         // -F on the command line: tracepoints take it too, as perf's
  uint64_t period = 0;             // fixed period (perf -c)
  bool system_wide = true;         // every task on every CPU
  std::vector<int32_t> tids;       // without system_wide: these threads (children inherit)
  bool enable_on_exec = false;     // a command gated before exec: count from its exec on
  uint64_t mmap_pages = 512;       // per CPU, power of two
  bool try_hardware = true;        // false: cpu-clock straight away (tests)
  // perf's -e: names as given (repeatable, comma separated; see event_spec.h).
  // Empty: cycles, falling back to cpu-clock. Explicit events never fall back.
  std::vector<std::string> events;
  // perf record -g / --call-graph fp: PERF_SAMPLE_CALLCHAIN (the kernel
  // walks frame pointers), at most kernel.perf_event_max_stack entries.
  bool callchain = false;
};

// perf's sample_type for profiles (as `perf record -a` writes it).
constexpr uint64_t kProfileSampleType = PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_IP | PERF_SAMPLE_TID |
                                        PERF_SAMPLE_TIME | PERF_SAMPLE_CPU | PERF_SAMPLE_PERIOD;
// The sample_id_all trailer of a non-sample record: pid, tid, time, cpu, res, identifier.
constexpr uint32_t kProfileIdTrailer = 32;

class SamplingSource {
 public:
  // Opens and maps everything; throws SetupError with the fix on failure.
  explicit SamplingSource(const SamplingOptions& options);
  ~SamplingSource();
  SamplingSource(const SamplingSource&) = delete;
  SamplingSource& operator=(const SamplingSource&) = delete;

  const std::vector<EventAttr>& attrs() const { return attrs_; }
  const std::vector<perf_event_attr>& kernel_attrs() const { return kernel_attrs_; }
  // "cycles" or "cpu-clock" (the -e names joined by ", " when given);
  // `fallback` says why when it is not cycles.
  const std::string& event_name() const { return names_; }
  // "SUBSYS:NAME" of the tracepoints among the events (for TRACING_DATA).
  const std::vector<std::string>& tracepoints() const { return tracepoints_; }
  const std::string& fallback() const { return fallback_; }
  // Set when the kernel is excluded because this user may not profile it.
  const std::string& kernel_excluded() const { return kernel_excluded_; }

  // Enables the events now (unless enable_on_exec: the kernel does at exec);
  // they fill the ring buffers until start() drains them. Idempotent.
  void enable();
  // Enables the events (unless enable_on_exec) and starts draining. `sink`
  // is fed with `*sink_mutex` held, once per pass; either sink may be null.
  void start(RecordSink* sink, std::mutex* sink_mutex, RawRecordSink* raw);
  // Disables the events, drains what is left, joins the thread. Idempotent.
  void stop();

  std::vector<uint64_t> lost_per_cpu() const { return rings_.lost_per_cpu(); }
  uint64_t samples() const { return rings_.samples(); }
  bool running() const { return rings_.running(); }

 private:
  friend class PerCpuRings;  // the Layout of its records
  int open_event(perf_event_attr* attr, int32_t tid, int cpu);
  bool stage_time(const perf_event_header& h, const uint8_t* rec, uint64_t* time) const;
  uint64_t staged_time(const uint8_t* rec) const { return record_time(rec); }
  bool deliver(const uint8_t* rec, RecordSink& sink) const;
  static uint64_t record_time(const uint8_t* rec);

  SamplingOptions options_;
  std::vector<EventAttr> attrs_;
  std::vector<perf_event_attr> kernel_attrs_;
  const EventAttr* attr_of(uint64_t id) const;

  std::string fallback_, kernel_excluded_, names_;
  std::vector<std::string> tracepoints_;
  std::vector<std::pair<uint64_t, uint32_t>> id_index_;  // sorted (id, attr) when several attrs
  bool enabled_ = false;
  PerCpuRings rings_;  // last: its thread stops before the rest goes
};

}  // namespace kvmlens
