// Decoding kvm tracepoint samples into KvmEvent, with field offsets taken from
// the recording kernel's format files and exit-reason names from its
// __print_symbolic tables (built-in VMX/SVM tables only as a fallback).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/sample.h"
#include "trace/tracing_data.h"

namespace kvmlens {

enum class Analysis : uint8_t { kVmexit = 0, kMmio = 1, kIoport = 2, kMsr = 3 };
constexpr int kNumAnalyses = 4;
const char* analysis_name(Analysis a);  // "vmexit", "mmio", "ioport", "msr"

enum class Isa : uint8_t { kUnknown = 0, kVmx = 1, kSvm = 2 };  // KVM_ISA_* values

struct KvmEvent {
  enum class Kind : uint8_t { kEntry, kExit, kMmio, kPio, kMsr } kind;
  uint64_t time = 0;
  int32_t pid = -1, tid = -1;
  uint32_t cpu = 0;
  uint32_t vcpu_id = 0;      // kvm_entry
  uint64_t exit_reason = 0;  // kvm_exit, unmasked as perf reads it
  uint32_t mmio_type = 0;    // kvm_mmio: 0 unsatisfied read, 1 read, 2 write
  uint64_t gpa = 0;          // kvm_mmio
  uint32_t pio_rw = 0;       // kvm_pio: 1 write (POUT), 0 read (PIN)
  uint32_t port = 0;         // kvm_pio
  uint32_t msr_write = 0;    // kvm_msr
  uint32_t ecx = 0;          // kvm_msr
};

class KvmDecoder {
 public:
  // Binds the kvm_entry/exit/mmio/pio/msr attrs to their formats. The exit
  // reason table is chosen by `cpuid` (perf's rule: "Intel" -> VMX,
  // "AMD"/"Hygon" -> SVM); with no cpuid, by the kvm_exit `isa` field of the
  // samples. Throws ParseError if the recording has no kvm events or a kvm
  // format lacks a field the analyses need.
  KvmDecoder(const TracingData& tracing, const std::vector<EventAttr>& attrs,
             const std::string& cpuid, const std::string& arch);

  // Fills `out` and returns true for a kvm event of interest.
  bool decode(const Sample& sample, KvmEvent* out) const;

  // Exit reason name for the recording's ISA; "UNKNOWN" with *known=false.
  std::string exit_reason_name(uint64_t reason, bool* known) const;
  Isa isa() const { return isa_; }
  std::string isa_name() const;  // "VMX" / "SVM" as perf's exit_reasons_isa

 private:
  struct Binding;  // per-attr: which kvm event, and field descriptors
  std::vector<Binding*> by_attr_;  // index parallel to attrs (nullptr = not kvm)
  Isa isa_ = Isa::kUnknown;
  // ... implementation-owned members
};

}  // namespace kvmlens
