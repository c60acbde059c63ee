#include "profile/symbolizer.h"

#include "live/build_id.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace kvmlens {
namespace profile {

namespace {

std::string basename_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool is_bracketed(const std::string& s) { return !s.empty() && s[0] == '['; }

}  // namespace

std::string module_short_name(const std::string& path) {
  std::string base = basename_of(path);
  size_t ko = base.find(".ko");
  if (ko != std::string::npos) base = base.substr(0, ko);
  for (char& c : base)
    if (c == '-') c = '_';
  return "[" + base + "]";
}

Symbolizer::Symbolizer(SymbolizerOptions options) : options_(std::move(options)) {}

void Symbolizer::set_build_ids(const std::vector<BuildIdEntry>& ids) {
  for (const BuildIdEntry& e : ids) {
    // cpumode 1 kernel, 2 user; 4 guest kernel, 5 guest user: the machine is
    // the host (-1) for host modes, else the entry's pid.
    bool guest = e.misc == 4 || e.misc == 5;
    int32_t machine = guest ? e.pid : -1;
    header_build_ids_[std::to_string(machine) + "|" + e.filename] = e.build_id;
  }
}

DsoId Symbolizer::intern(const std::string& key, Dso d) {
  auto it = by_key_.find(key);
  if (it != by_key_.end()) return it->second;
  auto bid = header_build_ids_.find(std::to_string(d.machine) + "|" + d.long_name);
  if (bid != header_build_ids_.end()) d.build_id = bid->second;
  DsoId id = static_cast<DsoId>(dsos_.size());
  dsos_.push_back(std::move(d));
  by_key_.emplace(key, id);
  return id;
}

DsoId Symbolizer::host_kernel() {
  Dso d;
  d.long_name = d.short_name = "[kernel.kallsyms]";
  d.kind = DsoKind::kKernel;
  return intern("-1|[kernel.kallsyms]", std::move(d));
}

DsoId Symbolizer::guest_kernel(int32_t machine) {
  Dso d;
  d.machine = machine;
  d.kind = DsoKind::kGuestKernel;
  d.long_name = d.short_name = "[guest.kernel.kallsyms]";  // perf names every guest's kernel so
  return intern(std::to_string(machine) + "|[guest.kernel]", std::move(d));
}

DsoId Symbolizer::dso_for_mmap(const std::string& filename, int32_t machine, bool kernel_space, int32_t pid) {
  // perf names anonymous executable memory (JIT code) per process.
  const bool anon = !kernel_space && (filename.rfind("//anon", 0) == 0 || filename.rfind("/dev/zero", 0) == 0 ||
                                      filename.rfind("/anon_hugepage", 0) == 0);
  std::string key = std::to_string(machine) + "|" + (anon ? "jit|" + std::to_string(pid) : filename);
  auto it = by_key_.find(key);
  if (it != by_key_.end()) return it->second;
  if (anon) {
    Dso d;
    d.machine = machine;
    d.kind = DsoKind::kJit;
    d.long_name = "/tmp/perf-" + std::to_string(pid) + ".map";
    d.short_name = "[JIT] tid " + std::to_string(pid);
    return intern(key, std::move(d));
  }
  bool guest = machine >= 0;
  if (kernel_space) {
    if (filename.rfind("[kernel.kallsyms]", 0) == 0 || filename.rfind("[guest.kernel.kallsyms", 0) == 0) {
      DsoId id = guest ? guest_kernel(machine) : host_kernel();
      by_key_.emplace(key, id);
      return id;
    }
    Dso d;
    d.machine = machine;
    d.kind = guest ? DsoKind::kGuestModule : DsoKind::kModule;
    d.long_name = filename;
    d.short_name = is_bracketed(filename) ? filename : module_short_name(filename);
    return intern(key, std::move(d));
  }
  Dso d;
  d.machine = machine;
  d.long_name = filename;
  if (filename == "[vdso]") {
    d.kind = DsoKind::kVdso;
    d.short_name = filename;
  } else if (is_bracketed(filename) || filename.rfind("/SYSV", 0) == 0) {
    d.kind = DsoKind::kAnon;  // [heap], [stack], [uprobes], SysV shm: no symbols
    d.short_name = filename;
  } else {
    d.kind = guest ? DsoKind::kGuestUser : DsoKind::kUser;
    d.short_name = basename_of(filename);
  }
  return intern(key, std::move(d));
}

bool Symbolizer::identity_addresses(const Dso& d, const std::string& filename) {
  return d.kind == DsoKind::kJit || filename.rfind("[stack", 0) == 0 || filename == "[heap]" ||
         filename.rfind("/SYSV", 0) == 0;
}

std::string Symbolizer::buildid_dir() const {
  if (!options_.buildid_dir.empty()) return options_.buildid_dir;
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/root") + "/.debug";
}

std::string Symbolizer::guest_root(int32_t machine) const {
  return options_.guest_mount + "/" + std::to_string(machine);
}

void Symbolizer::warn(const std::string& w) {
  if (warned_.emplace(w, true).second) warnings_.push_back(w);
}

void Symbolizer::note(const std::string& w) {
  if (warned_.emplace(w, true).second) notes_.push_back(w);
}

std::vector<std::string> Symbolizer::take_notes() {
  std::vector<std::string> out;
  out.swap(notes_);
  return out;
}

std::vector<std::string> Symbolizer::take_warnings() {
  std::vector<std::string> out;
  out.swap(warnings_);
  return out;
}

const SymbolTable* Symbolizer::load_kallsyms_file(const std::string& path, const char* what) {
  auto it = kallsyms_cache_.find(path);
  if (it != kallsyms_cache_.end()) return it->second;
  std::vector<uint8_t> bytes;
  std::string err;
  const SymbolTable* result = nullptr;
  if (!elf::read_file(path, &bytes, &err)) {
    warn(std::string(what) + " " + path + ": cannot read: " + err + "; samples there are shown as raw addresses");
  } else {
    auto table = std::make_unique<SymbolTable>();
    size_t bad = 0;
    if (!parse_kallsyms(reinterpret_cast<const char*>(bytes.data()), bytes.size(), table.get(), &bad, &err)) {
      warn(std::string(what) + " " + path + ": not a kallsyms file (" + err + "); samples there are shown as raw addresses");
    } else {
      if (bad) warn(std::string(what) + " " + path + ": " + std::to_string(bad) + " malformed lines skipped");
      if (table->size() == 0)
        warn(std::string(what) + " " + path + ": has no text symbols; samples there are shown as raw addresses");
      else {
        bool all_zero = true;
        for (const Symbol& s : table->symbols())
          if (s.start != 0) { all_zero = false; break; }
        if (all_zero)
          warn(std::string(what) + " " + path +
               ": every address is 0 (kptr_restrict?): copy it as root; samples there are shown as raw addresses");
        else
          result = table.get();
      }
      tables_.push_back(std::move(table));
    }
  }
  kallsyms_cache_.emplace(path, result);
  return result;
}

namespace {

bool load_elf_table(const std::string& path, elf::ElfImage* image, SymbolTable* table, std::string* err) {
  std::vector<uint8_t> bytes;
  if (!elf::read_file(path, &bytes, err)) {
    *err = "cannot read: " + *err;
    return false;
  }
  return elf::parse_elf(bytes.data(), bytes.size(), image, table, err);
}

}  // namespace

void Symbolizer::load_jit(Dso& d) {
  // perf's /tmp/perf-PID.map: "START SIZE NAME" per line, hex, as JITs write it.
  std::vector<uint8_t> bytes;
  std::string err;
  if (!elf::read_file(d.long_name, &bytes, &err)) return;  // no map file: raw addresses, as perf
  auto table = std::make_unique<SymbolTable>();
  const char* p = reinterpret_cast<const char*>(bytes.data());
  const char* end = p + bytes.size();
  while (p < end) {
    const char* eol = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    if (!eol) eol = end;
    std::string line(p, eol);
    p = eol < end ? eol + 1 : end;
    char* q = nullptr;
    uint64_t start = std::strtoull(line.c_str(), &q, 16);
    if (q == line.c_str() || *q != ' ') continue;
    char* r = nullptr;
    uint64_t size = std::strtoull(q + 1, &r, 16);
    if (r == q + 1 || *r != ' ') continue;
    std::string name(r + 1);
    while (!name.empty() && (name.back() == '\r' || name.back() == ' ')) name.pop_back();
    if (name.empty()) continue;
    table->add(start, size, name.data(), name.size(), kBindGlobal, kTypeFunc);
  }
  table->finish(false);
  if (table->size() == 0) {
    note(d.long_name + ": no symbols");
    return;
  }
  d.table = table.get();
  d.has_symbols = true;
  tables_.push_back(std::move(table));
}

void Symbolizer::load_user(Dso& d) {
  if (d.kind == DsoKind::kAnon) return;
  if (d.kind == DsoKind::kJit) return load_jit(d);
  // perf's order: the first file with a .symtab gives the symbols; the
  // first runtime image (build-id cache copy, else the path) gives the load
  // segments that turn file offsets into the symbols' addresses.
  std::string path = d.long_name;
  if (d.kind == DsoKind::kGuestUser) {
    if (options_.guest_mount.empty()) return;  // guest user code resolves only through --guestmount
    path = guest_root(d.machine) + d.long_name;
  }
  // Without a recorded build-id, the file's own one finds its debug files (as perf).
  std::string effective = d.build_id;
  if (effective.empty() && d.kind != DsoKind::kVdso) {
    std::vector<uint8_t> bytes;
    std::string err;
    elf::ElfImage probe;
    if (elf::read_file(path, &bytes, &err) && elf::parse_elf(bytes.data(), bytes.size(), &probe, nullptr, &err))
      effective = probe.build_id;
  }
  const std::string bid = elf::hex(effective);
  struct Candidate {
    std::string path;
    bool runtime;
  };
  std::vector<Candidate> candidates;
  const std::string cache =
      effective.empty() ? std::string() : buildid_dir() + (d.long_name[0] == '/' ? "" : "/") + d.long_name + "/" + bid;
  if (!cache.empty()) {
    if (d.kind == DsoKind::kVdso) {
      candidates.push_back({cache + "/vdso", true});
    } else {
      candidates.push_back({cache + "/debug", false});
      if (bid.size() > 2) candidates.push_back({"/usr/lib/debug/.build-id/" + bid.substr(0, 2) + "/" + bid.substr(2) + ".debug", false});
      candidates.push_back({cache + "/elf", true});
    }
  }
  if (d.kind != DsoKind::kVdso) candidates.push_back({path, true});
  // The vDSO outside the cache (hit by callers only, so not in
  // HEADER_BUILD_ID): perf reads its own process's, as kvmlens does here,
  // when the build-ids do not say it is another (checked below).
  std::string own_vdso;
  if (d.kind == DsoKind::kVdso) {
    std::vector<uint8_t> image = vdso_image();
    char tmpl[] = "/tmp/kvmlens-vdso-XXXXXX";
    const int fd = image.empty() ? -1 : ::mkstemp(tmpl);
    if (fd >= 0) {
      const bool ok = ::write(fd, image.data(), image.size()) == static_cast<ssize_t>(image.size());
      ::close(fd);
      own_vdso = tmpl;
      if (ok) candidates.push_back({own_vdso, true});
    }
  }
  struct Unlink {
    const std::string& p;
    ~Unlink() {
      if (!p.empty()) ::unlink(p.c_str());
    }
  } unlink_own{own_vdso};

  std::unique_ptr<SymbolTable> symtab, dynsym;
  elf::ElfImage runtime;
  bool have_runtime = false;
  std::string problem;
  for (const Candidate& c : candidates) {
    if (::access(c.path.c_str(), R_OK) != 0) {
      if (c.path == path) problem = path + ": " + std::strerror(errno);
      continue;
    }
    auto table = std::make_unique<SymbolTable>();
    table->set_demangle(options_.demangle);  // user space only: perf demangles kernels only with --demangle-kernel
    elf::ElfImage image;
    std::string err;
    if (!load_elf_table(c.path, &image, table.get(), &err)) {
      problem = c.path + ": " + err;
      continue;
    }
    if (!effective.empty() && !image.build_id.empty() && image.build_id != effective) {
      problem = c.path + ": build-id " + elf::hex(image.build_id) + " does not match the recording's " + bid;
      continue;
    }
    if (c.runtime && !have_runtime) {
      runtime = image;
      have_runtime = true;
    }
    if (image.has_symtab && table->size() > 0) {
      if (!symtab) symtab = std::move(table);
    } else if (!dynsym && table->size() > 0) {
      dynsym = std::move(table);
    }
    if (symtab && have_runtime) break;
  }
  if (!have_runtime) {
    if (!problem.empty()) {
      if (problem.find("build-id") != std::string::npos)
        warn(problem + "; its samples are shown as raw addresses");
      else
        note(problem + "; its samples are shown as raw addresses");
    }
    return;
  }
  d.image = std::move(runtime);
  d.is_elf = true;
  std::unique_ptr<SymbolTable>& use = symtab ? symtab : dynsym;
  if (!d.image.plt.empty()) {
    if (!use) {
      use = std::make_unique<SymbolTable>();
      use->set_demangle(options_.demangle);
    }
    for (const auto& p : d.image.plt) use->add(p.addr, 16, p.name.data(), p.name.size(), kBindGlobal, kTypeFunc);
    use->finish(false);
  }
  if (!use) {
    note(d.long_name + ": has no symbols (.symtab/.dynsym); its samples are shown as raw addresses");
    return;
  }
  d.table = use.get();
  d.has_symbols = true;
  tables_.push_back(std::move(use));
}

void Symbolizer::load_host_kernel(Dso& d) {
  std::string bid = elf::hex(d.build_id);
  if (!options_.vmlinux.empty()) {
    auto table = std::make_unique<SymbolTable>();
    elf::ElfImage image;
    std::string err;
    if (!load_elf_table(options_.vmlinux, &image, table.get(), &err)) {
      warn("vmlinux " + options_.vmlinux + ": " + err + "; kernel samples are shown as raw addresses");
    } else if (table->size() == 0) {
      warn("vmlinux " + options_.vmlinux + ": has no symbol table; kernel samples are shown as raw addresses");
    } else {
      if (!d.build_id.empty() && !image.build_id.empty() && image.build_id != d.build_id)
        warn("vmlinux " + options_.vmlinux + ": build-id " + elf::hex(image.build_id) +
             " does not match the recording's " + bid + " (using it anyway, as asked)");
      d.table = table.get();
      d.has_symbols = true;
      tables_.push_back(std::move(table));
      return;
    }
  }
  if (!options_.kallsyms.empty()) {
    d.table = load_kallsyms_file(options_.kallsyms, "kallsyms");
    d.has_symbols = d.table != nullptr;
    return;
  }
  if (!d.build_id.empty()) {
    std::string cached = buildid_dir() + "/[kernel.kallsyms]/" + bid + "/kallsyms";
    std::vector<uint8_t> probe;
    std::string err;
    if (::access(cached.c_str(), R_OK) == 0) {
      d.table = load_kallsyms_file(cached, "kallsyms");
      d.has_symbols = d.table != nullptr;
      if (d.has_symbols) return;
    }
    std::vector<uint8_t> notes;
    std::string running;
    if (elf::read_file(options_.kernel_notes, &notes, &err)) running = elf::build_id_from_notes(notes.data(), notes.size());
    if (!running.empty() && running != d.build_id) {
      warn("the recording's kernel (build-id " + bid + ") is not the running kernel (" + elf::hex(running) +
           ") and " + cached + " does not exist: kernel samples are shown as raw addresses (pass --kallsyms=FILE)");
      return;
    }
  }
  d.table = load_kallsyms_file(options_.proc_root + "/kallsyms", "kallsyms");
  d.has_symbols = d.table != nullptr;
}

void Symbolizer::load_guest_kernel(Dso& d) {
  bool default_guest = options_.guest_mount.empty() || d.machine <= 0;
  if (default_guest && !options_.guest_vmlinux.empty()) {
    auto table = std::make_unique<SymbolTable>();
    elf::ElfImage image;
    std::string err;
    if (!load_elf_table(options_.guest_vmlinux, &image, table.get(), &err)) {
      warn("guest vmlinux " + options_.guest_vmlinux + ": " + err + "; guest kernel samples are shown as raw addresses");
    } else if (table->size() == 0) {
      warn("guest vmlinux " + options_.guest_vmlinux +
           ": has no symbol table (stripped?); guest kernel samples are shown as raw addresses");
    } else {
      if (!d.build_id.empty() && !image.build_id.empty() && image.build_id != d.build_id)
        warn("guest vmlinux " + options_.guest_vmlinux + ": build-id " + elf::hex(image.build_id) +
             " does not match the recording's " + elf::hex(d.build_id) + " (using it anyway, as asked)");
      d.table = table.get();
      d.has_symbols = true;
      tables_.push_back(std::move(table));
    }
    return;
  }
  std::string path;
  if (default_guest) {
    path = options_.guest_kallsyms;
    if (path.empty()) {
      warn("guest kernel samples without --guestkallsyms, --guestvmlinux or --guestmount are shown as raw addresses");
      return;
    }
  } else {
    path = guest_root(d.machine) + "/proc/kallsyms";
  }
  d.table = load_kallsyms_file(path, "guest kallsyms");
  d.has_symbols = d.table != nullptr;
}

DsoId Symbolizer::guest_module_at(int32_t machine, uint64_t ip) {
  GuestModules& gm = guest_modules_[machine];
  if (!gm.loaded) {
    gm.loaded = true;
    bool default_guest = options_.guest_mount.empty() || machine <= 0;
    std::string path = default_guest ? options_.guest_modules : guest_root(machine) + "/proc/modules";
    if (!path.empty()) {
      std::vector<uint8_t> bytes;
      std::string err;
      if (!elf::read_file(path, &bytes, &err)) {
        warn("guest modules " + path + ": cannot read: " + err + "; guest module samples are attributed to the guest kernel");
      } else if (!parse_modules(reinterpret_cast<const char*>(bytes.data()), bytes.size(), &gm.ranges, &err)) {
        warn("guest modules " + path + ": " + err + "; guest module samples are attributed to the guest kernel");
      }
      for (const ModuleRange& m : gm.ranges) {
        Dso d;
        d.machine = machine;
        d.kind = DsoKind::kGuestModule;
        d.long_name = d.short_name = "[" + m.name + "]";
        d.base = m.start;
        gm.dsos.push_back(intern(std::to_string(machine) + "|module:" + m.name, std::move(d)));
      }
    }
  }
  for (size_t i = 0; i < gm.ranges.size(); i++)
    if (ip >= gm.ranges[i].start && ip - gm.ranges[i].start < gm.ranges[i].size) return gm.dsos[i];
  return kNoDso;
}

void Symbolizer::load(DsoId id) {
  dsos_[id].loaded = true;
  switch (dsos_[id].kind) {
    case DsoKind::kKernel: load_host_kernel(dsos_[id]); break;
    case DsoKind::kGuestKernel: load_guest_kernel(dsos_[id]); break;
    case DsoKind::kModule:
    case DsoKind::kGuestModule: {
      // Module symbols come from the kernel's kallsyms ("name [module]").
      DsoId k = dsos_[id].kind == DsoKind::kModule ? host_kernel() : guest_kernel(dsos_[id].machine);
      if (!dsos_[k].loaded) load(k);
      Dso& self = dsos_[id];  // taken after interning: dsos_ may have grown
      self.table = dsos_[k].table;
      self.has_symbols = self.table != nullptr;
      if (self.table) {
        std::string name = self.short_name.size() > 2 ? self.short_name.substr(1, self.short_name.size() - 2) : "";
        self.module = 0xffff;  // no symbol of an unknown module matches
        const auto& mods = self.table->modules();
        for (size_t i = 0; i < mods.size(); i++)
          if (mods[i] == name) self.module = static_cast<uint16_t>(i + 1);
      }
      break;
    }
    default: load_user(dsos_[id]); break;
  }
}

Resolved Symbolizer::resolve(DsoId id, uint64_t addr) {
  Resolved r;
  if (id >= dsos_.size()) return r;
  if (!dsos_[id].loaded) load(id);
  const Dso& d = dsos_[id];
  if (!d.table) return r;
  uint64_t a = addr;
  if (d.kind == DsoKind::kModule || d.kind == DsoKind::kGuestModule) a = addr + d.base;
  if (d.is_elf && !d.image.offset_to_vaddr(addr, &a)) return r;
  const Symbol* s = d.table->find(a);
  if (!s) return r;
  if ((d.kind == DsoKind::kModule || d.kind == DsoKind::kGuestModule) && s->module != d.module) return r;
  r.sym = s;
  r.table = d.table;
  return r;
}

}  // namespace profile
}  // namespace kvmlens
