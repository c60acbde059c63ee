// Writes a perf.data file (PERFILE2) that real perf reads: the records
// exactly as drained from the ring buffers with FINISHED_ROUND after each
// pass, the attrs with their ids, and the features perf kvm stat report
// needs (TRACING_DATA, CPUID, ...; no TRACING_DATA when the blob is empty,
// as for a profile) plus HOSTNAME, OSRELEASE, VERSION, ARCH,
// NRCPUS, CMDLINE and EVENT_DESC. The path "-" writes perf's pipe mode to
// standard output.
#pragma once
#include <linux/perf_event.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "core/sample.h"
#include "live/live_source.h"

namespace kvmlens {

class PerfDataRecorder : public RawRecordSink {
 public:
  PerfDataRecorder(const std::string& path, const std::vector<perf_event_attr>& kernel_attrs,
                   const std::vector<EventAttr>& attrs, std::vector<uint8_t> tracing_blob,
                   std::vector<std::string> cmdline);
  ~PerfDataRecorder() override;

  void on_record(const uint8_t* record, uint32_t size) override;
  void on_pass_end() override;
  // An extra feature section written by close() (e.g. HEADER_BUILD_ID = 2,
  // known only once the data is in); kept in feature-bit order.
  void add_feature(int bit, std::vector<uint8_t> payload);
  // Writes attrs, features and the final header; throws SetupError on I/O errors.
  void close();

  uint64_t data_bytes() const { return data_size_; }
  uint64_t samples() const { return samples_; }
  uint64_t lost() const { return lost_; }

 private:
  void write(const void* p, size_t n);
  void flush_pipe();
  void write_pipe_head();
  void write_feature_record(int bit, const std::vector<uint8_t>& payload);
  void write_build_id_records(std::vector<uint8_t>* section);
  // HOSTNAME ... EVENT_DESC: what both modes write (TRACING_DATA and the
  // extra features aside).
  std::vector<std::pair<int, std::vector<uint8_t>>> common_features() const;

  std::string path_;
  bool pipe_ = false;
  FILE* f_ = nullptr;                // a file
  int pipe_fd_ = -1;                 // pipe mode: a dup of standard output
  std::vector<uint8_t> pipe_buf_;
  std::vector<perf_event_attr> kernel_attrs_;
  std::vector<EventAttr> attrs_;
  std::vector<uint8_t> tracing_;
  std::vector<std::string> cmdline_;
  std::vector<std::pair<int, std::vector<uint8_t>>> extra_features_;
  uint64_t data_offset_ = 0, data_size_ = 0, samples_ = 0, lost_ = 0;
  bool closed_ = false;
  bool io_error_ = false;
};

}  // namespace kvmlens
