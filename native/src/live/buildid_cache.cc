// perf record's build-id cache (see profile_record.h for the layout).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "live/build_id.h"
#include "live/profile_record.h"

namespace kvmlens {

namespace {

bool mkdirs(const std::string& path) {
  for (size_t i = 1; i <= path.size(); i++) {
    if (i < path.size() && path[i] != '/') continue;
    std::string part = path.substr(0, i);
    if (::mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) return false;
  }
  return true;
}

bool write_all(const std::string& path, const uint8_t* data, size_t size) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::write(fd, data + done, size - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  bool ok = ::close(fd) == 0 && done == size;
  if (ok) ok = ::rename(tmp.c_str(), path.c_str()) == 0;
  if (!ok) ::unlink(tmp.c_str());
  return ok;
}

bool read_all(const std::string& path, std::vector<uint8_t>* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  uint8_t buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      ::close(fd);
      return false;
    }
    if (n == 0) break;
    out->insert(out->end(), buf, buf + n);
  }
  ::close(fd);
  return true;
}

}  // namespace

std::vector<std::string> add_to_buildid_cache(const std::string& dir, const std::vector<BuildIdSource>& sources) {
  std::vector<std::string> problems;
  for (const BuildIdSource& s : sources) {
    if (s.machine_pid != -1 || s.hex.size() < 3) continue;  // host only, as perf record
    std::string rel;   // under dir, without the leading '/'
    std::string leaf;  // the file in the BUILDID directory
    std::vector<uint8_t> content;
    std::string link_from;
    if (s.kernel_image) {
      rel = s.name + "/" + s.hex;
      leaf = "kallsyms";
    } else if (s.name == "[vdso]") {
      rel = s.name + "/" + s.hex;
      leaf = "vdso";
    } else if (!s.file.empty() && s.name.front() == '/') {
      rel = s.name.substr(1) + "/" + s.hex;
      leaf = "elf";
      link_from = s.file;
    } else {
      continue;  // modules by name only, and the like: nothing to keep
    }
    const std::string target_dir = dir + "/" + rel;
    const std::string target = target_dir + "/" + leaf;
    if (::access(target.c_str(), F_OK) != 0) {
      if (!mkdirs(target_dir)) {
        problems.push_back("build-id cache: cannot create " + target_dir + ": " + std::strerror(errno));
        continue;
      }
      bool ok = false;
      if (!link_from.empty()) {
        ok = ::link(link_from.c_str(), target.c_str()) == 0;
        if (!ok) ok = read_all(link_from, &content) && write_all(target, content.data(), content.size());
      } else if (leaf == "kallsyms") {
        ok = read_all("/proc/kallsyms", &content) && write_all(target, content.data(), content.size());
      } else {
        content = vdso_image();
        ok = !content.empty() && write_all(target, content.data(), content.size());
      }
      if (!ok) {
        problems.push_back("build-id cache: cannot add " + s.name + " as " + target + ": " + std::strerror(errno));
        continue;
      }
    }
    // .build-id/xx/rest -> ../../REL
    const std::string link_dir = dir + "/.build-id/" + s.hex.substr(0, 2);
    const std::string link = link_dir + "/" + s.hex.substr(2);
    struct stat st;
    if (::lstat(link.c_str(), &st) == 0) continue;
    if (!mkdirs(link_dir) || ::symlink(("../../" + rel).c_str(), link.c_str()) != 0)
      problems.push_back("build-id cache: cannot link " + link + ": " + std::strerror(errno));
  }
  return problems;
}

}  // namespace kvmlens
