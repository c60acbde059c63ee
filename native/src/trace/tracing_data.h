// HEADER_TRACING_DATA (perf.data feature 1, or PERF_RECORD_HEADER_TRACING_DATA
// in pipe mode): "\x17\x08\x44tracing", version, endianness, long size, page
// size, header_page, header_event, ftrace formats, per-system event formats,
// kallsyms, printk formats, saved cmdlines. Also built from a live tracefs.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "trace/event_format.h"

namespace kvmlens {

struct TracingData {
  std::string version;         // "0.6"
  bool big_endian = false;
  uint32_t long_size = 8;
  uint32_t page_size = 4096;
  std::vector<EventFormat> events;   // every system except ftrace
  // The printk formats section: address -> string (quotes and a final \n
  // stripped), what a print fmt's %s of a `const char *` field prints.
  std::map<uint64_t, std::string> printk;

  const EventFormat* find(uint32_t id) const;
  const EventFormat* find(const std::string& system, const std::string& name) const;
};

// Parses the section. `base_offset` is added to offsets in errors so they
// point into the whole file. Throws ParseError.
TracingData parse_tracing_data(const uint8_t* data, uint64_t size, uint64_t base_offset);

// Reads formats for the given systems (e.g. {"kvm"}) from a mounted tracefs
// ("/sys/kernel/tracing", falling back to "/sys/kernel/debug/tracing").
// Throws SetupError with the fix when tracefs or the system is missing.
TracingData read_tracefs(const std::vector<std::string>& systems, std::string* tracefs_root);

}  // namespace kvmlens
