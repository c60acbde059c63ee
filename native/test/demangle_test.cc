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
  // A generic lambda over a pack of auto (V8 in Node 24, a sample in a
  // Node 24 CI run): GCC 12's __cxa_demangle rejects the name; perf prints it
  // with "(auto:1)...".
  CHECK(shown("_ZZN2v88internal8compiler10turboshaft20OutputGraphAssemblerINS2_12GraphVisitorINS2_29StructuralOptimizationReducerINS2_25LateEscapeAnalysisReducerINS2_29PretenuringPropagationReducerINS2_25MemoryOptimizationReducerINS2_26MachineOptimizationReducerINS2_21EmitProjectionReducerINS2_21ValueNumberingReducerINS2_18GenericReducerBaseINS2_13TSReducerBaseINS2_11StackBottomINS_4base3tmp5list1IJS4_S5_S6_S7_S8_S9_SB_SD_EEEEEEEEEEEEEEEEEEEEEEEEENS2_15VariableReducerISS_EEE27AssembleOutputGraphOsrValueERKNS2_10OsrValueOpEENKUlDpT_E_clIJiEEEDaS11_.isra.0") ==
        "v8::internal::compiler::turboshaft::OutputGraphAssembler<v8::internal::compiler::turboshaft::GraphVisitor<v8::internal::compiler::turboshaft::StructuralOptimizationReducer<v8::internal::compiler::turboshaft::LateEscapeAnalysisReducer<v8::internal::compiler::turboshaft::PretenuringPropagationReducer<v8::internal::compiler::turboshaft::MemoryOptimizationReducer<v8::internal::compiler::turboshaft::MachineOptimizationReducer<v8::internal::compiler::turboshaft::EmitProjectionReducer<v8::internal::compiler::turboshaft::ValueNumberingReducer<v8::internal::compiler::turboshaft::GenericReducerBase<v8::internal::compiler::turboshaft::TSReducerBase<v8::internal::compiler::turboshaft::StackBottom<v8::base::tmp::list1<v8::internal::compiler::turboshaft::GraphVisitor, v8::internal::compiler::turboshaft::StructuralOptimizationReducer, v8::internal::compiler::turboshaft::LateEscapeAnalysisReducer, v8::internal::compiler::turboshaft::PretenuringPropagationReducer, v8::internal::compiler::turboshaft::MemoryOptimizationReducer, v8::internal::compiler::turboshaft::MachineOptimizationReducer, v8::internal::compiler::turboshaft::ValueNumberingReducer, v8::internal::compiler::turboshaft::TSReducerBase> > > > > > > > > > > >, v8::internal::compiler::turboshaft::VariableReducer<v8::internal::compiler::turboshaft::StructuralOptimizationReducer<v8::internal::compiler::turboshaft::LateEscapeAnalysisReducer<v8::internal::compiler::turboshaft::PretenuringPropagationReducer<v8::internal::compiler::turboshaft::MemoryOptimizationReducer<v8::internal::compiler::turboshaft::MachineOptimizationReducer<v8::internal::compiler::turboshaft::EmitProjectionReducer<v8::internal::compiler::turboshaft::ValueNumberingReducer<v8::internal::compiler::turboshaft::GenericReducerBase<v8::internal::compiler::turboshaft::TSReducerBase<v8::internal::compiler::turboshaft::StackBottom<v8::base::tmp::list1<v8::internal::compiler::turboshaft::GraphVisitor, v8::internal::compiler::turboshaft::StructuralOptimizationReducer, v8::internal::compiler::turboshaft::LateEscapeAnalysisReducer, v8::internal::compiler::turboshaft::PretenuringPropagationReducer, v8::internal::compiler::turboshaft::MemoryOptimizationReducer, v8::internal::compiler::turboshaft::MachineOptimizationReducer, v8::internal::compiler::turboshaft::ValueNumberingReducer, v8::internal::compiler::turboshaft::TSReducerBase> > > > > > > > > > > > >::AssembleOutputGraphOsrValue(v8::internal::compiler::turboshaft::OsrValueOp const&)::{lambda((auto:1)...)#1}::operator()<int>");
  CHECK(shown("_ZZ1fvENKUlDpT_E_clIJiEEEDaS1_") == "f()::{lambda((auto:1)...)#1}::operator()<int>");
  // Not mangled C++: left alone.
  CHECK(shown("main") == "<not mangled>");
  CHECK(shown("_Zoops") == "<not mangled>");  // (c++filt -p says operator||: only names ending in E are cut)
  CHECK(shown("_Zfoo") == "<not mangled>");
  CHECK(shown("_Z") == "<not mangled>");
  CHECK(shown("") == "<not mangled>");
  return finish("demangle_test");
}
