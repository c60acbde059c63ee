#include "trace/event_format.h"

#include <cctype>
#include <cstdlib>
#include <cstring>

#include "core/errors.h"

namespace kvmlens {

const FormatField* EventFormat::field(const std::string& field_name) const {
  for (const FormatField& f : fields)
    if (f.name == field_name) return &f;
  return nullptr;
}

namespace {

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) b++;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) e--;
  return s.substr(b, e - b);
}

// "unsigned int exit_reason" -> type "unsigned int", name "exit_reason";
// "char comm[16]" -> name "comm"; "__data_loc char[] name" -> name "name".
void split_declaration(const std::string& decl, FormatField* f) {
  std::string d = trim(decl);
  size_t bracket = d.find('[');
  std::string without_array = bracket == std::string::npos ? d : d.substr(0, bracket);
  if (bracket != std::string::npos && bracket + 1 < d.size() && d[bracket + 1] == ']') {
    // "__data_loc char[] name": the name follows the brackets.
    size_t close = d.find(']', bracket);
    std::string rest = trim(d.substr(close + 1));
    if (!rest.empty()) {
      f->name = rest;
      f->type = trim(d.substr(0, close + 1));
      return;
    }
  }
  without_array = trim(without_array);
  size_t space = without_array.find_last_of(" \t*");
  if (space == std::string::npos) {
    f->name = without_array;
    return;
  }
  f->name = without_array.substr(space + 1);
  f->type = trim(d.substr(0, space + 1));
}

// Value of "key:NUMBER;" inside a field line, or false.
bool field_attr(const std::string& line, const char* key, uint64_t* out) {
  size_t p = line.find(key);
  if (p == std::string::npos) return false;
  p += std::strlen(key);
  char* end = nullptr;
  unsigned long long v = std::strtoull(line.c_str() + p, &end, 0);
  if (end == line.c_str() + p) return false;
  *out = v;
  return true;
}

// --- print fmt scanning -------------------------------------------------

// Skips a string literal starting at s[i] == '"'; returns index after it.
size_t skip_string(const std::string& s, size_t i) {
  for (i++; i < s.size(); i++) {
    if (s[i] == '\\') { i++; continue; }
    if (s[i] == '"') return i + 1;
  }
  return s.size();
}

// Index of the bracket matching s[open] ('(' or '{'), or npos.
size_t match_close(const std::string& s, size_t open) {
  int depth = 0;
  for (size_t i = open; i < s.size();) {
    char c = s[i];
    if (c == '"') { i = skip_string(s, i); continue; }
    if (c == '(' || c == '{' || c == '[') depth++;
    if (c == ')' || c == '}' || c == ']') {
      if (--depth == 0) return i;
    }
    i++;
  }
  return std::string::npos;
}

// Splits "a, {b, c}, (d, e)" at top-level commas.
std::vector<std::string> split_args(const std::string& s) {
  std::vector<std::string> out;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size();) {
    char c = s[i];
    if (c == '"') { i = skip_string(s, i); continue; }
    if (c == '(' || c == '{' || c == '[') depth++;
    else if (c == ')' || c == '}' || c == ']') depth--;
    else if (c == ',' && depth == 0) {
      out.push_back(trim(s.substr(start, i - start)));
      start = i + 1;
    }
    i++;
  }
  std::string last = trim(s.substr(start));
  if (!last.empty()) out.push_back(last);
  return out;
}

// Evaluates "0x040 + 14", "-1", "12": + and - over integer literals.
bool eval_int(const std::string& expr, int64_t* out) {
  std::string e = trim(expr);
  if (e.empty()) return false;
  int64_t total = 0;
  int sign = 1;
  size_t i = 0;
  bool have_term = false;
  while (i < e.size()) {
    char c = e[i];
    if (std::isspace(static_cast<unsigned char>(c))) { i++; continue; }
    if (c == '+') { sign = 1; i++; continue; }
    if (c == '-') { sign = -sign; i++; continue; }
    if (c == '(' || c == ')') { i++; continue; }
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    char* end = nullptr;
    unsigned long long v = std::strtoull(e.c_str() + i, &end, 0);
    size_t used = static_cast<size_t>(end - (e.c_str() + i));
    if (used == 0) return false;
    while (i + used < e.size() && (e[i + used] == 'U' || e[i + used] == 'L' || e[i + used] == 'u' || e[i + used] == 'l')) used++;
    total += sign * static_cast<int64_t>(v);
    sign = 1;
    have_term = true;
    i += used;
  }
  *out = total;
  return have_term;
}

// "REC->exit_reason & 0xffff" -> "exit_reason"
std::string field_of(const std::string& expr) {
  size_t p = expr.find("REC->");
  if (p == std::string::npos) return "";
  p += 5;
  size_t e = p;
  while (e < expr.size() && (std::isalnum(static_cast<unsigned char>(expr[e])) || expr[e] == '_')) e++;
  return expr.substr(p, e - p);
}

std::string normalize_condition(std::string c) {
  std::string out;
  for (char ch : c)
    if (!std::isspace(static_cast<unsigned char>(ch))) out += ch;
  while (out.size() >= 2 && out.front() == '(' && match_close(out, 0) == out.size() - 1)
    out = out.substr(1, out.size() - 2);
  return out;
}

// Parses "{ 0, "a" }, { 1, "b" }" entries of a symbolic / flags call.
void parse_entries(const std::vector<std::string>& args, size_t first, SymbolTable* table) {
  for (size_t a = first; a < args.size(); a++) {
    const std::string& entry = args[a];
    if (entry.size() < 2 || entry.front() != '{') continue;
    size_t close = match_close(entry, 0);
    if (close == std::string::npos) continue;
    std::vector<std::string> kv = split_args(entry.substr(1, close - 1));
    if (kv.size() != 2) continue;
    int64_t value;
    if (!eval_int(kv[0], &value)) continue;
    std::string name = trim(kv[1]);
    if (name.size() < 2 || name.front() != '"') continue;
    table->entries[value] = name.substr(1, name.size() - 2);
  }
}

// Finds every __print_symbolic / __print_flags call in `args` (the print fmt
// arguments); `guard` is the condition of the enclosing ternary branch.
void scan_symbols(const std::string& text, const std::string& guard, std::vector<SymbolTable>* out,
                  int depth) {
  if (depth > 16) return;
  // Split a top-level ternary "cond ? a : b" so each branch gets its guard.
  int level = 0;
  size_t question = std::string::npos, colon = std::string::npos;
  for (size_t i = 0; i < text.size();) {
    char c = text[i];
    if (c == '"') { i = skip_string(text, i); continue; }
    if (c == '(' || c == '{' || c == '[') level++;
    else if (c == ')' || c == '}' || c == ']') level--;
    else if (level == 0 && c == '?' && question == std::string::npos) question = i;
    else if (level == 0 && c == ':' && question != std::string::npos) { colon = i; break; }
    i++;
  }
  if (question != std::string::npos && colon != std::string::npos) {
    std::string cond = normalize_condition(text.substr(0, question));
    scan_symbols(text.substr(question + 1, colon - question - 1), cond, out, depth + 1);
    scan_symbols(text.substr(colon + 1), "!" + cond, out, depth + 1);
    return;
  }
  std::string body = trim(text);
  // Strip one layer of wrapping parentheses.
  if (!body.empty() && body.front() == '(' && match_close(body, 0) == body.size() - 1) {
    scan_symbols(body.substr(1, body.size() - 2), guard, out, depth + 1);
    return;
  }
  for (const char* fn : {"__print_symbolic", "__print_flags"}) {
    size_t p = body.find(fn);
    if (p != 0) continue;
    size_t open = body.find('(', p);
    size_t close = open == std::string::npos ? std::string::npos : match_close(body, open);
    if (close == std::string::npos) return;
    std::vector<std::string> args = split_args(body.substr(open + 1, close - open - 1));
    if (args.empty()) return;
    SymbolTable t;
    t.is_flags = std::strcmp(fn, "__print_flags") == 0;
    t.expr = args[0];
    t.field = field_of(args[0]);
    t.guard = guard;
    parse_entries(args, t.is_flags ? 2 : 1, &t);
    out->push_back(std::move(t));
    return;
  }
  // Anything else: look for calls nested inside it.
  for (size_t i = 0; i < body.size(); i++) {
    if (body[i] == '"') { i = skip_string(body, i) - 1; continue; }
    if (body.compare(i, 16, "__print_symbolic") == 0 || body.compare(i, 13, "__print_flags") == 0) {
      size_t open = body.find('(', i);
      size_t close = open == std::string::npos ? std::string::npos : match_close(body, open);
      if (close == std::string::npos) return;
      scan_symbols(body.substr(i, close - i + 1), guard, out, depth + 1);
      i = close;
    }
  }
}

}  // namespace

EventFormat parse_event_format(const std::string& system, const std::string& text) {
  EventFormat ev;
  ev.system = system;
  size_t pos = 0;
  bool have_fields = false;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(pos, nl - pos);
    std::string t = trim(line);
    if (t.rfind("name:", 0) == 0) {
      ev.name = trim(t.substr(5));
    } else if (t.rfind("ID:", 0) == 0) {
      ev.id = static_cast<uint32_t>(std::strtoul(t.c_str() + 3, nullptr, 10));
    } else if (t.rfind("field:", 0) == 0) {
      FormatField f;
      size_t semi = t.find(';');
      if (semi == std::string::npos) throw ParseError("format of " + system + ":" + ev.name + ": bad field line '" + t + "'", pos);
      split_declaration(t.substr(6, semi - 6), &f);
      uint64_t v = 0;
      if (!field_attr(t, "offset:", &v)) throw ParseError("format of " + system + ":" + ev.name + ": field without offset: '" + t + "'", pos);
      f.offset = static_cast<uint32_t>(v);
      if (!field_attr(t, "size:", &v)) throw ParseError("format of " + system + ":" + ev.name + ": field without size: '" + t + "'", pos);
      f.size = static_cast<uint32_t>(v);
      if (field_attr(t, "signed:", &v)) f.is_signed = v != 0;
      ev.fields.push_back(std::move(f));
      have_fields = true;
    } else if (t.rfind("print fmt:", 0) == 0) {
      ev.print_fmt = trim(text.substr(pos + line.find("print fmt:") + 10));
      break;  // the print fmt is the rest of the text
    }
    pos = nl + 1;
  }
  if (ev.name.empty()) throw ParseError("format of a " + system + " event has no name: line", 0);
  if (!have_fields) throw ParseError("format of " + system + ":" + ev.name + " has no fields", 0);
  // Arguments after the format string: skip the quoted string, then scan.
  const std::string& pf = ev.print_fmt;
  if (!pf.empty() && pf[0] == '"') {
    size_t after = skip_string(pf, 0);
    size_t comma = pf.find(',', after);
    if (comma != std::string::npos) {
      for (const std::string& arg : split_args(pf.substr(comma + 1)))
        scan_symbols(arg, "", &ev.symbols, 0);
    }
  }
  return ev;
}

bool read_field_u64(const FormatField& f, const uint8_t* entry, uint32_t size, uint64_t* out) {
  if (static_cast<uint64_t>(f.offset) + f.size > size) return false;
  const uint8_t* p = entry + f.offset;
  switch (f.size) {
    case 1: *out = p[0]; return true;
    case 2: { uint16_t v; std::memcpy(&v, p, 2); *out = v; return true; }
    case 4: { uint32_t v; std::memcpy(&v, p, 4); *out = v; return true; }
    case 8: { uint64_t v; std::memcpy(&v, p, 8); *out = v; return true; }
    default: return false;
  }
}

bool read_field_i64(const FormatField& f, const uint8_t* entry, uint32_t size, int64_t* out) {
  uint64_t u;
  if (!read_field_u64(f, entry, size, &u)) return false;
  if (f.is_signed && f.size < 8) {
    const int shift = 64 - 8 * static_cast<int>(f.size);
    *out = static_cast<int64_t>(u << shift) >> shift;
  } else {
    *out = static_cast<int64_t>(u);
  }
  return true;
}

}  // namespace kvmlens
