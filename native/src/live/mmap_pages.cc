#include "live/mmap_pages.h"

#include <cctype>
#include <cstdlib>

#include "core/errors.h"

namespace kvmlens {

namespace {
uint64_t round_up_pow2(uint64_t v) {
  uint64_t p = 1;
  while (p < v) p <<= 1;
  return p;
}
}  // namespace

uint64_t parse_mmap_pages(const std::string& text, uint64_t page_size) {
  const std::string usage = "invalid -m/--mmap-pages '" + text +
                            "': give a power-of-two number of pages or a size like 512K, 4M, 1G";
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0]))) throw SetupError(usage);
  char* end = nullptr;
  unsigned long long n = std::strtoull(text.c_str(), &end, 10);
  std::string suffix(end);
  if (suffix.empty()) {
    if (n == 0 || (n & (n - 1)) != 0) throw SetupError(usage + " (" + text + " is not a power of two)");
    return n;
  }
  uint64_t unit = 0;
  if (suffix == "B" || suffix == "b") unit = 1;
  else if (suffix == "K" || suffix == "k") unit = 1ull << 10;
  else if (suffix == "M" || suffix == "m") unit = 1ull << 20;
  else if (suffix == "G" || suffix == "g") unit = 1ull << 30;
  else throw SetupError(usage);
  uint64_t bytes = n * unit;
  uint64_t pages = (bytes + page_size - 1) / page_size;
  if (pages == 0) throw SetupError(usage);
  return round_up_pow2(pages);
}

}  // namespace kvmlens
