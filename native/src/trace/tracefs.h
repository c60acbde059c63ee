// Access to a mounted tracefs: finding its root, reading its pseudo-files
// (whose stat size is meaningless, so they are read to EOF) and listing
// event directories in the order the kernel returns them (perf writes
// tracing data in that order, and so do we).
#pragma once
#include <string>
#include <vector>

namespace kvmlens {

// "/sys/kernel/tracing", else "/sys/kernel/debug/tracing", whichever has
// events/. Throws SetupError with the fix (mount it, or permissions).
std::string find_tracefs_root();

// Whole file contents. Throws SetupError naming the path; permission
// problems say how to fix them.
std::string read_tracefs_file(const std::string& path);

// Same, but returns false (and leaves *out empty) when the file is absent.
bool read_tracefs_file_if_present(const std::string& path, std::string* out);

bool path_exists(const std::string& path);

// Names of the subdirectories of `dir`, in readdir order, without "." and
// "..". Throws SetupError when `dir` cannot be opened (errno-specific text).
std::vector<std::string> list_subdirs(const std::string& dir);

}  // namespace kvmlens
