// Symbol tables of one DSO (an ELF file's .symtab/.dynsym, a kallsyms or
// System.map text) with perf's fix-ups: duplicates at one address reduced
// to the best name, zero-sized symbols extended to the next one. Parsed once
// per DSO; lookups are a binary search, no allocation.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "profile/perf_symbol_tree.h"

namespace kvmlens {
namespace profile {

enum SymBinding : uint8_t { kBindLocal = 0, kBindGlobal = 1, kBindWeak = 2 };
enum SymType : uint8_t { kTypeFunc = 0, kTypeObject = 1, kTypeNoType = 2, kTypeIfunc = 3 };

struct Symbol {
  uint64_t start = 0, end = 0;  // [start, end) in the table's address space
  uint32_t name_off = 0, name_len = 0;
  uint8_t binding = kBindGlobal, type = kTypeFunc;
  uint16_t module = 0;          // kallsyms: 1 + index into modules(), 0 = kernel proper
  int32_t node = -1;            // in the replay of perf's symbol tree
};

class SymbolTable {
 public:
  void add(uint64_t start, uint64_t size, const char* name, size_t name_len, uint8_t binding, uint8_t type,
           uint16_t module = 0);
  // Set before add(): C++ names are stored demangled, as perf shows them.
  void set_demangle(bool on) { demangle_ = on; }
  // The first time: sorts, fixes ends (perf's symbols__fixup_end;
  // `kallsyms` rounds the last symbol of the kernel and of each module to
  // the next page instead of bridging the gap), then removes duplicates
  // (choose_best_symbol). Called again after more add()s, it only adds those
  // as they are, as perf adds the NAME@plt symbols it synthesizes after its
  // fix-ups (no end fixed, no duplicate removed).
  void finish(bool kallsyms);

  // The symbol containing addr, or nullptr; where symbols overlap, the one
  // perf's tree walk meets first.
  const Symbol* find(uint64_t addr) const;
  std::string name(const Symbol& s) const { return std::string(names_.data() + s.name_off, s.name_len); }
  const char* name_ptr(const Symbol& s) const { return names_.data() + s.name_off; }
  size_t size() const { return syms_.size(); }
  const std::vector<Symbol>& symbols() const { return syms_; }
  const std::vector<std::string>& modules() const { return modules_; }
  uint16_t module_index(const std::string& name);  // 1-based, adds if new
  // Address of a symbol by name (first match), or 0: "_text", "_stext".
  uint64_t address_of(const char* name) const;

 private:
  void index_nodes();

  std::vector<Symbol> syms_;       // sorted by start once finished; newer add()s after
  size_t finished_ = 0;            // syms_[0, finished_) are sorted and in the tree
  bool loaded_ = false;            // the first finish() has run
  PerfSymbolTree tree_;            // perf's tree, replayed: used where symbols overlap
  std::vector<uint32_t> by_node_;  // syms_ index of each tree node (~0u once erased)
  bool overlaps_ = false;
  std::string names_;
  std::vector<std::string> modules_;
  bool demangle_ = false;
};

// kallsyms / System.map text: "ADDR TYPE NAME [MODULE]" per line. Keeps the
// text symbols perf keeps (types T, t, W, w; plus D/B data as perf does for
// kallsyms). Malformed lines are skipped and counted in *bad_lines.
// Returns false and sets *error when the text has no usable line at all.
bool parse_kallsyms(const char* text, size_t size, SymbolTable* out, size_t* bad_lines, std::string* error);

// /proc/modules text: "NAME SIZE REFS DEPS STATE ADDR" per line.
struct ModuleRange {
  std::string name;
  uint64_t start = 0, size = 0;
};
bool parse_modules(const char* text, size_t size, std::vector<ModuleRange>* out, std::string* error);

}  // namespace profile
}  // namespace kvmlens
