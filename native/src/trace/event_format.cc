#include "trace/event_format.h"

#include <cctype>
#include <cstring>

#include "core/errors.h"
#include "trace/print_fmt.h"

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

bool starts_with(const std::string& s, const char* prefix) { return s.compare(0, std::strlen(prefix), prefix) == 0; }

// Splits a declaration into type and name:
//   "unsigned int exit_reason"  -> "unsigned int", "exit_reason"
//   "char comm[16]"             -> "char[16]", "comm"
//   "__data_loc char[] name"    -> "__data_loc char[]", "name"
//   "const char * msg"          -> "const char *", "msg"
bool split_declaration(const std::string& decl, FormatField* f) {
  std::string d = trim(decl);
  std::string array;
  if (!d.empty() && d.back() == ']') {
    const size_t open = d.rfind('[');
    if (open == std::string::npos) return false;
    array = d.substr(open);
    d = trim(d.substr(0, open));
  }
  size_t name_begin = d.size();
  while (name_begin > 0 && (std::isalnum(static_cast<unsigned char>(d[name_begin - 1])) || d[name_begin - 1] == '_'))
    name_begin--;
  if (name_begin == d.size()) return false;
  f->name = d.substr(name_begin);
  f->type = trim(d.substr(0, name_begin)) + array;
  return true;
}

// A decimal attribute value ("16" of "size:16") that fits in 32 bits.
bool parse_u32(const std::string& text, uint32_t* out) {
  const std::string t = trim(text);
  if (t.empty() || t.size() > 10) return false;
  uint64_t v = 0;
  for (char c : t) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > 0xffffffffULL) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

// "field:TYPE NAME;\toffset:N;\tsize:N;\tsigned:N;" (signed: is absent in
// very old kernels). `line` is trimmed and starts with "field:".
FormatField parse_field_line(const std::string& line, const std::string& event, uint64_t at) {
  FormatField f;
  bool have_offset = false, have_size = false;
  size_t start = 0;
  bool first = true;
  while (start < line.size()) {
    size_t semi = line.find(';', start);
    if (semi == std::string::npos) semi = line.size();
    const std::string part = trim(line.substr(start, semi - start));
    start = semi + 1;
    if (first) {
      first = false;
      if (!split_declaration(part.substr(6), &f))
        throw ParseError("format of " + event + ": cannot read the field declaration in '" + line + "'", at);
      continue;
    }
    const size_t colon = part.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = trim(part.substr(0, colon)), value = part.substr(colon + 1);
    uint32_t v = 0;
    const bool known = key == "offset" || key == "size" || key == "signed";
    if (known && !parse_u32(value, &v))
      throw ParseError("format of " + event + ": bad " + key + " in '" + line + "'", at);
    if (key == "offset") f.offset = v, have_offset = true;
    else if (key == "size") f.size = v, have_size = true;
    else if (key == "signed") f.is_signed = v != 0;
  }
  if (!have_offset || !have_size)
    throw ParseError("format of " + event + ": field without offset or size: '" + line + "'", at);
  return f;
}

}  // namespace

EventFormat parse_event_format(const std::string& system, const std::string& text) {
  EventFormat ev;
  ev.system = system;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    const std::string line = trim(text.substr(pos, nl - pos));
    if (starts_with(line, "name:")) {
      ev.name = trim(line.substr(5));
    } else if (starts_with(line, "ID:")) {
      uint32_t id = 0;
      if (!parse_u32(line.substr(3), &id))
        throw ParseError("format of " + system + ":" + ev.name + ": bad ID line '" + line + "'", pos);
      ev.id = id;
    } else if (starts_with(line, "field:")) {
      ev.fields.push_back(parse_field_line(line, system + ":" + ev.name, pos));
    } else if (starts_with(line, "print fmt:")) {
      // The print fmt runs to the end of the text (one line in practice).
      ev.print_fmt = trim(text.substr(text.find("print fmt:", pos) + 10));
      break;
    }
    pos = nl + 1;
  }
  if (ev.name.empty()) throw ParseError("a format in system " + system + " has no name: line", 0);
  if (ev.fields.empty()) throw ParseError("format of " + system + ":" + ev.name + " has no fields", 0);
  ev.symbols = find_symbol_tables(ev.print_fmt);
  return ev;
}

bool read_field_u64(const FormatField& f, const uint8_t* entry, uint32_t size, uint64_t* out) {
  if (static_cast<uint64_t>(f.offset) + f.size > size) return false;
  const uint8_t* p = entry + f.offset;
  // Trace entries are in the recording host's byte order: little-endian here.
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
    *out = static_cast<int64_t>(u << shift) >> shift;  // arithmetic shift sign-extends
  } else {
    *out = static_cast<int64_t>(u);
  }
  return true;
}

}  // namespace kvmlens
