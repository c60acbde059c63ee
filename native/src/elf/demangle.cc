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

// __cxa_demangle's text, or "" when it fails.
std::string cxa_demangle(const std::string& mangled) {
  int status = 0;
  char* out = abi::__cxa_demangle(mangled.c_str(), nullptr, nullptr, &status);
  std::string d = status == 0 && out ? out : "";
  std::free(out);
  return d;
}

// libiberty without DMGL_PARAMS stops after the function's name and never
// parses its parameter types, so perf shows a name whose parameters
// __cxa_demangle rejects (V8 has such). The same here: the longest prefix
// that demangles once given a parameter list of its own ("v"; "vv" for a
// template function, whose return type comes first) is the name; whatever
// follows a name never changes how the name itself parses. Only names that
// end in 'E' are tried (nested, template and local names: the ones V8 and
// the standard library have), which bounds the work on hostile input.
std::string demangle_name_only(const std::string& mangled) {
  if (mangled.size() > 1024) return "";
  const std::string base = mangled.substr(0, mangled.find('.'));  // clone suffixes go with the parameters
  for (size_t cut = base.size(); cut > 2; cut--) {
    if (base[cut - 1] != 'E') continue;
    const std::string prefix = base.substr(0, cut);
    std::string d = cxa_demangle(prefix + "v");
    if (d.empty()) d = cxa_demangle(prefix + "vv");
    if (!d.empty()) return d;
  }
  return "";
}

// A generic lambda taking a pack of auto (`[](auto... x)`, mangled
// `UlDpT_E`) is beyond the demangler of GCC 12's libstdc++, which rejects
// the whole name; perf's newer libiberty prints it "{lambda((auto:1)...)#N}"
// (V8 has such, seen in Node 24). Demangled as a lambda of one auto, then
// spelled as perf spells it.
std::string demangle_pack_lambdas(const std::string& mangled) {
  static const std::string kPack = "UlDpT_E", kOne = "UlT_E";
  if (mangled.find(kPack) == std::string::npos) return "";
  std::string rewritten = mangled;
  size_t n = 0;
  for (size_t at = rewritten.find(kPack); at != std::string::npos; at = rewritten.find(kPack, at + kOne.size())) {
    rewritten.replace(at, kPack.size(), kOne);
    n++;
  }
  std::string d = cxa_demangle(rewritten);
  if (d.empty()) d = demangle_name_only(rewritten);
  if (d.empty()) return "";
  static const std::string kShown = "{lambda(auto:1)#", kPerf = "{lambda((auto:1)...)#";
  for (size_t at = d.find(kShown); at != std::string::npos && n > 0; at = d.find(kShown, at + kPerf.size()), n--)
    d.replace(at, kShown.size(), kPerf);
  return d;
}

}  // namespace

std::string strip_signature(const std::string& d) {
  // Thunks keep their target's full signature (as libiberty prints them).
  // So do transactional-memory clones (libstdc++'s "transaction clone for").
  if (d.rfind("non-virtual thunk to ", 0) == 0 || d.rfind("virtual thunk to ", 0) == 0 ||
      d.rfind("covariant return thunk to ", 0) == 0 || d.rfind("transaction clone for ", 0) == 0)
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
    // A space right after ')' is a local name's enclosing function's
    // qualifier ("f(int) const::{lambda()#1}"), not after a return type.
    else if (c == ' ' && depth == 0 && (i == 0 || name[i - 1] != ')')) space = i;
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
  std::string d = cxa_demangle(base);
  if (d.empty()) d = demangle_pack_lambdas(base);
  if (d.empty()) d = demangle_name_only(base);
  if (d.empty()) return mangled;
  std::string r = strip_signature(d);
  if (at != std::string::npos) r += mangled.substr(at);
  return r;
}

}  // namespace elf
}  // namespace kvmlens
