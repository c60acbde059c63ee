// elf::demangle: names as perf report shows them by default (libiberty
// without DMGL_PARAMS); the first group was compared with perf 6.1's output
// on a real recording (test/profile-demangle.test.ts does that end to end).
#include <string>

#include "check.h"
#include "elf/demangle.h"

using kvmlens::elf::demangle;

static std::string shown(const std::string& name) {
  const std::string out = demangle(name);
  return out == name ? "<not mangled>" : out;
}

int main() {
  CHECK(shown("_ZN2ns3BoxImE4spinEm") == "ns::Box<unsigned long>::spin");
  CHECK(shown("_ZN2ns4burnEmPKc") == "ns::burn");
  CHECK(shown("_ZN2ns5twiceImEET_S1_") == "ns::twice<unsigned long>");  // return type dropped
  CHECK(shown("_ZNK2ns6Worker3runEv") == "ns::Worker::run");              // const dropped
  CHECK(shown("_ZN2ns6WorkerlsEm") == "ns::Worker::operator<<");
  CHECK(shown("_ZNK2ns6WorkercvmEv") == "ns::Worker::operator unsigned long");
  CHECK(shown("_ZN2ns7FunctorclEm") == "ns::Functor::operator()");
  CHECK(shown("_ZN2nsltImEEbRKNS_3BoxIT_EES2_") == "ns::operator< <unsigned long>");
  CHECK(shown("_ZZ4mainENKUlmE0_clEm") == "main::{lambda(unsigned long)#2}::operator()");
  CHECK(shown("_ZN12_GLOBAL__N_16hiddenEm") == "(anonymous namespace)::hidden");
  CHECK(shown("_ZN2ns6clonedEm.isra.0") == "ns::cloned");                 // clone suffix dropped
  // More shapes.
  CHECK(shown("_ZNSt6vectorIiSaIiEE9push_backERKi") == "std::vector<int, std::allocator<int> >::push_back");
  CHECK(shown("_ZN3FooC2Ev") == "Foo::Foo");
  CHECK(shown("_ZN3FooaSEOS_") == "Foo::operator=");
  CHECK(shown("_ZdlPvm") == "operator delete");
  CHECK(shown("_ZNKSt8functionIFviEEclEi") == "std::function<void (int)>::operator()");
  CHECK(shown("_ZZ3foovE1x") == "foo()::x");  // data: the enclosing function keeps its parameters
  CHECK(shown("_Znwm@plt") == "operator new@plt");
  CHECK(shown("_ZTv0_n24_N3FooD1Ev") == "virtual thunk to Foo::~Foo()");
  // Parameters __cxa_demangle rejects (SF_ names no substitution): libiberty
  // without DMGL_PARAMS never reads them, and perf 6.1 printed this (V8, Node 24).
  CHECK(shown("_ZN2v88internal11StringShape33DispatchToSpecificTypeWithoutCastIZNS1_22DispatchToSpecificTypeIZNKS0_"
              "6String7GetImplEiNS0_16PtrComprCageBaseERKNS0_31SharedStringAccessGuardIfNeededEE19StringGetDispatcher"
              "tJRiRS5_S8_EEET0_S4_DpOT1_E17CastingDispatchertJRS4_SA_SB_S8_EEESC_SF_.isra.0") ==
        "v8::internal::StringShape::DispatchToSpecificTypeWithoutCast<v8::internal::StringShape::DispatchToSpecificType<"
        "v8::internal::String::GetImpl(int, v8::internal::PtrComprCageBase, v8::internal::SharedStringAccessGuardIfNeeded "
        "const&) const::StringGetDispatcher, unsigned short, int&, v8::internal::PtrComprCageBase&, "
        "v8::internal::SharedStringAccessGuardIfNeeded const&>(v8::internal::String, int&, v8::internal::PtrComprCageBase&, "
        "v8::internal::SharedStringAccessGuardIfNeeded const&)::CastingDispatcher, unsigned short, v8::internal::String&, "
        "int&, v8::internal::PtrComprCageBase&, v8::internal::SharedStringAccessGuardIfNeeded const&>");
  CHECK(shown("_ZN2ns3fooEiSZ_") == "ns::foo");  // a bad parameter after a plain name
  // Not mangled C++: left alone.
  CHECK(shown("main") == "<not mangled>");
  CHECK(shown("_Zoops") == "<not mangled>");  // (c++filt -p says operator||: only names ending in E are cut)
  CHECK(shown("_Zfoo") == "<not mangled>");
  CHECK(shown("_Z") == "<not mangled>");
  CHECK(shown("") == "<not mangled>");
  return finish("demangle_test");
}
