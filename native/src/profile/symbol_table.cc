#include "profile/symbol_table.h"

#include <algorithm>
#include <cstring>

#include "elf/demangle.h"

namespace kvmlens {
namespace profile {

void SymbolTable::add(uint64_t start, uint64_t size, const char* name, size_t name_len, uint8_t binding,
                      uint8_t type, uint16_t module) {
  if (name_len > 4096) name_len = 4096;  // bound absurd names from untrusted input
  std::string shown;
  if (demangle_ && name_len > 2 && name[0] == '_' && name[1] == 'Z') {
    shown = elf::demangle(std::string(name, name_len));
    name = shown.data();
    // Demangled template names run long (V8's reach 7 KB) and perf prints
    // them whole; 64 KiB still bounds what substitutions in a hostile name expand to.
    name_len = std::min<size_t>(shown.size(), 65536);
  }
  Symbol s;
  s.start = start;
  s.end = start + size < start ? ~0ULL : start + size;
  s.name_off = static_cast<uint32_t>(names_.size());
  s.name_len = static_cast<uint32_t>(name_len);
  s.binding = binding;
  s.type = type;
  s.module = module;
  names_.append(name, name_len);
  syms_.push_back(s);
}

uint16_t SymbolTable::module_index(const std::string& name) {
  for (size_t i = 0; i < modules_.size(); i++)
    if (modules_[i] == name) return static_cast<uint16_t>(i + 1);
  if (modules_.size() >= 0xfffe) return 0xffff;
  modules_.push_back(name);
  return static_cast<uint16_t>(modules_.size());
}

namespace {

size_t leading_underscores(const char* s, size_t n) {
  size_t i = 0;
  while (i < n && s[i] == '_') i++;
  return i;
}

}  // namespace

void SymbolTable::finish(bool kallsyms) {
  // perf inserts each symbol into its tree as it reads it.
  for (size_t i = finished_; i < syms_.size(); i++) syms_[i].node = tree_.insert(syms_[i].start, syms_[i].end);
  // Equal starts stay in insertion order, as perf's tree has them in order.
  std::stable_sort(syms_.begin(), syms_.end(), [](const Symbol& a, const Symbol& b) { return a.start < b.start; });
  if (loaded_) {  // synthesized symbols after the fix-ups: taken as they are
    finished_ = syms_.size();
    index_nodes();
    return;
  }
  loaded_ = true;
  // Duplicates at one address: keep the one perf's choose_best_symbol keeps.
  auto a_is_better = [&](const Symbol& a, const Symbol& b) {
    uint64_t la = a.end - a.start, lb = b.end - b.start;
    if (lb == 0 && la > 0) return true;
    if (la == 0 && lb > 0) return false;
    bool wa = a.binding == kBindWeak, wb = b.binding == kBindWeak;
    if (wb && !wa) return true;
    if (wa && !wb) return false;
    bool ga = a.binding == kBindGlobal, gb = b.binding == kBindGlobal;
    if (ga && !gb) return true;
    if (gb && !ga) return false;
    size_t ua = leading_underscores(name_ptr(a), a.name_len), ub = leading_underscores(name_ptr(b), b.name_len);
    if (ub > ua) return true;
    if (ua > ub) return false;
    if (a.name_len > b.name_len) return true;
    if (a.name_len < b.name_len) return false;
    return true;
  };
  // As perf: first zero-sized symbols end where the next begins (in
  // kallsyms the last one of the kernel or of a module ends at the next page
  // instead), then duplicates at one address are reduced to one — so of two
  // zero-sized aliases the later one, which got a size, wins.
  for (size_t i = 0; i + 1 < syms_.size(); i++) {
    Symbol& prev = syms_[i];
    const Symbol& curr = syms_[i + 1];
    if (prev.end == prev.start) {
      if (kallsyms && (prev.module == 0) != (curr.module == 0))
        prev.end = ((prev.end + 4096) + 4095) / 4096 * 4096;
      else
        prev.end = curr.start;
    }
  }
  if (!syms_.empty() && syms_.back().end == syms_.back().start)
    syms_.back().end = (syms_.back().start + 4095) / 4096 * 4096 + 4096;
  for (const Symbol& s : syms_) tree_.set_end(s.node, s.end);
  // perf erases the loser of each pair from its tree, in this order.
  std::vector<Symbol> out;
  out.reserve(syms_.size());
  for (const Symbol& s : syms_) {
    if (!out.empty() && out.back().start == s.start) {
      if (!a_is_better(out.back(), s)) {
        tree_.erase(out.back().node);
        out.back() = s;
      } else {
        tree_.erase(s.node);
      }
      continue;
    }
    out.push_back(s);
  }
  syms_.swap(out);
  finished_ = syms_.size();
  index_nodes();
}

void SymbolTable::index_nodes() {
  by_node_.assign(tree_.size(), ~0u);
  overlaps_ = false;
  for (size_t i = 0; i < syms_.size(); i++) {
    by_node_[static_cast<size_t>(syms_[i].node)] = static_cast<uint32_t>(i);
    if (i + 1 < syms_.size() && (syms_[i].end > syms_[i + 1].start || syms_[i].start == syms_[i + 1].start))
      overlaps_ = true;
  }
}

const Symbol* SymbolTable::find(uint64_t addr) const {
  if (overlaps_) {
    const int32_t node = tree_.find(addr);
    return node == PerfSymbolTree::kNone ? nullptr : &syms_[by_node_[static_cast<size_t>(node)]];
  }
  // No overlap: the last symbol with start <= addr is the only candidate
  // (a zero-sized one contains its start, as in perf's walk).
  auto it = std::upper_bound(syms_.begin(), syms_.end(), addr,
                             [](uint64_t a, const Symbol& s) { return a < s.start; });
  if (it == syms_.begin()) return nullptr;
  --it;
  if (addr < it->end || addr == it->start) return &*it;
  return nullptr;
}

uint64_t SymbolTable::address_of(const char* name) const {
  size_t n = std::strlen(name);
  for (const Symbol& s : syms_)
    if (s.name_len == n && std::memcmp(names_.data() + s.name_off, name, n) == 0) return s.start;
  return 0;
}

namespace {

bool parse_hex(const char*& p, const char* end, uint64_t* out) {
  uint64_t v = 0;
  int digits = 0;
  while (p < end) {
    char c = *p;
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else break;
    if (digits >= 16) return false;
    v = v << 4 | static_cast<uint64_t>(d);
    digits++;
    p++;
  }
  *out = v;
  return digits > 0;
}

void skip_blanks(const char*& p, const char* end) {
  while (p < end && (*p == ' ' || *p == '\t')) p++;
}

}  // namespace

bool parse_kallsyms(const char* text, size_t size, SymbolTable* out, size_t* bad_lines, std::string* error) {
  const char* p = text;
  const char* end = text + size;
  size_t good = 0, bad = 0;
  while (p < end) {
    const char* eol = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    if (!eol) eol = end;
    const char* q = p;
    p = eol < end ? eol + 1 : end;
    skip_blanks(q, eol);
    if (q == eol) continue;  // blank line
    uint64_t addr;
    if (!parse_hex(q, eol, &addr) || q >= eol || (*q != ' ' && *q != '\t')) { bad++; continue; }
    skip_blanks(q, eol);
    if (q >= eol) { bad++; continue; }
    char type = *q++;
    if (q >= eol || (*q != ' ' && *q != '\t')) { bad++; continue; }
    skip_blanks(q, eol);
    const char* name = q;
    while (q < eol && *q != ' ' && *q != '\t' && *q != '\r') q++;
    size_t name_len = static_cast<size_t>(q - name);
    if (name_len == 0) { bad++; continue; }
    skip_blanks(q, eol);
    uint16_t module = 0;
    if (q < eol && *q == '[') {
      const char* close = static_cast<const char*>(std::memchr(q, ']', static_cast<size_t>(eol - q)));
      if (close && close > q + 1) module = out->module_index(std::string(q + 1, close));
    }
    good++;
    char t = static_cast<char>(type >= 'a' && type <= 'z' ? type - 32 : type);
    if (t != 'T' && t != 'W' && t != 'D' && t != 'B') continue;
    uint8_t binding = type == 'W' || type == 'w' ? kBindWeak : (type >= 'A' && type <= 'Z' ? kBindGlobal : kBindLocal);
    uint8_t stype = t == 'T' || t == 'W' ? kTypeFunc : kTypeObject;
    out->add(addr, 0, name, name_len, binding, stype, module);
  }
  if (bad_lines) *bad_lines = bad;
  if (good == 0) {
    if (error) *error = size == 0 ? "the file is empty" : "no line has the form 'ADDRESS TYPE NAME'";
    return false;
  }
  out->finish(true);
  return true;
}

bool parse_modules(const char* text, size_t size, std::vector<ModuleRange>* out, std::string* error) {
  const char* p = text;
  const char* end = text + size;
  size_t lines = 0;
  while (p < end) {
    const char* eol = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    if (!eol) eol = end;
    std::string line(p, eol);
    p = eol < end ? eol + 1 : end;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    lines++;
    // name size refcount deps state address
    std::vector<std::string> f;
    size_t i = 0;
    while (i < line.size() && f.size() < 7) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) i++;
      size_t j = i;
      while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '\r') j++;
      if (j > i) f.push_back(line.substr(i, j - i));
      i = j;
    }
    if (f.size() < 6) continue;
    ModuleRange m;
    m.name = f[0];
    const char* s = f[1].c_str();
    char* e = nullptr;
    m.size = std::strtoull(s, &e, 10);
    if (e == s) continue;
    std::string a = f[5];
    if (a.size() > 2 && a[0] == '0' && (a[1] == 'x' || a[1] == 'X')) a = a.substr(2);
    const char* ap = a.c_str();
    if (!parse_hex(ap, ap + a.size(), &m.start)) continue;
    out->push_back(m);
  }
  if (out->empty()) {
    if (error) *error = lines == 0 ? "the file is empty" : "no line has the form of /proc/modules";
    return false;
  }
  return true;
}

}  // namespace profile
}  // namespace kvmlens
