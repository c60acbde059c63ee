#include "live/build_id.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/auxv.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <functional>

namespace kvmlens {

namespace {

constexpr uint32_t kNtGnuBuildId = 3;

// Reads `n` bytes at `off` into `out`; false when they are not all there.
using ReadAt = std::function<bool(uint64_t off, size_t n, void* out)>;

bool notes_in(const ReadAt& read, uint64_t off, uint64_t size, std::vector<uint8_t>* id) {
  if (size == 0 || size > (1u << 20)) return false;
  std::vector<uint8_t> buf(size);
  if (!read(off, size, buf.data())) return false;
  *id = build_id_from_notes(buf.data(), buf.size());
  return !id->empty();
}

template <class Ehdr, class Phdr, class Shdr>
std::vector<uint8_t> from_elf(const ReadAt& read) {
  Ehdr eh;
  if (!read(0, sizeof eh, &eh)) return {};
  std::vector<uint8_t> id;
  // Note segments first (what a loaded object carries), then note sections.
  if (eh.e_phentsize == sizeof(Phdr) && eh.e_phnum > 0 && eh.e_phnum < 4096) {
    for (unsigned i = 0; i < eh.e_phnum; i++) {
      Phdr ph;
      if (!read(eh.e_phoff + uint64_t(i) * sizeof ph, sizeof ph, &ph)) break;
      if (ph.p_type == PT_NOTE && notes_in(read, ph.p_offset, ph.p_filesz, &id)) return id;
    }
  }
  if (eh.e_shentsize == sizeof(Shdr) && eh.e_shnum > 0 && eh.e_shnum < 65536) {
    for (unsigned i = 0; i < eh.e_shnum; i++) {
      Shdr sh;
      if (!read(eh.e_shoff + uint64_t(i) * sizeof sh, sizeof sh, &sh)) break;
      if (sh.sh_type == SHT_NOTE && notes_in(read, sh.sh_offset, sh.sh_size, &id)) return id;
    }
  }
  return {};
}

std::vector<uint8_t> from_reader(const ReadAt& read) {
  unsigned char ident[EI_NIDENT];
  if (!read(0, sizeof ident, ident) || std::memcmp(ident, ELFMAG, SELFMAG) != 0) return {};
  if (ident[EI_DATA] != ELFDATA2LSB) return {};  // the hosts we run on are little-endian
  if (ident[EI_CLASS] == ELFCLASS64) return from_elf<Elf64_Ehdr, Elf64_Phdr, Elf64_Shdr>(read);
  if (ident[EI_CLASS] == ELFCLASS32) return from_elf<Elf32_Ehdr, Elf32_Phdr, Elf32_Shdr>(read);
  return {};
}

}  // namespace

std::vector<uint8_t> build_id_from_notes(const uint8_t* p, size_t size) {
  size_t off = 0;
  auto align4 = [](size_t n) { return (n + 3) & ~size_t(3); };
  while (off + 12 <= size) {
    uint32_t namesz, descsz, type;
    std::memcpy(&namesz, p + off, 4);
    std::memcpy(&descsz, p + off + 4, 4);
    std::memcpy(&type, p + off + 8, 4);
    size_t name_off = off + 12;
    size_t desc_off = name_off + align4(namesz);
    size_t next = desc_off + align4(descsz);
    if (desc_off > size || desc_off + descsz > size || next < off) break;
    if (type == kNtGnuBuildId && namesz == 4 && std::memcmp(p + name_off, "GNU", 4) == 0 && descsz > 0 &&
        descsz <= 20)
      return std::vector<uint8_t>(p + desc_off, p + desc_off + descsz);
    off = next;
  }
  return {};
}

std::vector<uint8_t> build_id_from_notes_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  std::vector<uint8_t> buf;
  uint8_t chunk[4096];
  for (;;) {
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n <= 0) break;
    buf.insert(buf.end(), chunk, chunk + n);
    if (buf.size() > (1u << 20)) break;
  }
  ::close(fd);
  return build_id_from_notes(buf.data(), buf.size());
}

std::vector<uint8_t> build_id_from_elf_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  auto read = [fd](uint64_t off, size_t n, void* out) {
    size_t done = 0;
    while (done < n) {
      ssize_t r = ::pread(fd, static_cast<uint8_t*>(out) + done, n - done, static_cast<off_t>(off + done));
      if (r <= 0) return false;
      done += static_cast<size_t>(r);
    }
    return true;
  };
  std::vector<uint8_t> id = from_reader(read);
  ::close(fd);
  return id;
}

std::vector<uint8_t> build_id_from_elf_image(const uint8_t* image, size_t size) {
  auto read = [image, size](uint64_t off, size_t n, void* out) {
    if (off > size || n > size - off) return false;
    std::memcpy(out, image + off, n);
    return true;
  };
  return from_reader(read);
}

std::vector<uint8_t> vdso_build_id() {
  auto base = reinterpret_cast<const uint8_t*>(::getauxval(AT_SYSINFO_EHDR));
  if (!base) return {};
  // The vDSO is a couple of pages; its headers say how far it extends.
  const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(base);
  if (std::memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64) return {};
  size_t size = 0;
  const auto* ph = reinterpret_cast<const Elf64_Phdr*>(base + eh->e_phoff);
  for (unsigned i = 0; i < eh->e_phnum; i++)
    if (ph[i].p_type == PT_LOAD && ph[i].p_offset + ph[i].p_filesz > size) size = ph[i].p_offset + ph[i].p_filesz;
  if (size == 0) return {};
  // Section headers may lie past the loaded part: look at segments only.
  std::vector<uint8_t> id;
  for (unsigned i = 0; i < eh->e_phnum; i++)
    if (ph[i].p_type == PT_NOTE && ph[i].p_offset + ph[i].p_filesz <= size) {
      id = build_id_from_notes(base + ph[i].p_offset, ph[i].p_filesz);
      if (!id.empty()) return id;
    }
  return {};
}

std::vector<uint8_t> vdso_image() {
  FILE* maps = std::fopen("/proc/self/maps", "re");
  if (!maps) return {};
  char line[512];
  std::vector<uint8_t> out;
  while (std::fgets(line, sizeof line, maps)) {
    if (!std::strstr(line, "[vdso]")) continue;
    unsigned long long lo = 0, hi = 0;
    if (std::sscanf(line, "%llx-%llx", &lo, &hi) == 2 && hi > lo && hi - lo <= (1u << 20))
      out.assign(reinterpret_cast<const uint8_t*>(lo), reinterpret_cast<const uint8_t*>(hi));
    break;
  }
  std::fclose(maps);
  return out;
}

std::string build_id_hex(const std::vector<uint8_t>& id) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (uint8_t b : id) {
    s += digits[b >> 4];
    s += digits[b & 15];
  }
  return s;
}

}  // namespace kvmlens
