// The least any perf.data reader does with a file, as a floor for
// `kvmlens stat report`'s time: map the data section (its pages mapped
// ahead by a second thread, as the real reader does), step from record to
// record by their headers reading nothing else, unmap. No ordering, no
// decoding, no statistics.
//   build/walk_floor FILE      prints records and wall seconds; exits 1 on a bad file
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <memory>

#include "perf/page_populator.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s FILE\n", argv[0]);
    return 2;
  }
  const auto t0 = std::chrono::steady_clock::now();
  const int fd = ::open(argv[1], O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || ::fstat(fd, &st) != 0 || st.st_size < 104) {
    std::fprintf(stderr, "walk_floor: cannot read %s\n", argv[1]);
    return 1;
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) {
    std::fprintf(stderr, "walk_floor: cannot map %s\n", argv[1]);
    return 1;
  }
  const uint8_t* base = static_cast<const uint8_t*>(map);
  uint64_t data_offset, data_size;  // perf_file_header.data (offset 40)
  std::memcpy(&data_offset, base + 40, 8);
  std::memcpy(&data_size, base + 48, 8);
  if (std::memcmp(base, "PERFILE2", 8) != 0 || data_offset > size || data_size > size - data_offset) {
    std::fprintf(stderr, "walk_floor: %s is not a perf.data file in file mode\n", argv[1]);
    return 1;
  }
  uint64_t records = 0, pos = data_offset;
  const uint64_t end = data_offset + data_size;
  {
    kvmlens::PagePopulator populator(base, size, 32u << 20);
    uint64_t next_advance = pos + (4u << 20);
    while (pos + 8 <= end) {
      uint16_t record_size;
      std::memcpy(&record_size, base + pos + 6, 2);
      if (record_size < 8) break;
      __builtin_prefetch(base + pos + 1024);
      pos += record_size;
      records++;
      if (pos >= next_advance) {
        populator.advance(pos);
        next_advance = pos + (4u << 20);
      }
    }
  }
  ::munmap(map, size);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%" PRIu64 " records, %.3f s\n", records, s);
  return pos == end ? 0 : 1;
}
