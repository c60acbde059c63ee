#include "elf/elf_reader.h"


#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kvmlens {
namespace elf {

namespace {

template <class T>
bool load(const uint8_t* data, size_t size, uint64_t off, T* out) {
  if (off > size || sizeof(T) > size - off) return false;
  std::memcpy(out, data + off, sizeof(T));
  return true;
}

constexpr uint32_t kPtLoad = 1, kPtNote = 4;
constexpr uint32_t kShtSymtab = 2, kShtNote = 7, kShtDynsym = 11;
constexpr uint64_t kShfExecinstr = 4, kShfAlloc = 2;
constexpr uint16_t kShnUndef = 0, kShnLoreserve = 0xff00, kShnAbs = 0xfff1;
constexpr uint32_t kNtGnuBuildId = 3;

struct Shdr {
  uint32_t name, type;
  uint64_t flags, addr, offset, size;
  uint32_t link, info;
  uint64_t addralign, entsize;
};

bool read_shdr(const uint8_t* d, size_t n, uint64_t at, Shdr* s) {
  return load(d, n, at, &s->name) && load(d, n, at + 4, &s->type) && load(d, n, at + 8, &s->flags) &&
         load(d, n, at + 16, &s->addr) && load(d, n, at + 24, &s->offset) && load(d, n, at + 32, &s->size) &&
         load(d, n, at + 40, &s->link) && load(d, n, at + 44, &s->info) && load(d, n, at + 48, &s->addralign) &&
         load(d, n, at + 56, &s->entsize);
}

std::string notes_build_id(const uint8_t* d, size_t size) {
  uint64_t p = 0;
  while (p + 12 <= size) {
    uint32_t namesz, descsz, type;
    std::memcpy(&namesz, d + p, 4);
    std::memcpy(&descsz, d + p + 4, 4);
    std::memcpy(&type, d + p + 8, 4);
    uint64_t name_at = p + 12;
    uint64_t desc_at = name_at + ((uint64_t(namesz) + 3) & ~3ull);
    uint64_t next = desc_at + ((uint64_t(descsz) + 3) & ~3ull);
    if (desc_at > size || descsz > size - desc_at) break;
    if (type == kNtGnuBuildId && namesz == 4 && std::memcmp(d + name_at, "GNU", 4) == 0 && descsz > 0 && descsz <= 64)
      return std::string(reinterpret_cast<const char*>(d + desc_at), descsz);
    if (next <= p) break;
    p = next;
  }
  return std::string();
}

constexpr uint32_t kShtRela = 4, kShtNobits = 8;

// Whether a section's name contains one of `words` (perf's elf_sec__is_text
// and friends match by substring).
const char* const kLabelSections[] = {"text", "data", nullptr};
bool section_named_like(const uint8_t* d, size_t n, const std::vector<Shdr>& sh, uint16_t shstrndx, const Shdr& s,
                        const char* const* words) {
  if (shstrndx >= sh.size()) return false;
  const Shdr& names = sh[shstrndx];
  if (names.offset > n || names.size > n - names.offset || s.name >= names.size) return false;
  const char* nm = reinterpret_cast<const char*>(d + names.offset + s.name);
  const std::string name(nm, strnlen(nm, static_cast<size_t>(names.size - s.name)));
  for (; *words; words++)
    if (name.find(*words) != std::string::npos) return true;
  return false;
}

// NAME@plt for each .rela.plt entry whose symbol has a name (perf's
// dso__synthesize_plt_symbols for x86-64: 16-byte header, 16-byte entries).
void synthesize_plt(const uint8_t* d, size_t n, const std::vector<Shdr>& sh, uint16_t shstrndx, ElfImage* img) {
  if (shstrndx >= sh.size()) return;
  const Shdr& names = sh[shstrndx];
  if (names.offset > n || names.size > n - names.offset) return;
  auto name_is = [&](const Shdr& s, const char* want) {
    if (s.name >= names.size) return false;
    const char* nm = reinterpret_cast<const char*>(d + names.offset + s.name);
    size_t len = strnlen(nm, static_cast<size_t>(names.size - s.name));
    return len == std::strlen(want) && std::memcmp(nm, want, len) == 0;
  };
  const Shdr* plt = nullptr;
  const Shdr* rela = nullptr;
  for (const Shdr& s : sh) {
    if (!plt && name_is(s, ".plt")) plt = &s;
    if (!rela && s.type == kShtRela && name_is(s, ".rela.plt")) rela = &s;
  }
  if (!plt || !rela || rela->type == kShtNobits || rela->link >= sh.size()) return;
  const Shdr& dynsym = sh[rela->link];
  if (dynsym.link >= sh.size()) return;
  const Shdr& dynstr = sh[dynsym.link];
  auto ok = [&](const Shdr& s) { return s.type != kShtNobits && s.offset <= n && s.size <= n - s.offset; };
  if (!ok(*rela) || !ok(dynsym) || !ok(dynstr)) return;
  uint64_t count = rela->size / 24;
  uint64_t max_entries = plt->size >= 16 ? (plt->size - 16) / 16 : 0;
  for (uint64_t i = 0; i < count && i < max_entries; i++) {
    uint64_t info;
    if (!load(d, n, rela->offset + i * 24 + 8, &info)) break;
    // Entries without a symbol (symbol 0: R_X86_64_IRELATIVE, as libc's
    // ifunc slots) take symbol 0's empty name, so perf shows them as "@plt".
    uint64_t symidx = info >> 32;
    uint32_t name = 0;
    if (symidx >= dynsym.size / 24 || !load(d, n, dynsym.offset + symidx * 24, &name)) continue;
    if (name >= dynstr.size) continue;
    const char* nm = reinterpret_cast<const char*>(d + dynstr.offset + name);
    size_t len = strnlen(nm, static_cast<size_t>(dynstr.size - name));
    if (len > 1024) continue;
    img->plt.push_back({plt->addr + 16 + i * 16, std::string(nm, len) + "@plt"});
  }
}

}  // namespace

std::string build_id_from_notes(const uint8_t* data, size_t size) { return notes_build_id(data, size); }

bool ElfImage::offset_to_vaddr(uint64_t off, uint64_t* vaddr) const {
  for (const LoadSegment& s : loads) {
    if (off >= s.offset && off - s.offset < (s.filesz ? s.filesz : s.memsz)) {
      *vaddr = off - s.offset + s.vaddr;
      return true;
    }
  }
  return false;
}

bool parse_elf(const uint8_t* d, size_t n, ElfImage* img, profile::SymbolTable* symbols, std::string* error) {
  if (n < 64 || std::memcmp(d, "\x7f" "ELF", 4) != 0) {
    *error = "not an ELF file";
    return false;
  }
  if (d[4] != 2) {
    *error = "32-bit ELF files are not supported";
    return false;
  }
  if (d[5] != 1) {
    *error = "big-endian ELF files are not supported";
    return false;
  }
  uint16_t type, phentsize, phnum, shentsize, shnum, shstrndx;
  uint64_t phoff, shoff;
  load(d, n, 16, &type);
  load(d, n, 32, &phoff);
  load(d, n, 40, &shoff);
  load(d, n, 54, &phentsize);
  load(d, n, 56, &phnum);
  load(d, n, 58, &shentsize);
  load(d, n, 60, &shnum);
  load(d, n, 62, &shstrndx);
  img->type = type;
  if (phnum && phentsize >= 56) {
    for (uint32_t i = 0; i < phnum; i++) {
      uint64_t at = phoff + uint64_t(i) * phentsize;
      uint32_t ptype, flags;
      LoadSegment s;
      if (!load(d, n, at, &ptype) || !load(d, n, at + 4, &flags) || !load(d, n, at + 8, &s.offset) ||
          !load(d, n, at + 16, &s.vaddr) || !load(d, n, at + 32, &s.filesz) || !load(d, n, at + 40, &s.memsz)) {
        *error = "program header " + std::to_string(i) + " lies past the end of the file";
        return false;
      }
      s.flags = flags;
      if (ptype == kPtLoad) img->loads.push_back(s);
      if (ptype == kPtNote && img->build_id.empty() && s.offset <= n && s.filesz <= n - s.offset)
        img->build_id = notes_build_id(d + s.offset, s.filesz);
    }
  }
  std::vector<Shdr> sh;
  if (shnum && shentsize >= 64) {
    if (shoff > n || uint64_t(shnum) * shentsize > n - shoff) {
      *error = "section headers lie past the end of the file";
      return false;
    }
    sh.resize(shnum);
    for (uint32_t i = 0; i < shnum; i++) read_shdr(d, n, shoff + uint64_t(i) * shentsize, &sh[i]);
  }
  auto section_ok = [&](const Shdr& s) { return s.offset <= n && s.size <= n - s.offset; };
  if (img->build_id.empty())
    for (const Shdr& s : sh)
      if (s.type == kShtNote && section_ok(s)) {
        img->build_id = notes_build_id(d + s.offset, s.size);
        if (!img->build_id.empty()) break;
      }
  int symtab = -1, dynsym = -1;
  for (size_t i = 0; i < sh.size(); i++) {
    if (sh[i].type == kShtSymtab && symtab < 0) symtab = static_cast<int>(i);
    if (sh[i].type == kShtDynsym && dynsym < 0) dynsym = static_cast<int>(i);
  }
  img->has_symtab = symtab >= 0;
  img->has_dynsym = dynsym >= 0;
  synthesize_plt(d, n, sh, shstrndx, img);
  if (!symbols) return true;
  int use = symtab >= 0 ? symtab : dynsym;
  if (use < 0) return true;
  const Shdr& st = sh[use];
  if (!section_ok(st) || st.link >= sh.size() || !section_ok(sh[st.link])) {
    *error = "symbol table section lies past the end of the file";
    return false;
  }
  const Shdr& strs = sh[st.link];
  const char* strtab = reinterpret_cast<const char*>(d + strs.offset);
  uint64_t entsize = st.entsize >= 24 ? st.entsize : 24;
  uint64_t count = st.size / entsize;
  for (uint64_t i = 1; i < count; i++) {
    uint64_t at = st.offset + i * entsize;
    uint32_t name;
    uint8_t info;
    uint16_t shndx;
    uint64_t value, size;
    if (!load(d, n, at, &name) || !load(d, n, at + 4, &info) || !load(d, n, at + 6, &shndx) ||
        !load(d, n, at + 8, &value) || !load(d, n, at + 16, &size))
      break;
    uint8_t stt = info & 0xf, bind = info >> 4, other = 0;
    load(d, n, at + 5, &other);
    if (name == 0 || name >= strs.size || shndx == kShnUndef) continue;
    // What perf keeps (dso__load_sym): functions and data objects, and named
    // NOTYPE labels that are not hidden or internal and sit in a section
    // named like text; all in sections loaded to memory. The objects never
    // name a code address, but they shape perf's symbol tree and end the
    // zero-sized symbols before them, so they are kept as perf keeps them.
    if (shndx == kShnAbs || shndx >= kShnLoreserve || shndx >= sh.size()) continue;
    const Shdr& sec = sh[shndx];
    if (!(sec.flags & kShfAlloc)) continue;
    const bool func = stt == 2 /*FUNC*/ || stt == 10 /*GNU_IFUNC*/;
    const bool object = stt == 1 /*OBJECT*/;
    const uint8_t visibility = other & 3;
    const bool label = stt == 0 && visibility != 1 /*INTERNAL*/ && visibility != 2 /*HIDDEN*/ &&
                       section_named_like(d, n, sh, shstrndx, sec, kLabelSections);
    if (!func && !object && !label) continue;
    const char* nm = strtab + name;
    size_t len = strnlen(nm, static_cast<size_t>(strs.size - name));
    if (len == 0) continue;
    uint8_t b = bind == 1 ? profile::kBindGlobal : bind == 2 ? profile::kBindWeak : profile::kBindLocal;
    uint8_t t = stt == 10 ? profile::kTypeIfunc : stt == 2 ? profile::kTypeFunc : stt == 1 ? profile::kTypeObject : profile::kTypeNoType;
    symbols->add(value, size, nm, len, b, t);  // the table demangles C++ names unless told not to
    img->nr_symbols++;
  }
  symbols->finish(false);
  return true;
}

bool read_file(const std::string& path, std::vector<uint8_t>* out, std::string* error, size_t max_size) {
  // O_NONBLOCK: a FIFO named by an untrusted recording must not hang us.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    *error = std::strerror(errno);
    return false;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    *error = S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file";
    ::close(fd);
    return false;
  }
  out->clear();
  if (S_ISREG(st.st_mode)) {
    if (static_cast<uint64_t>(st.st_size) > max_size) {
      *error = "file is too large";
      ::close(fd);
      return false;
    }
    out->reserve(static_cast<size_t>(st.st_size));
  }
  uint8_t buf[1 << 16];
  for (;;) {
    ssize_t r = ::read(fd, buf, sizeof buf);
    if (r < 0) {
      if (errno == EINTR) continue;
      *error = std::strerror(errno);
      ::close(fd);
      return false;
    }
    if (r == 0) break;
    if (out->size() + static_cast<size_t>(r) > max_size) {
      *error = "file is too large";
      ::close(fd);
      return false;
    }
    out->insert(out->end(), buf, buf + r);
  }
  ::close(fd);
  return true;
}

std::string hex(const std::string& bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    s.push_back(digits[c >> 4]);
    s.push_back(digits[c & 15]);
  }
  return s;
}

}  // namespace elf
}  // namespace kvmlens
