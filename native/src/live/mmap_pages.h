// perf's -m/--mmap-pages syntax: a number of pages (power of two), or a size
// with a B/K/M/G suffix rounded up to a power-of-two number of pages.
#pragma once
#include <cstdint>
#include <string>

namespace kvmlens {

// Throws SetupError with a usage message on a bad value.
uint64_t parse_mmap_pages(const std::string& text, uint64_t page_size);

}  // namespace kvmlens
