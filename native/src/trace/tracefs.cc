#include "trace/tracefs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/errors.h"

namespace kvmlens {

namespace {

SetupError cannot_read(const std::string& path, int err) {
  if (err == EACCES || err == EPERM)
    return SetupError("cannot read " + path + ": permission denied; run as root or grant read access to tracefs");
  return SetupError("cannot read " + path + ": " + std::strerror(err));
}

// Reads to EOF; returns 0 or an errno.
int read_all(const std::string& path, std::string* out) {
  out->clear();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      out->append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      const int err = errno;
      ::close(fd);
      return err;
    }
  }
  ::close(fd);
  return 0;
}

}  // namespace

bool path_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string find_tracefs_root() {
  static const char* const kRoots[] = {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"};
  int denied = 0;
  for (const char* root : kRoots) {
    const std::string events = std::string(root) + "/events";
    struct stat st;
    if (::stat(events.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode)) return root;
    } else if (errno == EACCES) {
      denied = 1;
    }
  }
  // Non-root users cannot even look inside /sys/kernel/tracing (mode 0700):
  // say so instead of claiming it is not mounted.
  if (denied) throw cannot_read(std::string(kRoots[0]) + "/events", EACCES);
  throw SetupError("tracefs is not mounted at /sys/kernel/tracing: run `mount -t tracefs nodev /sys/kernel/tracing`");
}

std::string read_tracefs_file(const std::string& path) {
  std::string out;
  const int err = read_all(path, &out);
  if (err) throw cannot_read(path, err);
  return out;
}

bool read_tracefs_file_if_present(const std::string& path, std::string* out) {
  const int err = read_all(path, out);
  if (err == ENOENT) return false;
  if (err) throw cannot_read(path, err);
  return true;
}

std::vector<std::string> list_subdirs(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) throw cannot_read(dir, errno);
  std::vector<std::string> names;
  while (const dirent* ent = ::readdir(d)) {
    const std::string name = ent->d_name;
    if (name == "." || name == "..") continue;
    bool is_dir = ent->d_type == DT_DIR;
    if (ent->d_type == DT_UNKNOWN) {  // filesystems without d_type: ask stat
      struct stat st;
      is_dir = ::stat((dir + "/" + name).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    }
    if (is_dir) names.push_back(name);
  }
  ::closedir(d);
  return names;
}

}  // namespace kvmlens
