// C++ symbol names as perf report and perf top show them by default:
// demangled (libstdc++'s abi::__cxa_demangle), without the function's
// parameter list, qualifiers and return type, which perf prints only with
// -v ("ns::Box<int>::spin", not "ns::Box<int>::spin(int) const"). Called
// once per symbol when a DSO's symbols are loaded, never per sample.
#pragma once
#include <cstddef>
#include <string>

namespace kvmlens {
namespace profile {

// Whether `name` (len bytes, an ELF symbol name, maybe ending in "@plt") is
// a mangled C++ name; if so, its shown form in *out.
bool demangle(const char* name, size_t len, std::string* out);

}  // namespace profile
}  // namespace kvmlens
