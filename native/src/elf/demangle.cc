#include "elf/demangle.h"

#include <cxxabi.h>

#include <cstdlib>
#include <cstring>

namespace kvmlens {
namespace elf {

namespace {

bool ends_with(const std::string& s, size_t end, const char* suffix) {
  size_t n = std::strlen(suffix);
  return end >= n && s.compare(end - n, n, suffix) == 0;
}

}  // namespace

std::string strip_signature(const std::string& d) {
  // Thunks keep their target's full signature (as libiberty prints them).
  if (d.rfind("non-virtual thunk to ", 0) == 0 || d.rfind("virtual thunk to ", 0) == 0 ||
      d.rfind("covariant return thunk to ", 0) == 0)
    return d;
  // " [clone .cold]" style suffixes go with the parameters.
  size_t end = d.size();
  size_t clone = d.find(" [clone ");
  if (clone != std::string::npos) end = clone;
  // Drop cv/ref qualifiers after the parameter list.
  for (;;) {
    if (ends_with(d, end, " const")) end -= 6;
    else if (ends_with(d, end, " volatile")) end -= 9;
    else if (ends_with(d, end, " &&")) end -= 3;
    else if (ends_with(d, end, " &")) end -= 2;
    else break;
  }
  if (end == 0 || d[end - 1] != ')') return d.substr(0, end);  // not a function
  // The '(' that opens the parameter list.
  int depth = 0;
  size_t open = std::string::npos;
  for (size_t i = end; i-- > 0;) {
    char c = d[i];
    if (c == ')' || c == '>' || c == ']' || c == '}') depth++;
    else if (c == '(' || c == '<' || c == '[' || c == '{') {
      if (--depth == 0 && c == '(') {
        open = i;
        break;
      }
    }
  }
  if (open == std::string::npos || open == 0) return d;
  std::string name = d.substr(0, open);
  // A template function's return type comes first, separated by a space at depth 0.
  depth = 0;
  size_t space = std::string::npos;
  for (size_t i = 0; i < name.size(); i++) {
    char c = name[i];
    // "operator" starts the name's last part, whose spaces are its own:
    // "operator new", "operator< <int>", "operator unsigned long".
    if (depth == 0 && c == 'o' && name.compare(i, 8, "operator") == 0 &&
        (i == 0 || name[i - 1] == ':' || name[i - 1] == ' '))
      break;
    if (c == '(' || c == '<' || c == '[' || c == '{') depth++;
    else if ((c == ')' || c == '>' || c == ']' || c == '}') && depth > 0) depth--;
    else if (c == ' ' && depth == 0) space = i;
  }
  if (space != std::string::npos) name = name.substr(space + 1);
  return name;
}

std::string demangle(const std::string& mangled) {
  // Bounded: the demangler recurses, and names come from untrusted files.
  if (mangled.size() < 3 || mangled.size() > 4096 || mangled[0] != '_' || mangled[1] != 'Z') return mangled;
  // Versioned names (foo@@GLIBCXX_3.4) demangle without their version.
  size_t at = mangled.find('@');
  std::string base = at == std::string::npos ? mangled : mangled.substr(0, at);
  int status = 0;
  char* out = abi::__cxa_demangle(base.c_str(), nullptr, nullptr, &status);
  if (status != 0 || !out) {
    std::free(out);
    return mangled;
  }
  std::string d(out);
  std::free(out);
  std::string r = strip_signature(d);
  if (at != std::string::npos) r += mangled.substr(at);
  return r;
}

}  // namespace elf
}  // namespace kvmlens
