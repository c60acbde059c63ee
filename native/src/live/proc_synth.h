// Side band perf record synthesizes for what existed before recording
// started, so samples of running processes and of the kernel resolve:
// - the kernel's own map as perf writes it: MMAP pid -1,
//   "[kernel.kallsyms]_text", start = pgoff = address of _text (the
//   relocation reference perf report checks against kallsyms), up to _etext;
//   one MMAP per module from /proc/modules;
// - a guest kernel's map, from a copy of its kallsyms (--guestkallsyms, the
//   default guest, pid 0) or GUESTMOUNT/<pid>/proc/kallsyms, named
//   "[guest.kernel.kallsyms]_text" / "[guest.kernel.kallsyms.<pid>]_text";
// - per process: FORK and COMM for each thread, MMAP2 for each executable
//   mapping in /proc/PID/maps.
// Every record ends in a zeroed sample_id_all trailer of kProfileIdTrailer
// bytes (time 0), so it sorts before anything the kernel writes.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace kvmlens {

struct KernelImage {
  bool guest = false;
  int32_t pid = -1;          // machine pid: -1 host, 0 default guest, else the QEMU pid
  uint64_t start = 0, end = 0;
  std::string mmap_name;     // "[kernel.kallsyms]", "[guest.kernel.kallsyms.42]"
  std::string ref_symbol;    // "_text" (or "_stext")
  std::string notes_path;    // where its build-id can be read (notes stream), may be empty
};

// _text/_stext and _etext of a kallsyms file; false if absent or zeroed
// (kptr_restrict).
bool kallsyms_text_range(const std::string& path, uint64_t* start, uint64_t* end, std::string* ref_symbol);

class RecordSink;
// Hands each record of a synthesized buffer to `sink` as side band (time 0).
void feed_side_band(const std::vector<uint8_t>& records, RecordSink* sink);

class SideBandSynthesizer {
 public:
  explicit SideBandSynthesizer(uint32_t trailer_size) : trailer_(trailer_size) {}

  // Host kernel and modules. Returns the host kernel image (start 0 when
  // kallsyms hides addresses; then no MMAP is written, as perf warns).
  KernelImage host_kernel(std::string* warning);
  // Guest kernels from --guestkallsyms and/or GUESTMOUNT/<pid>/proc/kallsyms.
  std::vector<KernelImage> guest_kernels(const std::string& guestmount, const std::string& guestkallsyms,
                                         const std::string& guestmodules);
  // One process (all its threads) or every process in /proc.
  void process(int32_t pid);
  void all_processes();

  const std::vector<uint8_t>& records() const { return out_; }

  // Record builders (also used by tests).
  void comm(int32_t pid, int32_t tid, const std::string& comm);
  void fork(int32_t pid, int32_t ppid, int32_t tid, int32_t ptid);
  void mmap(uint16_t misc, int32_t pid, int32_t tid, uint64_t start, uint64_t len, uint64_t pgoff,
            const std::string& filename);
  void mmap2(int32_t pid, int32_t tid, uint64_t start, uint64_t len, uint64_t pgoff, uint32_t maj, uint32_t min,
             uint64_t ino, uint32_t prot, uint32_t flags, const std::string& filename);

 private:
  void modules(const std::string& modules_path, bool guest, int32_t pid, const std::string& release);
  void finish(size_t start);
  std::vector<uint8_t> out_;
  uint32_t trailer_;
};

}  // namespace kvmlens
