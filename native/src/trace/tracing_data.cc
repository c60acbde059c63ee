#include "trace/tracing_data.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "core/errors.h"
#include "trace/tracefs.h"

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

// Bounds-checked little-endian reader over the section. Every error names
// the absolute file offset, so `base` is added to positions.
class SectionCursor {
 public:
  SectionCursor(const uint8_t* data, uint64_t size, uint64_t base) : d_(data), size_(size), base_(base) {}

  uint64_t abs() const { return base_ + pos_; }
  uint64_t left() const { return size_ - pos_; }

  template <class T>
  T number(const char* what) {
    if (sizeof(T) > left())
      throw ParseError("tracing data: section ends at offset " + std::to_string(base_ + size_) + " inside the " +
                           what + " at offset " + std::to_string(abs()),
                       abs());
    T v;
    std::memcpy(&v, d_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string cstring(const char* what) {
    const void* nul = std::memchr(d_ + pos_, 0, left());
    if (!nul)
      throw ParseError(std::string("tracing data: the ") + what + " at offset " + std::to_string(abs()) +
                           " has no terminating NUL before the section end",
                       abs());
    const size_t len = static_cast<size_t>(static_cast<const uint8_t*>(nul) - (d_ + pos_));
    std::string s(reinterpret_cast<const char*>(d_ + pos_), len);
    pos_ += len + 1;
    return s;
  }
  // A block preceded by its size (u32 or u64): returns its start, skips it.
  template <class SizeT>
  const uint8_t* sized_block(const char* what, uint64_t* len_out) {
    const uint64_t at = abs();
    const uint64_t len = number<SizeT>(what);
    if (len > left())
      throw ParseError("tracing data: " + std::string(what) + " size " + std::to_string(len) + " at offset " +
                           std::to_string(at) + " runs past the section end (" + std::to_string(left()) +
                           " bytes left)",
                       at);
    const uint8_t* p = d_ + pos_;
    pos_ += len;
    *len_out = len;
    return p;
  }
  template <class SizeT>
  void skip_sized_block(const char* what) {
    uint64_t len;
    sized_block<SizeT>(what, &len);
  }

 private:
  const uint8_t* d_;
  uint64_t size_, base_;
  uint64_t pos_ = 0;
};

// perf compares the version with atof(version) >= 0.6; "0.6" and "0.10"
// therefore differ from a string comparison. Same here, without locales.
double version_number(const std::string& v) {
  double value = 0;
  size_t i = 0;
  for (; i < v.size() && v[i] >= '0' && v[i] <= '9'; i++) value = value * 10 + (v[i] - '0');
  if (i < v.size() && v[i] == '.') {
    double scale = 0.1;
    for (i++; i < v.size() && v[i] >= '0' && v[i] <= '9'; i++, scale /= 10) value += (v[i] - '0') * scale;
  }
  return value;
}

void expect_header_file(SectionCursor& c, const char* name) {
  const uint64_t at = c.abs();
  const std::string got = c.cstring(name);
  if (got != name)
    throw ParseError("tracing data: expected \"" + std::string(name) + "\" at offset " + std::to_string(at) +
                         ", found \"" + got.substr(0, 32) + "\"",
                     at);
  c.skip_sized_block<uint64_t>(name);
}

// Lines "0xffffffff8281b869 : \"End context switch\"", as libtraceevent
// reads them: the address in hex before ':', the text after ": ", one
// leading and one trailing quote and a final "\n" removed.
void parse_printk(const std::string& text, std::map<uint64_t, std::string>* out) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    const std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    const size_t colon = line.find(':');
    if (colon == std::string::npos || colon + 1 >= line.size()) continue;
    const uint64_t addr = std::strtoull(line.c_str(), nullptr, 16);
    std::string fmt = line.substr(colon + 2 <= line.size() ? colon + 2 : line.size());
    if (!fmt.empty() && fmt[0] == '"') fmt.erase(0, 1);
    if (!fmt.empty() && fmt.back() == '"') fmt.pop_back();
    if (fmt.size() >= 2 && fmt.compare(fmt.size() - 2, 2, "\\n") == 0) fmt.resize(fmt.size() - 2);
    out->emplace(addr, fmt);
  }
}

}  // namespace

TracingData parse_tracing_data(const uint8_t* data, uint64_t size, uint64_t base_offset) {
  SectionCursor c(data, size, base_offset);
  static const uint8_t kMagic[] = {0x17, 0x08, 0x44, 't', 'r', 'a', 'c', 'i', 'n', 'g'};
  if (size < sizeof kMagic || std::memcmp(data, kMagic, sizeof kMagic) != 0)
    throw ParseError("tracing data: bad magic at offset " + std::to_string(base_offset) +
                         " (expected \"\\x17\\x08Dtracing\")",
                     base_offset);
  for (size_t i = 0; i < sizeof kMagic; i++) c.number<uint8_t>("magic");

  TracingData td;
  td.version = c.cstring("version string");
  const uint64_t endian_at = c.abs();
  td.big_endian = c.number<uint8_t>("endianness byte") != 0;
  if (td.big_endian)
    throw ParseError("tracing data at offset " + std::to_string(endian_at) +
                         " is big-endian: only recordings from little-endian hosts are supported",
                     endian_at);
  td.long_size = c.number<uint8_t>("long size");
  const uint64_t page_at = c.abs();
  td.page_size = c.number<uint32_t>("page size");
  if (td.page_size == 0)  // perf rejects the section for this too
    throw ParseError("tracing data: page size 0 at offset " + std::to_string(page_at), page_at);

  expect_header_file(c, "header_page");
  expect_header_file(c, "header_event");

  // ftrace's own events (function, print, ...): never needed for kvm.
  const uint32_t ftrace_count = c.number<uint32_t>("ftrace format count");
  for (uint32_t i = 0; i < ftrace_count; i++) c.skip_sized_block<uint64_t>("ftrace format");

  const uint32_t systems = c.number<uint32_t>("event system count");
  for (uint32_t s = 0; s < systems; s++) {
    const std::string system = c.cstring("event system name");
    const uint32_t count = c.number<uint32_t>("event format count");
    for (uint32_t i = 0; i < count; i++) {
      uint64_t len;
      const uint8_t* text = c.sized_block<uint64_t>("event format", &len);
      const uint64_t text_at = c.abs() - len;
      try {
        td.events.push_back(parse_event_format(system, std::string(reinterpret_cast<const char*>(text), len)));
      } catch (const ParseError& e) {
        throw ParseError(std::string("tracing data: ") + e.what(), text_at + (e.has_offset() ? e.offset() : 0));
      }
    }
  }

  // The rest carries nothing kvm stat needs, but is checked like perf reads it.
  c.skip_sized_block<uint32_t>("kallsyms");
  {
    uint64_t len;
    const uint8_t* text = c.sized_block<uint32_t>("printk formats", &len);
    parse_printk(std::string(reinterpret_cast<const char*>(text), len), &td.printk);
  }
  if (version_number(td.version) >= 0.6) c.skip_sized_block<uint64_t>("saved cmdlines");
  return td;
}

TracingData read_tracefs(const std::vector<std::string>& systems, std::string* tracefs_root) {
  const std::string root = find_tracefs_root();
  if (tracefs_root) *tracefs_root = root;
  TracingData td;
  td.version = "0.6";
  td.big_endian = false;
  td.long_size = sizeof(long);
  td.page_size = static_cast<uint32_t>(::sysconf(_SC_PAGESIZE));
  for (const std::string& system : systems) {
    const std::string dir = root + "/events/" + system;
    const size_t before = td.events.size();
    if (path_exists(dir)) {
      for (const std::string& name : list_subdirs(dir)) {
        std::string text;
        if (!read_tracefs_file_if_present(dir + "/" + name + "/format", &text)) continue;
        try {
          td.events.push_back(parse_event_format(system, text));
        } catch (const ParseError& e) {
          throw SetupError("cannot understand " + dir + "/" + name + "/format: " + e.what());
        }
      }
    }
    if (td.events.size() == before) {
      if (system == "kvm")
        throw SetupError("no kvm tracepoints in " + dir +
                         ": load the kvm module (`modprobe kvm_intel` or `modprobe kvm_amd`)");
      throw SetupError("no " + system + " tracepoints in " + dir);
    }
  }
  return td;
}

}  // namespace kvmlens
