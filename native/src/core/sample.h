// The record model shared by every source (perf.data file, pipe, live ring
// buffers) and every consumer (decoder, analyzer). A source parses records
// into these plain views; pointers stay valid only during the callback.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace kvmlens {

// perf_event_attr fields the core needs, plus the event's name and ids.
struct EventAttr {
  uint32_t type = 0;          // PERF_TYPE_*
  uint64_t config = 0;        // tracepoint id for PERF_TYPE_TRACEPOINT
  uint64_t sample_type = 0;   // PERF_SAMPLE_* bits
  uint64_t read_format = 0;
  bool sample_id_all = false;
  std::string name;           // "kvm:kvm_exit" when known (EVENT_DESC or tracing data)
  std::vector<uint64_t> ids;  // sample ids belonging to this attr
};

// One PERF_RECORD_SAMPLE, already split by its attr's sample_type.
struct Sample {
  const EventAttr* attr = nullptr;  // never null for a delivered sample
  uint64_t id = 0;
  uint64_t time = 0;                // 0 when the sample has no TIME
  int32_t pid = -1;
  int32_t tid = -1;
  uint32_t cpu = 0;
  uint64_t ip = 0;                  // PERF_SAMPLE_IP, 0 when absent
  uint64_t period = 0;              // PERF_SAMPLE_PERIOD, 0 when absent
  uint16_t misc = 0;                // header misc: PERF_RECORD_MISC_CPUMODE_MASK bits
  const uint8_t* raw = nullptr;     // tracepoint payload (trace entry), after the u32 size
  uint32_t raw_size = 0;
  // PERF_SAMPLE_CALLCHAIN: `callchain_nr` u64 entries (unaligned; read with
  // memcpy), context markers (PERF_CONTEXT_*) included; null when absent.
  const uint8_t* callchain = nullptr;
  uint32_t callchain_nr = 0;
  uint64_t file_offset = 0;         // where the record starts, for error messages
};

// A non-sample kernel record (COMM, MMAP, MMAP2, FORK, EXIT, ...) with the
// time of its sample_id_all trailer (0 if none). `record` points at the
// perf_event_header; the consumer parses the body it cares about.
struct SideBandRecord {
  uint32_t type = 0;                // PERF_RECORD_*
  uint16_t misc = 0;
  uint16_t size = 0;
  uint64_t time = 0;
  const uint8_t* record = nullptr;
  uint64_t file_offset = 0;
};

// Receives records in delivery order (time order, as perf processes them).
class RecordSink {
 public:
  virtual ~RecordSink() = default;
  virtual void on_sample(const Sample& sample) = 0;
  // PERF_RECORD_LOST / LOST_SAMPLES: `lost` records dropped by the kernel.
  virtual void on_lost(uint64_t lost, uint32_t cpu) { (void)lost; (void)cpu; }
  // PERF_RECORD_LOST_SAMPLES alone (the kernel's count of samples it could
  // not write, which perf record saves at the end): perf report's "Total Lost
  // Samples" counts only these. Counted as on_lost unless a sink tells them apart.
  virtual void on_lost_samples(uint64_t lost, uint32_t cpu) { on_lost(lost, cpu); }
  // Every other kernel record type below PERF_RECORD_USER_TYPE_START.
  virtual void on_side_band(const SideBandRecord& record) { (void)record; }
};

}  // namespace kvmlens
