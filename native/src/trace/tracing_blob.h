// HEADER_TRACING_DATA as perf writes it, built from a mounted tracefs:
// magic, version "0.6", endianness, long size, page size, header_page,
// header_event, ftrace formats (none), the given systems' event formats,
// then empty kallsyms, printk formats and saved cmdlines.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace kvmlens {

// `events`: "system:name" of the recorded tracepoints. Throws SetupError.
std::vector<uint8_t> build_tracing_blob(const std::string& tracefs_root, const std::vector<std::string>& events);

}  // namespace kvmlens
