// DSOs and their symbols: one Dso per distinct object (an ELF path, the
// host kernel, a guest's kernel, a kernel module), its symbol table parsed
// once, on first use, from the source perf would use:
//   host user DSO   build-id cache (~/.debug/PATH/BUILDID/elf), else PATH if
//                   its build-id matches the recording's (or none recorded)
//   host kernel     --kallsyms / --vmlinux, else the build-id cache's
//                   kallsyms, else /proc/kallsyms if the running kernel's
//                   build-id matches
//   guest kernel    --guestvmlinux (ELF), else --guestkallsyms (+
//                   --guestmodules), else GUESTMOUNT/PID/proc/kallsyms
//   guest user DSO  GUESTMOUNT/PID/PATH
// Problems (missing, unreadable, symbol-less or mismatched files) become
// one warning each, naming the file; their samples stay raw addresses.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "elf/elf_reader.h"
#include "perf/perf_data.h"
#include "profile/symbol_table.h"

namespace kvmlens {
namespace profile {

struct SymbolizerOptions {
  bool host = true;             // resolve host samples (perf's perf_host)
  bool guest = false;           // resolve guest samples (perf's perf_guest)
  std::string kallsyms;         // host kallsyms file; "" = build-id cache, then /proc/kallsyms
  std::string vmlinux;          // host vmlinux ELF (optional)
  std::string guest_kallsyms, guest_modules, guest_vmlinux, guest_mount;
  std::string buildid_dir;      // "" = $HOME/.debug
  bool demangle = true;         // C++ names of user-space ELF symbols (perf's --no-demangle: false)
  std::string proc_root = "/proc";       // where kallsyms is read from (tests)
  std::string kernel_notes = "/sys/kernel/notes";
};

enum class DsoKind : uint8_t { kUser, kKernel, kModule, kGuestKernel, kGuestModule, kGuestUser, kVdso, kAnon, kJit };

using DsoId = uint32_t;
constexpr DsoId kNoDso = 0xffffffffu;

struct Dso {
  std::string long_name;   // path, or "[kernel.kallsyms]"
  std::string short_name;  // what perf prints: basename, "[kernel.kallsyms]", "[ext4]"
  DsoKind kind = DsoKind::kUser;
  int32_t machine = -1;    // -1 host; guest: its pid (0 = the default guest)
  std::string build_id;    // from the recording's HEADER_BUILD_ID, raw bytes
  bool hit = false;        // had samples
  // Loaded lazily:
  bool loaded = false, has_symbols = false;
  bool is_elf = false;     // lookups go through ELF load segments (user DSOs)
  const SymbolTable* table = nullptr;  // may be shared (kallsyms of a kernel and its modules)
  uint16_t module = 0;     // kallsyms module index for module DSOs
  uint64_t base = 0;       // module DSOs: load address; their addresses are module-relative, as perf prints them
  elf::ElfImage image;
};

// A symbol found for a (dso, address): the name and its start.
struct Resolved {
  const Symbol* sym = nullptr;
  const SymbolTable* table = nullptr;
};

class Symbolizer {
 public:
  explicit Symbolizer(SymbolizerOptions options);

  const SymbolizerOptions& options() const { return options_; }
  // Takes the build-ids of a recording (before any lookup).
  void set_build_ids(const std::vector<BuildIdEntry>& ids);

  // The DSO for a mapped file name as it appears in MMAP records, for a
  // machine (-1 host); `pid` names anonymous (JIT) memory "[JIT] tid PID",
  // symbols from /tmp/perf-PID.map. Interns; cheap on repeat calls.
  DsoId dso_for_mmap(const std::string& filename, int32_t machine, bool kernel_space, int32_t pid = -1);
  // Addresses in this DSO are the sample's own address (JIT code, [heap],
  // [stack]), not a file offset.
  static bool identity_addresses(const Dso& d, const std::string& filename);
  DsoId host_kernel();
  DsoId guest_kernel(int32_t machine);
  // Guest kernel module containing a guest kernel address (from --guestmodules
  // or GUESTMOUNT/PID/proc/modules), or kNoDso.
  DsoId guest_module_at(int32_t machine, uint64_t ip);

  Dso& dso(DsoId id) { return dsos_[id]; }
  const Dso& dso(DsoId id) const { return dsos_[id]; }
  size_t dso_count() const { return dsos_.size(); }

  // The symbol at `addr` (a map-relative address as the aggregator keys
  // it: file offset for user DSOs, the address for kernels). Loads the
  // DSO's symbols on first use.
  Resolved resolve(DsoId id, uint64_t addr);

  // Warnings so far (each once), and clears them.
  std::vector<std::string> take_warnings();
  // Lesser problems (a stripped binary, a DSO file that is gone), for -v.
  std::vector<std::string> take_notes();

 private:
  void load(DsoId id);
  void load_user(Dso& d);
  void load_jit(Dso& d);
  void load_host_kernel(Dso& d);
  void load_guest_kernel(Dso& d);
  const SymbolTable* load_kallsyms_file(const std::string& path, const char* what);
  void warn(const std::string& w);
  void note(const std::string& w);
  std::string buildid_dir() const;
  std::string guest_root(int32_t machine) const;
  DsoId intern(const std::string& key, Dso d);

  SymbolizerOptions options_;
  std::vector<Dso> dsos_;
  std::unordered_map<std::string, DsoId> by_key_;
  std::unordered_map<std::string, std::string> header_build_ids_;  // "machine|name" -> raw
  std::vector<std::unique_ptr<SymbolTable>> tables_;
  std::unordered_map<std::string, const SymbolTable*> kallsyms_cache_;
  struct GuestModules {
    bool loaded = false;
    std::vector<ModuleRange> ranges;
    std::vector<DsoId> dsos;
  };
  std::unordered_map<int32_t, GuestModules> guest_modules_;
  std::vector<std::string> warnings_, notes_;
  std::unordered_map<std::string, bool> warned_;
};

// "/lib/modules/6.1/kernel/fs/ext4/ext4.ko.xz" -> "[ext4]" (perf's module naming).
std::string module_short_name(const std::string& path);

}  // namespace profile
}  // namespace kvmlens
