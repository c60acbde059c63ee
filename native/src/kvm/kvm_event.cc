#include "kvm/kvm_event.h"

#include <algorithm>
#include <cstring>

#include "core/errors.h"
#include "kvm/exit_reasons.h"

namespace kvmlens {

const char* analysis_name(Analysis a) {
  switch (a) {
    case Analysis::kVmexit: return "vmexit";
    case Analysis::kMmio: return "mmio";
    case Analysis::kIoport: return "ioport";
    case Analysis::kMsr: return "msr";
  }
  return "?";
}

namespace {

// perf's cpu_isa_init(): the CPUID string names the vendor.
Isa isa_from_cpuid(const std::string& cpuid) {
  if (cpuid.find("Intel") != std::string::npos) return Isa::kVmx;
  if (cpuid.find("AMD") != std::string::npos || cpuid.find("Hygon") != std::string::npos) return Isa::kSvm;
  return Isa::kUnknown;
}

std::string normalized(const std::string& guard) {
  std::string out;
  for (char c : guard)
    if (c != ' ' && c != '(' && c != ')') out += c;
  return out;
}

}  // namespace

KvmDecoder::KvmDecoder(const TracingData& tracing, const std::vector<EventAttr>& attrs,
                       const std::string& cpuid, const std::string& arch)
    : tracing_(tracing) {
  if (!arch.empty() && arch != "x86_64" && arch != "i386" && arch != "x86")
    throw ParseError("recorded on " + arch + ": kvmlens decodes x86 kvm events only so far");
  isa_ = isa_from_cpuid(cpuid);
  // Exit reason tables from the recording kernel's kvm_exit print fmt.
  if (const EventFormat* exit = tracing.find("kvm", "kvm_exit")) {
    for (const SymbolTable& t : exit->symbols) {
      if (t.field != "exit_reason" || t.is_flags) continue;
      std::string g = normalized(t.guard);
      if (g == "REC->isa==1") vmx_reasons_ = t.entries;
      else if (g == "!REC->isa==1") svm_reasons_ = t.entries;
      else if (g.empty()) {
        // One unguarded table: the kernel was built for one ISA; guess which by content.
        if (t.entries.count(0x07b) && t.entries.at(0x07b) == "io") svm_reasons_ = t.entries;
        else vmx_reasons_ = t.entries;
      }
    }
  }
  rebind(attrs);
}

bool KvmDecoder::has_kvm_events() const {
  for (const Binding& b : bindings_)
    if (b.is_kvm) return true;
  return false;
}

KvmDecoder::Binding KvmDecoder::bind(const EventAttr& attr) const {
  Binding b;
  const EventFormat* fmt = nullptr;
  std::string name = attr.name;
  if (attr.type == 2 /* PERF_TYPE_TRACEPOINT */) {
    fmt = tracing_.find(static_cast<uint32_t>(attr.config));
    if (name.empty() && fmt) name = fmt->full_name();
  }
  static const struct { const char* name; KvmEvent::Kind kind; const char* f1; const char* f2; } kEvents[] = {
      {"kvm:kvm_entry", KvmEvent::Kind::kEntry, "vcpu_id", nullptr},
      {"kvm:kvm_exit", KvmEvent::Kind::kExit, "exit_reason", "isa"},
      {"kvm:kvm_mmio", KvmEvent::Kind::kMmio, "type", "gpa"},
      {"kvm:kvm_pio", KvmEvent::Kind::kPio, "rw", "port"},
      {"kvm:kvm_msr", KvmEvent::Kind::kMsr, "write", "ecx"},
  };
  for (const auto& e : kEvents) {
    if (name != e.name) continue;
    if (!fmt || fmt->full_name() != name) fmt = tracing_.find("kvm", name.substr(4));
    if (!fmt) throw ParseError("the recording has " + name + " events but no format for them in its tracing data");
    auto field = [&](const char* fname, bool required) {
      Field f;
      if (!fname) return f;
      const FormatField* ff = fmt->field(fname);
      if (!ff) {
        if (required) throw ParseError("the " + name + " format has no '" + fname + "' field");
        return f;
      }
      f.offset = ff->offset;
      f.size = ff->size;
      if (f.size == 1 || f.size == 2 || f.size == 4) f.mask = (uint64_t{1} << (8 * f.size)) - 1;
      else if (f.size == 8) f.mask = ~uint64_t{0};
      return f;
    };
    b.is_kvm = true;
    b.kind = e.kind;
    b.a = field(e.f1, true);
    // kvm_exit's isa appeared in 5.x; older kernels lack it.
    b.b = field(e.f2, e.kind != KvmEvent::Kind::kExit);
    // The fast path's plan: key = the pair's second field (gpa, port, ecx)
    // or the first (vcpu_id, exit_reason); vcpu_id, port and ecx are u32.
    const bool two = e.kind == KvmEvent::Kind::kMmio || e.kind == KvmEvent::Kind::kPio ||
                     e.kind == KvmEvent::Kind::kMsr;
    const Field& key = two ? b.b : b.a;
    if (b.a.mask != 0 && (!two || b.b.mask != 0)) {
      b.key_off = key.offset;
      b.key_mask = key.mask;
      if (e.kind != KvmEvent::Kind::kExit && e.kind != KvmEvent::Kind::kMmio) b.key_mask &= 0xffffffffULL;
      b.info_off = b.a.offset;
      b.info_mask = two ? (b.a.mask & 0xffffffffULL) : 0;
      uint64_t need = uint64_t{b.a.offset} + 8;
      // kvm_exit's isa is read (when present) only while the ISA is unknown.
      if (two) need = std::max<uint64_t>(need, uint64_t{b.b.offset} + 8);
      b.fast_need = need < (1u << 16) ? static_cast<uint32_t>(need) : ~0u;
    }
    break;
  }
  return b;
}

void KvmDecoder::rebind(const std::vector<EventAttr>& attrs) {
  attrs_base_ = attrs.empty() ? nullptr : attrs.data();
  bindings_.clear();
  for (const EventAttr& a : attrs) bindings_.push_back(bind(a));
}

bool KvmDecoder::decode_fields(const Sample& s, KvmEvent::Kind* kind, uint64_t* a, uint32_t* b) const {
  const size_t index = static_cast<size_t>(s.attr - attrs_base_);
  if (index >= bindings_.size()) return false;
  const Binding& bind = bindings_[index];
  if (!bind.is_kvm || !s.raw) return false;
  // (Until the ISA is known, kvm_exit's isa field is looked at: slow path.)
  if (s.raw_size >= bind.fast_need && __builtin_expect(isa_ != Isa::kUnknown, 1)) {
    uint64_t key, info;
    std::memcpy(&key, s.raw + bind.key_off, 8);
    std::memcpy(&info, s.raw + bind.info_off, 8);
    *kind = bind.kind;
    *a = key & bind.key_mask;
    *b = static_cast<uint32_t>(info & bind.info_mask);
    return true;
  }
  uint64_t v1 = 0, v2 = 0;
  if (!bind.a.read(s.raw, s.raw_size, &v1)) return false;  // short payload: skip
  const bool has_b = bind.b.read(s.raw, s.raw_size, &v2);
  using K = KvmEvent::Kind;
  const K k = bind.kind;
  // mmio, pio and msr need both fields: (type|rw|write, gpa|port|ecx).
  const bool two = k == K::kMmio || k == K::kPio || k == K::kMsr;
  if (two && !has_b) return false;
  if (k == K::kExit && isa_ == Isa::kUnknown && has_b && (v2 == 1 || v2 == 2)) isa_ = static_cast<Isa>(v2);
  uint64_t key = two ? v2 : v1;
  if (k != K::kExit && k != K::kMmio) key = static_cast<uint32_t>(key);  // vcpu_id, port, ecx are u32
  *kind = k;
  *a = key;
  *b = two ? static_cast<uint32_t>(v1) : 0;
  return true;
}

const std::map<int64_t, std::string>* KvmDecoder::reasons_for(Isa isa) const {
  if (isa == Isa::kVmx) return vmx_reasons_.empty() ? &builtin_vmx_exit_reasons() : &vmx_reasons_;
  if (isa == Isa::kSvm) return svm_reasons_.empty() ? &builtin_svm_exit_reasons() : &svm_reasons_;
  return nullptr;
}

std::string KvmDecoder::exit_reason_name(uint64_t reason, bool* known) const {
  // perf looks the unmasked value up, so flag bits make it UNKNOWN.
  const std::map<int64_t, std::string>* table = reasons_for(isa_);
  if (table) {
    auto it = table->find(static_cast<int64_t>(reason));
    if (it != table->end()) {
      if (known) *known = true;
      return it->second;
    }
  }
  if (known) *known = false;
  return "UNKNOWN";
}

std::string KvmDecoder::isa_name() const {
  return isa_ == Isa::kVmx ? "VMX" : isa_ == Isa::kSvm ? "SVM" : "";
}

}  // namespace kvmlens
