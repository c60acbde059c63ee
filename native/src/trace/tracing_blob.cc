#include "trace/tracing_blob.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "core/errors.h"

namespace kvmlens {

namespace {

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw SetupError("cannot read " + path + ": " + std::strerror(errno));
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

template <class T>
void put(std::vector<uint8_t>* out, T v) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(&v);
  out->insert(out->end(), p, p + sizeof v);
}

void put_bytes(std::vector<uint8_t>* out, const std::string& s) { out->insert(out->end(), s.begin(), s.end()); }

void put_cstring(std::vector<uint8_t>* out, const std::string& s) {
  put_bytes(out, s);
  out->push_back(0);
}

}  // namespace

std::vector<uint8_t> build_tracing_blob(const std::string& root, const std::vector<std::string>& events) {
  std::vector<uint8_t> out;
  const uint8_t magic[] = {0x17, 0x08, 0x44, 't', 'r', 'a', 'c', 'i', 'n', 'g'};
  out.insert(out.end(), magic, magic + sizeof magic);
  put_cstring(&out, "0.6");
  out.push_back(0);  // little-endian
  out.push_back(static_cast<uint8_t>(sizeof(long)));
  put<uint32_t>(&out, static_cast<uint32_t>(::sysconf(_SC_PAGESIZE)));
  for (const char* name : {"header_page", "header_event"}) {
    std::string text = read_file(root + "/events/" + name);
    put_cstring(&out, name);
    put<uint64_t>(&out, text.size());
    put_bytes(&out, text);
  }
  put<uint32_t>(&out, 0);  // ftrace formats: none needed
  std::map<std::string, std::vector<std::string>> by_system;
  for (const std::string& e : events) {
    size_t colon = e.find(':');
    by_system[e.substr(0, colon)].push_back(e.substr(colon + 1));
  }
  put<uint32_t>(&out, static_cast<uint32_t>(by_system.size()));
  for (const auto& [system, names] : by_system) {
    put_cstring(&out, system);
    put<uint32_t>(&out, static_cast<uint32_t>(names.size()));
    for (const std::string& name : names) {
      std::string text = read_file(root + "/events/" + system + "/" + name + "/format");
      put<uint64_t>(&out, text.size());
      put_bytes(&out, text);
    }
  }
  put<uint32_t>(&out, 0);  // kallsyms
  put<uint32_t>(&out, 0);  // printk formats
  put<uint64_t>(&out, 0);  // saved cmdlines (version 0.6)
  return out;
}

}  // namespace kvmlens
