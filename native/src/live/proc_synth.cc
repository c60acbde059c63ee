#include "live/proc_synth.h"

#include <dirent.h>
#include <linux/perf_event.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "core/sample.h"

namespace kvmlens {

namespace {

template <class T>
void put(std::vector<uint8_t>* out, T v) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(&v);
  out->insert(out->end(), p, p + sizeof v);
}

// NUL-terminated, padded with NULs to a multiple of 8 (perf's PERF_ALIGN).
void put_name(std::vector<uint8_t>* out, const std::string& s) {
  size_t len = (s.size() + 1 + 7) & ~size_t(7);
  out->insert(out->end(), s.begin(), s.end());
  out->insert(out->end(), len - s.size(), 0);
}

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string trim_newline(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

bool all_digits(const char* s) {
  if (!*s) return false;
  for (; *s; s++)
    if (*s < '0' || *s > '9') return false;
  return true;
}

std::vector<int32_t> numeric_dirs(const std::string& path) {
  std::vector<int32_t> out;
  DIR* d = ::opendir(path.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d))
    if (all_digits(e->d_name)) out.push_back(static_cast<int32_t>(std::strtol(e->d_name, nullptr, 10)));
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

bool kallsyms_text_range(const std::string& path, uint64_t* start, uint64_t* end, std::string* ref_symbol) {
  FILE* f = std::fopen(path.c_str(), "re");
  if (!f) return false;
  char line[512];
  uint64_t text = 0, stext = 0, etext = 0;
  bool have_text = false, have_stext = false;
  while (std::fgets(line, sizeof line, f)) {
    char* sp = std::strchr(line, ' ');
    if (!sp || sp[1] == 0 || sp[2] != ' ') continue;
    char* name = sp + 3;
    size_t n = std::strcspn(name, "\t\n");
    if (name[n] == '\t') continue;  // a module's symbol
    name[n] = 0;
    uint64_t addr = std::strtoull(line, nullptr, 16);
    if (!std::strcmp(name, "_text")) {
      text = addr;
      have_text = true;
    } else if (!std::strcmp(name, "_stext")) {
      stext = addr;
      have_stext = true;
    } else if (!std::strcmp(name, "_etext")) {
      etext = addr;
    }
  }
  std::fclose(f);
  if (have_text && text) {
    *start = text;
    *ref_symbol = "_text";
  } else if (have_stext && stext) {
    *start = stext;
    *ref_symbol = "_stext";
  } else {
    return false;
  }
  *end = etext > *start ? etext : ~0ull;
  return true;
}

void feed_side_band(const std::vector<uint8_t>& records, RecordSink* sink) {
  size_t off = 0;
  while (off + sizeof(perf_event_header) <= records.size()) {
    perf_event_header h;
    std::memcpy(&h, records.data() + off, sizeof h);
    if (h.size < sizeof h || off + h.size > records.size()) break;
    SideBandRecord r;
    r.type = h.type;
    r.misc = h.misc;
    r.size = h.size;
    r.record = records.data() + off;
    sink->on_side_band(r);
    off += h.size;
  }
}

void SideBandSynthesizer::finish(size_t start) {
  out_.insert(out_.end(), trailer_, 0);
  uint16_t size = static_cast<uint16_t>(out_.size() - start);
  std::memcpy(out_.data() + start + 6, &size, 2);
}

void SideBandSynthesizer::comm(int32_t pid, int32_t tid, const std::string& comm) {
  size_t at = out_.size();
  put<uint32_t>(&out_, PERF_RECORD_COMM);
  put<uint16_t>(&out_, 0);
  put<uint16_t>(&out_, 0);
  put(&out_, pid);
  put(&out_, tid);
  put_name(&out_, comm.substr(0, 15));
  finish(at);
}

void SideBandSynthesizer::fork(int32_t pid, int32_t ppid, int32_t tid, int32_t ptid) {
  size_t at = out_.size();
  put<uint32_t>(&out_, PERF_RECORD_FORK);
  put<uint16_t>(&out_, 0);
  put<uint16_t>(&out_, 0);
  put(&out_, pid);
  put(&out_, ppid);
  put(&out_, tid);
  put(&out_, ptid);
  put<uint64_t>(&out_, 0);  // time
  finish(at);
}

void SideBandSynthesizer::mmap(uint16_t misc, int32_t pid, int32_t tid, uint64_t start, uint64_t len, uint64_t pgoff,
                               const std::string& filename) {
  size_t at = out_.size();
  put<uint32_t>(&out_, PERF_RECORD_MMAP);
  put<uint16_t>(&out_, misc);
  put<uint16_t>(&out_, 0);
  put(&out_, pid);
  put(&out_, tid);
  put(&out_, start);
  put(&out_, len);
  put(&out_, pgoff);
  put_name(&out_, filename);
  finish(at);
}

void SideBandSynthesizer::mmap2(int32_t pid, int32_t tid, uint64_t start, uint64_t len, uint64_t pgoff, uint32_t maj,
                                uint32_t min, uint64_t ino, uint32_t prot, uint32_t flags,
                                const std::string& filename) {
  size_t at = out_.size();
  put<uint32_t>(&out_, PERF_RECORD_MMAP2);
  put<uint16_t>(&out_, PERF_RECORD_MISC_USER);
  put<uint16_t>(&out_, 0);
  put(&out_, pid);
  put(&out_, tid);
  put(&out_, start);
  put(&out_, len);
  put(&out_, pgoff);
  put(&out_, maj);
  put(&out_, min);
  put(&out_, ino);
  put<uint64_t>(&out_, 0);  // ino_generation
  put(&out_, prot);
  put(&out_, flags);
  put_name(&out_, filename);
  finish(at);
}

KernelImage SideBandSynthesizer::host_kernel(std::string* warning) {
  KernelImage k;
  k.mmap_name = "[kernel.kallsyms]";
  k.notes_path = "/sys/kernel/notes";
  if (!kallsyms_text_range("/proc/kallsyms", &k.start, &k.end, &k.ref_symbol)) {
    if (warning)
      *warning = "kernel addresses are hidden (/proc/sys/kernel/kptr_restrict): kernel samples will not resolve";
    k.start = k.end = 0;
    return k;
  }
  mmap(PERF_RECORD_MISC_KERNEL, -1, 0, k.start, k.end - k.start, k.start, k.mmap_name + k.ref_symbol);
  struct utsname u;
  ::uname(&u);
  modules("/proc/modules", false, -1, u.release);
  return k;
}

// One MMAP per module, as perf_event__synthesize_modules: start, size, the
// module's file when modules.dep names it, "[name]" otherwise.
void SideBandSynthesizer::modules(const std::string& modules_path, bool guest, int32_t pid,
                                  const std::string& release) {
  std::ifstream f(modules_path);
  if (!f) return;
  std::map<std::string, std::string> files;
  if (!guest && !release.empty()) {
    std::string dir = "/lib/modules/" + release + "/";
    std::ifstream dep(dir + "modules.dep");
    std::string line;
    while (std::getline(dep, line)) {
      std::string path = line.substr(0, line.find(':'));
      std::string base = path.substr(path.rfind('/') + 1);
      base = base.substr(0, base.find(".ko"));
      std::replace(base.begin(), base.end(), '-', '_');
      files[base] = dir + path;
    }
  }
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string name, size, refs, deps, state, addr;
    if (!(in >> name >> size >> refs >> deps >> state >> addr)) continue;
    uint64_t start = std::strtoull(addr.c_str(), nullptr, 16);
    uint64_t len = std::strtoull(size.c_str(), nullptr, 10);
    if (!start) continue;
    auto it = files.find(name);
    mmap(guest ? PERF_RECORD_MISC_GUEST_KERNEL : PERF_RECORD_MISC_KERNEL, pid, 0, start, len, 0,
         it != files.end() ? it->second : "[" + name + "]");
  }
}

std::vector<KernelImage> SideBandSynthesizer::guest_kernels(const std::string& guestmount,
                                                            const std::string& guestkallsyms,
                                                            const std::string& guestmodules) {
  std::vector<KernelImage> out;
  auto add = [&](int32_t pid, const std::string& kallsyms, const std::string& modules_path,
                 const std::string& notes) {
    KernelImage k;
    k.guest = true;
    k.pid = pid;
    k.mmap_name = pid == 0 ? "[guest.kernel.kallsyms]" : "[guest.kernel.kallsyms." + std::to_string(pid) + "]";
    k.notes_path = notes;
    if (!kallsyms_text_range(kallsyms, &k.start, &k.end, &k.ref_symbol)) {
      k.start = k.end = 0;
      out.push_back(k);  // still listed: its build-id may come from notes
      return;
    }
    mmap(PERF_RECORD_MISC_GUEST_KERNEL, pid, 0, k.start, k.end - k.start, k.start, k.mmap_name + k.ref_symbol);
    if (!modules_path.empty()) modules(modules_path, true, pid, "");
    out.push_back(k);
  };
  if (!guestkallsyms.empty()) add(0, guestkallsyms, guestmodules, "");
  if (!guestmount.empty()) {
    for (int32_t pid : numeric_dirs(guestmount)) {
      std::string root = guestmount + "/" + std::to_string(pid);
      add(pid, root + "/proc/kallsyms", root + "/proc/modules", root + "/sys/kernel/notes");
    }
  }
  return out;
}

void SideBandSynthesizer::process(int32_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid);
  std::string status = read_text(dir + "/status");
  if (status.empty()) return;  // gone
  int32_t tgid = pid, ppid = 0;
  {
    std::istringstream in(status);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("Tgid:", 0) == 0) tgid = static_cast<int32_t>(std::strtol(line.c_str() + 5, nullptr, 10));
      if (line.rfind("PPid:", 0) == 0) ppid = static_cast<int32_t>(std::strtol(line.c_str() + 5, nullptr, 10));
    }
  }
  if (tgid != pid) return;  // a thread: covered by its process
  std::vector<int32_t> tids = numeric_dirs(dir + "/task");
  if (tids.empty()) tids.push_back(pid);
  for (int32_t tid : tids) {
    std::string name = trim_newline(read_text(dir + "/task/" + std::to_string(tid) + "/comm"));
    if (tid == pid) fork(pid, ppid, pid, ppid);
    else fork(pid, pid, tid, pid);
    comm(pid, tid, name);
    if (tid != pid) continue;
    // Executable mappings of the process, after its leader's COMM.
    FILE* maps = std::fopen((dir + "/maps").c_str(), "re");
    if (!maps) continue;
    char line[4096 + 256];
    while (std::fgets(line, sizeof line, maps)) {
      unsigned long long lo, hi, off, ino;
      char perms[8] = {0};
      unsigned maj, min;
      int name_at = 0;
      if (std::sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &lo, &hi, perms, &off, &maj, &min, &ino,
                      &name_at) < 7)
        continue;
      if (perms[2] != 'x') continue;
      std::string file = trim_newline(line + name_at);
      if (file.empty()) file = "//anon";
      uint32_t prot = (perms[0] == 'r' ? 1 : 0) | (perms[1] == 'w' ? 2 : 0) | (perms[2] == 'x' ? 4 : 0);
      uint32_t flags = perms[3] == 's' ? 1 : 2;  // MAP_SHARED : MAP_PRIVATE
      mmap2(pid, pid, lo, hi - lo, off, maj, min, ino, prot, flags, file);
    }
    std::fclose(maps);
  }
}

void SideBandSynthesizer::all_processes() {
  for (int32_t pid : numeric_dirs("/proc")) process(pid);
}

}  // namespace kvmlens
