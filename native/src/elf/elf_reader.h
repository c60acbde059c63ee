// A bounds-checked reader of 64-bit little-endian ELF files (executables,
// shared objects, vmlinux): load segments, the GNU build-id note, and the
// function symbols of .symtab (or .dynsym when there is no .symtab), as perf
// selects them. Never trusts an offset or a count from the file.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "profile/symbol_table.h"

namespace kvmlens {
namespace elf {

struct LoadSegment {
  uint64_t offset = 0, vaddr = 0, filesz = 0, memsz = 0;
  uint32_t flags = 0;  // PF_X = 1
};

struct ElfImage {
  uint16_t type = 0;                // ET_EXEC = 2, ET_DYN = 3, ET_REL = 1
  std::vector<LoadSegment> loads;
  std::string build_id;             // raw bytes, empty if no note
  bool has_symtab = false, has_dynsym = false;
  size_t nr_symbols = 0;            // function symbols kept
  // perf's synthesized "NAME@plt" symbols: one per .rela.plt entry, 16
  // bytes each after the 16-byte .plt header (x86-64), as addresses.
  struct PltSymbol {
    uint64_t addr;
    std::string name;
  };
  std::vector<PltSymbol> plt;
  // Converts a file offset to the virtual address the symbols use; false
  // if no load segment covers it.
  bool offset_to_vaddr(uint64_t off, uint64_t* vaddr) const;
};

// Parses `data` (the whole file). With `symbols`, fills it with the
// function symbols (finish() already called). Returns false with a one-line
// reason in *error when the bytes are not a usable ELF file.
bool parse_elf(const uint8_t* data, size_t size, ElfImage* image, profile::SymbolTable* symbols, std::string* error);

// Build-id notes (NT_GNU_BUILD_ID) in a note blob such as
// /sys/kernel/notes; empty if none.
std::string build_id_from_notes(const uint8_t* data, size_t size);

// Reads a whole file into memory (bounded by max_size); false + reason.
bool read_file(const std::string& path, std::vector<uint8_t>* out, std::string* error,
               size_t max_size = size_t(1) << 31);

std::string hex(const std::string& bytes);

}  // namespace elf
}  // namespace kvmlens
