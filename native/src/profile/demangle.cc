#include "profile/demangle.h"

#include <cxxabi.h>

#include <cstdlib>
#include <cstring>

namespace kvmlens {
namespace profile {

namespace {

bool ends_with(const std::string& s, const char* tail) {
  size_t n = std::strlen(tail);
  return s.size() >= n && s.compare(s.size() - n, n, tail) == 0;
}

// perf (libiberty without DMGL_PARAMS) drops the function type of the
// top-level encoding and its clone suffixes: "R ns::f<T>(A) const [clone .x]"
// -> "ns::f<T>".
// Names that are no function ("ns::x", "main::{lambda()#1}::x" keeps its
// inner "main") are left as they are.
std::string without_function_type(const std::string& full) {
  std::string core = full.substr(0, full.find(" [clone "));
  static const char* const kQualifiers[] = {" const", " volatile", " restrict", " &&", " &", " noexcept"};
  for (bool again = true; again;) {
    again = false;
    for (const char* q : kQualifiers)
      if (ends_with(core, q)) {
        core.resize(core.size() - std::strlen(q));
        again = true;
      }
  }
  if (core.empty() || core.back() != ')') return full;
  // The parameter list: the ')' at the end and its '('.
  size_t open = std::string::npos;
  int depth = 0;
  for (size_t i = core.size(); i-- > 0;) {
    if (core[i] == ')') depth++;
    else if (core[i] == '(' && --depth == 0) {
      open = i;
      break;
    }
  }
  if (open == std::string::npos || open == 0) return full;
  core.resize(open);
  // A return type (template functions have one) ends at the last space
  // outside brackets before the name; "operator" starts the name's last
  // part, whose spaces ("operator new", "operator< <int>") are its own.
  size_t name_start = 0;
  depth = 0;
  for (size_t i = 0; i < core.size(); i++) {
    char c = core[i];
    if (depth == 0 && c == 'o' && core.compare(i, 8, "operator") == 0 &&
        (i == 0 || core[i - 1] == ':' || core[i - 1] == ' '))
      break;
    if (c == '<' || c == '(' || c == '[' || c == '{') depth++;
    else if ((c == '>' || c == ')' || c == ']' || c == '}') && depth > 0) depth--;
    else if (c == ' ' && depth == 0) name_start = i + 1;
  }
  return core.substr(name_start);
}

}  // namespace

bool demangle(const char* name, size_t len, std::string* out) {
  if (len < 3 || name[0] != '_' || name[1] != 'Z') return false;
  std::string mangled(name, len);
  const char* plt = "";
  if (ends_with(mangled, "@plt")) {
    mangled.resize(mangled.size() - 4);
    plt = "@plt";
  }
  int status = 0;
  char* full = abi::__cxa_demangle(mangled.c_str(), nullptr, nullptr, &status);
  if (status != 0 || !full) {
    std::free(full);
    return false;
  }
  // Special names (_ZT: vtables, typeinfo, thunks; _ZG: guard variables)
  // show their inner function with its parameters, as perf does.
  *out = mangled[2] == 'T' || mangled[2] == 'G' ? std::string(full) : without_function_type(full);
  std::free(full);
  *out += plt;
  return true;
}

}  // namespace profile
}  // namespace kvmlens
