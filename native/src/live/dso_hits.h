// Which DSOs the samples of a recording hit, as perf record marks them
// before it writes HEADER_BUILD_ID: address maps per process from
// MMAP/MMAP2 (FORK copies them, an exec's COMM drops them), kernel maps per
// machine (host, guests), and one lookup per sample. Names only: no symbols.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/sample.h"
#include "live/proc_synth.h"

namespace kvmlens {

struct HitDso {
  std::string name;          // file path, "[kernel.kallsyms]", "[vdso]", ...
  uint16_t cpumode = 0;      // PERF_RECORD_MISC_KERNEL / USER / GUEST_KERNEL / GUEST_USER
  int32_t machine_pid = -1;  // -1 host, else the guest machine's pid
  int32_t pid = -1;          // a process that mapped it (to read it through /proc/PID/root)
  uint64_t samples = 0;
};

class DsoHitTracker : public RecordSink {
 public:
  // Kernel images of the machines (host first); samples in a guest kernel
  // go to the image of their pid, or to the default guest (pid 0).
  explicit DsoHitTracker(std::vector<KernelImage> kernels) : kernels_(std::move(kernels)) {}

  void on_sample(const Sample& s) override;
  void on_side_band(const SideBandRecord& r) override;
  // Feeds a buffer of synthesized records (proc_synth) as side band.
  void feed(const std::vector<uint8_t>& records);

  // The DSOs with at least one sample, in first-hit order.
  std::vector<HitDso> hits() const;
  uint64_t samples() const { return samples_; }
  uint64_t first_time() const { return first_time_; }  // 0 without samples
  uint64_t last_time() const { return last_time_; }
  uint64_t unresolved() const { return unresolved_; }

 private:
  struct Map {
    uint64_t start, end;
    uint32_t dso;
  };
  uint32_t dso_index(const std::string& name, uint16_t cpumode, int32_t machine_pid, int32_t pid);
  static void insert(std::vector<Map>* maps, Map m);
  static const Map* find(const std::vector<Map>& maps, uint64_t ip);
  void hit(uint32_t dso);

  std::vector<KernelImage> kernels_;
  std::vector<HitDso> dsos_;
  std::vector<uint32_t> hit_order_;
  std::unordered_map<std::string, uint32_t> dso_by_key_;
  std::unordered_map<int32_t, std::vector<Map>> user_maps_;     // by pid
  std::unordered_map<int32_t, std::vector<Map>> kernel_maps_;   // by machine pid (modules, kernel)
  uint64_t samples_ = 0, unresolved_ = 0, first_time_ = 0, last_time_ = 0;
};

}  // namespace kvmlens
