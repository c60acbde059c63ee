// The events `record -e` / `top -e` accept, with perf's names and meaning:
// hardware events (cycles, instructions, ...), software events (cpu-clock,
// page-faults/faults, ...), tracepoints SUBSYS:NAME (id from tracefs), and
// the u/k/h modifiers. -e is repeatable and comma separated.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace kvmlens {

struct EventSpec {
  std::string name;        // as the user spelled it, modifiers included ("cpu-clock:u")
  uint32_t type = 0;       // PERF_TYPE_HARDWARE / SOFTWARE / TRACEPOINT
  uint64_t config = 0;     // the event, or the tracepoint id
  std::string tracepoint;  // "sched:sched_switch" for tracepoints
  bool exclude_user = false, exclude_kernel = false, exclude_hv = false;
  bool modified = false;  // u, k or h given: perf then leaves exclude_host clear (see sampling_source.cc)
};

// Splits every argument at commas and resolves each event; throws
// SetupError ("event syntax error: 'foo': ...") for unknown names or
// modifiers. Tracepoints are looked up under `tracefs_root` (found on first
// need when empty).
std::vector<EventSpec> parse_event_specs(const std::vector<std::string>& args, std::string tracefs_root = "");

}  // namespace kvmlens
