// perf.data reader: file format (PERFILE2 header, attrs + ids, data section,
// feature sections indexed by set-bit rank) and pipe format (records only,
// attrs and tracing data as HEADER_* records). Streams the data: the file is
// mmap'd and records are delivered time-ordered exactly as perf's
// ordered_events does (FINISHED_ROUND windows, stable on equal timestamps)
// with memory proportional to the number of time-ordered runs, not events.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/sample.h"

namespace kvmlens {

// One entry of HEADER_BUILD_ID (feature 2) or a pipe HEADER_BUILD_ID record.
struct BuildIdEntry {
  uint16_t misc = 0;        // cpumode of the DSO (kernel, user, guest kernel, ...)
  int32_t pid = -1;         // machine: -1 host, else the guest's pid
  std::string build_id;     // raw bytes (usually 20)
  std::string filename;     // "/usr/lib/x86_64-linux-gnu/libc.so.6", "[kernel.kallsyms]"
};

// What the header and feature sections say about the recording.
struct PerfFileInfo {
  bool pipe = false;
  uint64_t data_offset = 0, data_size = 0;
  std::vector<EventAttr> attrs;
  // Raw HEADER_TRACING_DATA bytes and where they start in the file
  // (empty if absent). Parsed by trace/tracing_data.h.
  std::vector<uint8_t> tracing_data;
  uint64_t tracing_data_offset = 0;
  std::string cpuid;       // HEADER_CPUID, e.g. "AuthenticAMD,26,2,1"; "" if absent
  std::string arch;        // HEADER_ARCH, e.g. "x86_64"
  std::string hostname, osrelease, perf_version;
  std::vector<std::string> cmdline;
  uint32_t nr_cpus_online = 0, nr_cpus_avail = 0;
  uint64_t features_present[4] = {0, 0, 0, 0};  // the 256-bit feature bitmap
  std::vector<BuildIdEntry> build_ids;          // HEADER_BUILD_ID, in file order
};

struct ReadStats {
  uint64_t records = 0, samples = 0, lost = 0, finished_rounds = 0;
  uint64_t unordered = 0;   // events older than an already flushed window
  uint64_t bytes = 0;
};

class PerfDataReader {
 public:
  // Opens a file (mmap) or, for "-", standard input in pipe format.
  // Reads header, attrs and features; throws ParseError naming the offset.
  static std::unique_ptr<PerfDataReader> open(const std::string& path);
  // The same over bytes in memory (copied): tests and the fuzzer.
  static std::unique_ptr<PerfDataReader> open_memory(const uint8_t* data, size_t size);
  virtual ~PerfDataReader() = default;

  virtual const PerfFileInfo& info() const = 0;

  // Delivers every sample and LOST record to `sink`, time-ordered.
  // `progress(done, total)` is called every few MB (total 0 for pipes).
  // Throws ParseError on a malformed record (after delivering what came before).
  virtual ReadStats run(RecordSink& sink,
                        const std::function<void(uint64_t, uint64_t)>& progress) = 0;
};

}  // namespace kvmlens
