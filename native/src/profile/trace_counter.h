// perf report's `trace` sort key: samples counted per distinct tracepoint
// payload on the hot path (one hash of the payload, no allocation unless the
// payload is new), formatted by the event's print fmt once per distinct
// payload when a snapshot is taken, then merged by the text, as perf merges
// hist entries whose trace output is equal.
//
// Payload bytes that cannot change the text are left out of the identity:
// the common_* header (pid, flags, preempt count) unless the print fmt reads
// it, so a tracepoint that fires in many threads with the same arguments is
// one slot.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/sample.h"

namespace kvmlens {

// Forward declared so that this header does not bring kvmlens::SymbolTable
// (trace/event_format.h) next to profile::SymbolTable.
class EventPrinter;     // trace/event_printer.h
struct TracingData;     // trace/tracing_data.h

namespace profile {

struct TraceRow {
  uint32_t event = 0;
  std::string text;     // the print fmt's output; "N/A" for samples without one
  uint64_t samples = 0, period = 0;
};

class TraceCounter {
 public:
  // `tracing` may be null (no HEADER_TRACING_DATA): every row is "N/A".
  // `resolve` names kernel addresses for %pS and friends (may be empty).
  using FunctionResolver = std::function<bool(uint64_t addr, std::string* name, uint64_t* start)>;
  TraceCounter(const std::vector<EventAttr>& attrs, const TracingData* tracing, FunctionResolver resolve = {});
  ~TraceCounter();

  void add(uint16_t event, const uint8_t* raw, uint32_t raw_size, uint64_t period);
  // Rows in perf's order: by event, period descending, then the text.
  std::vector<TraceRow> snapshot() const;
  void reset();
  // Print fmts that could not be compiled: "sys:name: why", each once.
  std::vector<std::string> warnings() const;

 private:
  struct Slot {
    uint64_t hash = 0;
    uint64_t samples = 0, period = 0;
    uint32_t offset = 0, size = 0;  // the payload in arena_
    uint16_t event = 0;
    bool used = false;
  };
  struct EventInfo {
    std::unique_ptr<EventPrinter> printer;  // null: "N/A"
    uint32_t skip = 0;                      // leading bytes left out of the identity
    std::string name;
    bool hit = false;  // had samples (only those are warned about)
  };
  void grow();

  std::vector<EventInfo> events_;
  std::vector<Slot> slots_;
  size_t used_ = 0;
  std::vector<uint8_t> arena_;
};

}  // namespace profile
}  // namespace kvmlens
