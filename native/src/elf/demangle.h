// C++ symbol names as perf 6.1 prints them: demangled without the
// parameter list and without a template function's return type (libiberty's
// DMGL_NO_OPTS), e.g. _ZN2v88internal9Scavenger14ScavengeObjectINS0_4SlotEEENS0_6ResultET_
// -> v8::internal::Scavenger::ScavengeObject<v8::internal::Slot>.
#pragma once
#include <string>

namespace kvmlens {
namespace elf {

// The demangled name, or `mangled` itself when it is not a C++ name.
std::string demangle(const std::string& mangled);

// "ret ns::f<T>(int, char) const" -> "ns::f<T>" (exposed for tests).
std::string strip_signature(const std::string& demangled);

}  // namespace elf
}  // namespace kvmlens
