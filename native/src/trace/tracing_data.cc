#include "trace/tracing_data.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/errors.h"

namespace kvmlens {

const EventFormat* TracingData::find(uint32_t id) const {
  for (const EventFormat& e : events)
    if (e.id == id) return &e;
  return nullptr;
}

const EventFormat* TracingData::find(const std::string& system, const std::string& name) const {
  for (const EventFormat& e : events)
    if (e.system == system && e.name == name) return &e;
  return nullptr;
}

namespace {

// Bounds-checked cursor over the section; offsets in errors are absolute.
class Cursor {
 public:
  Cursor(const uint8_t* data, uint64_t size, uint64_t base) : d_(data), size_(size), base_(base) {}

  uint64_t pos() const { return pos_; }
  uint64_t abs() const { return base_ + pos_; }
  bool at_end() const { return pos_ >= size_; }

  void need(uint64_t n, const char* what) const {
    if (n > size_ - pos_)
      throw ParseError(std::string("tracing data: ") + what + " needs " + std::to_string(n) +
                           " bytes but only " + std::to_string(size_ - pos_) + " remain in the section",
                       abs());
  }
  template <class T>
  T read(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, d_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string cstring(const char* what) {
    const void* nul = std::memchr(d_ + pos_, 0, size_ - pos_);
    if (!nul) throw ParseError(std::string("tracing data: unterminated ") + what, abs());
    size_t len = static_cast<const uint8_t*>(nul) - (d_ + pos_);
    std::string s(reinterpret_cast<const char*>(d_ + pos_), len);
    pos_ += len + 1;
    return s;
  }
  std::string bytes(uint64_t n, const char* what) {
    need(n, what);
    std::string s(reinterpret_cast<const char*>(d_ + pos_), n);
    pos_ += n;
    return s;
  }
  void skip(uint64_t n, const char* what) {
    need(n, what);
    pos_ += n;
  }

 private:
  const uint8_t* d_;
  uint64_t size_, base_;
  uint64_t pos_ = 0;
};

}  // namespace

TracingData parse_tracing_data(const uint8_t* data, uint64_t size, uint64_t base_offset) {
  Cursor c(data, size, base_offset);
  static const uint8_t kMagic[] = {0x17, 0x08, 0x44, 't', 'r', 'a', 'c', 'i', 'n', 'g'};
  c.need(sizeof(kMagic), "magic");
  if (std::memcmp(data, kMagic, sizeof(kMagic)) != 0)
    throw ParseError("tracing data: bad magic (expected \"\\x17\\x08Dtracing\")", base_offset);
  c.skip(sizeof(kMagic), "magic");
  TracingData td;
  td.version = c.cstring("version string");
  td.big_endian = c.read<uint8_t>("endianness") != 0;
  if (td.big_endian) throw ParseError("tracing data is big-endian; only little-endian recordings are supported", c.abs());
  td.long_size = c.read<uint8_t>("long size");
  td.page_size = c.read<uint32_t>("page size");

  // header_page and header_event: a name, a u64 size, the text.
  for (const char* name : {"header_page", "header_event"}) {
    std::string got = c.cstring(name);
    if (got != name) throw ParseError(std::string("tracing data: expected ") + name + ", found '" + got + "'", c.abs());
    uint64_t len = c.read<uint64_t>(name);
    c.skip(len, name);
  }
  // ftrace formats: count, then size + text each (not kept).
  uint32_t ftrace_count = c.read<uint32_t>("ftrace format count");
  for (uint32_t i = 0; i < ftrace_count; i++) {
    uint64_t len = c.read<uint64_t>("ftrace format size");
    c.skip(len, "ftrace format");
  }
  // Event systems: count; each a name, a format count, then size + text.
  uint32_t systems = c.read<uint32_t>("event system count");
  for (uint32_t s = 0; s < systems; s++) {
    std::string system = c.cstring("event system name");
    uint32_t count = c.read<uint32_t>("event format count");
    for (uint32_t i = 0; i < count; i++) {
      uint64_t len = c.read<uint64_t>("event format size");
      uint64_t at = c.abs();
      std::string text = c.bytes(len, "event format");
      try {
        td.events.push_back(parse_event_format(system, text));
      } catch (const ParseError& e) {
        throw ParseError(e.what(), at + (e.has_offset() ? e.offset() : 0));
      }
    }
  }
  // kallsyms, printk formats and saved cmdlines follow; nothing we need.
  return td;
}

namespace {

bool is_dir(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  if (!f) {
    if (errno == EACCES)
      throw SetupError("cannot read " + path + ": permission denied; run as root or grant read access to tracefs");
    throw SetupError("cannot read " + path + ": " + std::strerror(errno));
  }
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

TracingData read_tracefs(const std::vector<std::string>& systems, std::string* tracefs_root) {
  std::string root;
  for (const char* candidate : {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"}) {
    if (is_dir(std::string(candidate) + "/events")) {
      root = candidate;
      break;
    }
  }
  if (root.empty())
    throw SetupError(
        "tracefs is not mounted at /sys/kernel/tracing: run `mount -t tracefs nodev /sys/kernel/tracing`");
  if (tracefs_root) *tracefs_root = root;
  TracingData td;
  td.version = "0.6";
  td.long_size = sizeof(long);
  td.page_size = static_cast<uint32_t>(::sysconf(_SC_PAGESIZE));
  for (const std::string& system : systems) {
    std::string dir = root + "/events/" + system;
    DIR* d = ::opendir(dir.c_str());
    if (!d) {
      if (errno == EACCES)
        throw SetupError("cannot read " + dir + ": permission denied; run as root or grant read access to tracefs");
      if (system == "kvm")
        throw SetupError("no kvm tracepoints in " + dir +
                         ": load the kvm module (`modprobe kvm_intel` or `modprobe kvm_amd`)");
      throw SetupError("no " + system + " tracepoints in " + dir);
    }
    while (dirent* ent = ::readdir(d)) {
      std::string name = ent->d_name;
      if (name == "." || name == "..") continue;
      std::string format = dir + "/" + name + "/format";
      if (::access(format.c_str(), F_OK) != 0) continue;
      td.events.push_back(parse_event_format(system, read_text(format)));
    }
    ::closedir(d);
  }
  return td;
}

}  // namespace kvmlens
