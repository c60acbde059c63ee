// HEADER_TRACING_DATA as perf record writes it, built from a mounted tracefs,
// byte for byte: magic, version "0.6", endianness, long size, page size,
// header_page, header_event, the ftrace formats among the recorded events,
// the recorded events' formats grouped by system (directories in readdir
// order, as perf walks them), an empty kallsyms (perf no longer stores it),
// printk_formats and saved_cmdlines.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace kvmlens {

// `events`: "system:name" of the recorded tracepoints. Throws SetupError.
std::vector<uint8_t> build_tracing_blob(const std::string& tracefs_root, const std::vector<std::string>& events);

}  // namespace kvmlens
