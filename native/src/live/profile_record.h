// `kvmlens record`: a sampling profile written as a perf.data file that
// real `perf report` and `perf buildid-list` read: the synthesized side band
// of what already runs (proc_synth), the kernel's records as drained, and
// at the end HEADER_BUILD_ID for every DSO the samples hit (dso_hits).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "live/dso_hits.h"
#include "live/sampling_source.h"

namespace kvmlens {

struct ProfileTarget {
  SamplingOptions sampling;
  std::string buildid_dir;  // "" = no build-id cache (perf record -N)
  std::string guestmount, guestkallsyms, guestmodules, guestvmlinux;
};

// Where each written build-id came from, for the build-id cache.
struct BuildIdSource {
  std::string name;        // as in the header: path, "[kernel.kallsyms]", "[vdso]"
  std::string hex;
  uint16_t cpumode = 0;
  int32_t machine_pid = -1;
  bool kernel_image = false;  // a machine's kernel (kallsyms), not a file
  std::string file;        // the ELF read (may be /proc/PID/root/...), "" for kernels and the vDSO
};

// perf's HEADER_BUILD_ID payload: one build_id_event per DSO with a
// build-id (misc = cpumode | PERF_RECORD_MISC_BUILD_ID_SIZE, pid = machine,
// 20-byte id + size byte, name NUL-padded to 64). Names of hit DSOs
// without a readable build-id are appended to `missing`.
std::vector<uint8_t> build_id_feature(const std::vector<HitDso>& hits, const std::vector<KernelImage>& kernels,
                                      const std::string& guestvmlinux, std::vector<std::string>* missing,
                                      std::vector<BuildIdSource>* sources = nullptr);

// perf record's build-id cache, as perf 6.1 lays it out under `dir`
// ($HOME/.debug): PATH/BUILDID/elf (a hard link, else a copy),
// [kernel.kallsyms]/BUILDID/kallsyms (of /proc/kallsyms), [vdso]/BUILDID/vdso,
// and .build-id/xx/rest -> ../../PATH/BUILDID. Host DSOs only; entries that
// exist are kept. Returns one message per entry that could not be added.
std::vector<std::string> add_to_buildid_cache(const std::string& dir, const std::vector<BuildIdSource>& sources);

class ProfileRecording {
 public:
  struct Result {
    uint64_t samples = 0, lost = 0, bytes = 0;
    std::vector<std::pair<std::string, std::string>> build_ids;  // (hex, name) written
    std::vector<std::string> warnings;        // hit DSOs without a build-id (for -v)
    std::vector<std::string> cache_problems;  // entries the build-id cache did not take
  };
  virtual ~ProfileRecording() = default;
  virtual const std::string& event_name() const = 0;
  virtual const std::vector<std::string>& setup_warnings() const = 0;
  // Drains, writes the build-ids and features, closes; throws SetupError on I/O errors.
  virtual Result stop() = 0;
  virtual bool running() const = 0;
};

// Opens the events and the file, synthesizes the side band of `pids` (or of
// every process when system-wide), then starts draining.
std::unique_ptr<ProfileRecording> start_profile_record(const std::string& path, const ProfileTarget& target,
                                                       const std::vector<int32_t>& synth_pids,
                                                       std::vector<std::string> cmdline);

}  // namespace kvmlens
