#include "trace/tracing_blob.h"

#include <unistd.h>

#include <algorithm>

#include "core/errors.h"
#include "trace/tracefs.h"

namespace kvmlens {

namespace {

class BlobWriter {
 public:
  std::vector<uint8_t> out;

  template <class T>
  void number(T v) {  // host byte order, like perf's write(fd, &v, sizeof v)
    const uint8_t* p = reinterpret_cast<const uint8_t*>(&v);
    out.insert(out.end(), p, p + sizeof v);
  }
  void bytes(const std::string& s) { out.insert(out.end(), s.begin(), s.end()); }
  void cstring(const std::string& s) {
    bytes(s);
    out.push_back(0);
  }
  template <class SizeT>
  void sized(const std::string& s) {
    number<SizeT>(static_cast<SizeT>(s.size()));
    bytes(s);
  }
};

struct Tracepoint {
  std::string system, name;
};

std::vector<Tracepoint> split_names(const std::vector<std::string>& events) {
  std::vector<Tracepoint> tps;
  for (const std::string& e : events) {
    const size_t colon = e.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == e.size())
      throw SetupError("tracepoint '" + e + "' is not of the form system:name");
    tps.push_back({e.substr(0, colon), e.substr(colon + 1)});
  }
  return tps;
}

// perf matches event directories by name alone, whatever their system
// (name_in_tp_list); so do we, or the bytes would differ when two recorded
// systems share an event name.
bool name_recorded(const std::vector<Tracepoint>& tps, const std::string& name) {
  return std::any_of(tps.begin(), tps.end(), [&](const Tracepoint& t) { return t.name == name; });
}
bool system_recorded(const std::vector<Tracepoint>& tps, const std::string& system) {
  return std::any_of(tps.begin(), tps.end(), [&](const Tracepoint& t) { return t.system == system; });
}

// A system's u32 count, then each recorded event's format as u64 size + text.
void write_system(BlobWriter& w, const std::string& dir, const std::vector<Tracepoint>& tps) {
  std::vector<std::string> formats;
  if (path_exists(dir)) {
    for (const std::string& name : list_subdirs(dir)) {
      if (!name_recorded(tps, name)) continue;
      std::string text;
      if (read_tracefs_file_if_present(dir + "/" + name + "/format", &text)) formats.push_back(std::move(text));
    }
  }
  w.number<uint32_t>(static_cast<uint32_t>(formats.size()));
  for (const std::string& f : formats) w.sized<uint64_t>(f);
}

}  // namespace

std::vector<uint8_t> build_tracing_blob(const std::string& root, const std::vector<std::string>& events) {
  const std::vector<Tracepoint> tps = split_names(events);
  BlobWriter w;
  static const uint8_t kMagic[] = {0x17, 0x08, 0x44, 't', 'r', 'a', 'c', 'i', 'n', 'g'};
  w.out.assign(kMagic, kMagic + sizeof kMagic);
  w.cstring("0.6");
  w.number<uint8_t>(0);  // little-endian (the only hosts kvmlens supports)
  w.number<uint8_t>(static_cast<uint8_t>(sizeof(long)));
  w.number<uint32_t>(static_cast<uint32_t>(::sysconf(_SC_PAGESIZE)));

  for (const char* name : {"header_page", "header_event"}) {
    w.cstring(name);
    w.sized<uint64_t>(read_tracefs_file(root + "/events/" + name));
  }

  write_system(w, root + "/events/ftrace", tps);

  // Systems in readdir order of events/, ftrace excluded (written above).
  std::vector<std::string> systems;
  for (const std::string& system : list_subdirs(root + "/events"))
    if (system != "ftrace" && system_recorded(tps, system)) systems.push_back(system);
  w.number<uint32_t>(static_cast<uint32_t>(systems.size()));
  for (const std::string& system : systems) {
    w.cstring(system);
    write_system(w, root + "/events/" + system, tps);
  }

  w.number<uint32_t>(0);  // kallsyms: current perf records only a zero size

  std::string text;
  read_tracefs_file_if_present(root + "/printk_formats", &text);
  w.sized<uint32_t>(text);
  read_tracefs_file_if_present(root + "/saved_cmdlines", &text);
  w.sized<uint64_t>(text);
  return std::move(w.out);
}

}  // namespace kvmlens
