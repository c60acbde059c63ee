// Decoding kvm tracepoint samples into KvmEvent, with field offsets taken from
// the recording kernel's format files and exit-reason names from its
// __print_symbolic tables (built-in VMX/SVM tables only as a fallback).
#pragma once
#include <cstdint>
#include <cstring>
#include <map>
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
  // samples. Throws ParseError if a kvm format lacks a field the analyses
  // need. A recording without kvm events is valid (perf prints an empty table).
  KvmDecoder(const TracingData& tracing, const std::vector<EventAttr>& attrs,
             const std::string& cpuid, const std::string& arch);

  // Returns true for a kvm event of interest, its values packed: `a` is vcpu_id (entry),
  // exit_reason (exit), gpa (mmio), port (pio) or ecx (msr); `b` is the mmio
  // type, pio rw or msr write (0 for entry and exit).
  bool decode_fields(const Sample& sample, KvmEvent::Kind* kind, uint64_t* a, uint32_t* b) const;

  // Binds to another reader's attrs of the same recording (a replay loop
  // reopens the file; samples then point at the new reader's attrs).
  void rebind(const std::vector<EventAttr>& attrs);

  bool has_kvm_events() const;

  // Exit reason name for the recording's ISA; "UNKNOWN" with *known=false.
  std::string exit_reason_name(uint64_t reason, bool* known) const;
  Isa isa() const { return isa_; }
  std::string isa_name() const;  // "VMX" / "SVM" as perf's exit_reasons_isa

 private:
  // A field's place in the trace entry; size 0 = absent.
  struct Field {
    uint32_t offset = 0, size = 0;
    uint64_t mask = 0;  // the low `size` bytes; 0 for sizes other than 1, 2, 4, 8
    bool read(const uint8_t* entry, uint32_t entry_size, uint64_t* out) const {
      if (mask == 0 || static_cast<uint64_t>(offset) + size > entry_size) return false;
      uint64_t v;
      if (static_cast<uint64_t>(offset) + 8 <= entry_size) {
        std::memcpy(&v, entry + offset, 8);  // one load, then keep the field's bytes
      } else {
        v = 0;
        std::memcpy(&v, entry + offset, size);  // little-endian: the low bytes
      }
      *out = v & mask;
      return true;
    }
  };
  // What one attr is: which kvm event, and where its fields are.
  struct Binding {
    bool is_kvm = false;
    KvmEvent::Kind kind = KvmEvent::Kind::kEntry;
    Field a, b, c;  // entry: vcpu_id; exit: exit_reason, isa; mmio: type, gpa; pio: rw, port; msr: write, ecx
    // The same decision without a branch on the kind, for payloads of at
    // least fast_need bytes (both fields read as whole u64s in bounds): the
    // events of several kinds interleave unpredictably in time order, and a
    // mispredicted branch per field costs more than the loads. ~0 = no fast path.
    uint32_t fast_need = ~0u;
    uint32_t key_off = 0, info_off = 0;   // the key's field and the info's (mmio/pio/msr)
    uint64_t key_mask = 0, info_mask = 0; // the fields' bytes; info_mask 0 for entry/exit
  };

  Binding bind(const EventAttr& attr) const;
  const std::map<int64_t, std::string>* reasons_for(Isa isa) const;

  const TracingData& tracing_;
  const EventAttr* attrs_base_ = nullptr;
  std::vector<Binding> bindings_;       // parallel to the attrs
  mutable Isa isa_ = Isa::kUnknown;     // from CPUID, else the first kvm_exit's isa field
  std::map<int64_t, std::string> vmx_reasons_, svm_reasons_;
};

}  // namespace kvmlens
