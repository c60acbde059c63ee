// Unit driver for the profile core: kallsyms/modules parsing, perf's symbol
// fix-ups, the ELF reader on a real binary and on damaged copies of it, and
// the aggregator's side-band tracking (COMM, FORK, MMAP overlaps).
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "check.h"
#include "elf/demangle.h"
#include "elf/elf_reader.h"
#include "perf/perf_abi.h"
#include "profile/profile_aggregator.h"
#include "profile/symbol_table.h"
#include "profile/symbolizer.h"

using namespace kvmlens;
using namespace kvmlens::profile;

namespace {

void test_kallsyms() {
  const std::string text =
      "ffffffff81000000 T _text\n"
      "ffffffff81000100 T memcpy\n"
      "ffffffff81000100 T __pi_memcpy\n"
      "ffffffff81000200 t local_fn\n"
      "ffffffff81000300 D some_data\n"
      "ffffffff81000400 A absolute_ignored\n"
      "garbage line\n"
      "\n"
      "ffffffffc0000000 t mod_fn\t[kvm]\n"
      "ffffffffc0000040 T mod_fn2\t[kvm]\n";
  SymbolTable t;
  size_t bad = 0;
  std::string err;
  CHECK(parse_kallsyms(text.data(), text.size(), &t, &bad, &err));
  CHECK(bad == 1);
  // Two zero-sized aliases: the later one got the size, so it wins (as perf).
  const Symbol* s = t.find(0xffffffff81000150);
  CHECK(s && t.name(*s) == "__pi_memcpy");
  s = t.find(0xffffffff81000250);
  CHECK(s && t.name(*s) == "local_fn" && s->binding == kBindLocal);
  s = t.find(0xffffffff81000300);
  CHECK(s && t.name(*s) == "some_data" && s->type == kTypeObject);
  // The last kernel symbol before the modules ends at the next page, not at the module.
  s = t.find(0xffffffff81000300 + 0x1500);
  CHECK(s == nullptr || t.name(*s) == "some_data");
  CHECK(t.find(0xffffffffbf000000) == nullptr);
  s = t.find(0xffffffffc0000010);
  CHECK(s && t.name(*s) == "mod_fn" && s->module != 0 && t.modules()[s->module - 1] == "kvm");
  CHECK(t.find(0xffffffff80ffffff) == nullptr);
  CHECK(t.address_of("_text") == 0xffffffff81000000ULL);

  SymbolTable e;
  CHECK(!parse_kallsyms("", 0, &e, &bad, &err) && err == "the file is empty");
  const std::string junk = "not kallsyms\nat all\n";
  CHECK(!parse_kallsyms(junk.data(), junk.size(), &e, &bad, &err));
  // Overlong hex and missing fields are bad lines, not crashes.
  const std::string odd = "fffffffffffffffff T x\nffff T\nffff\n0 T ok\n";
  SymbolTable o;
  CHECK(parse_kallsyms(odd.data(), odd.size(), &o, &bad, &err) && bad == 3 && o.size() == 1);
}

void test_modules() {
  const std::string m = "kvm 1146880 0 - Live 0xffffffffc046a000\nirqbypass 16384 1 kvm, Live 0xffffffffc0465000\nbad\n";
  std::vector<ModuleRange> r;
  std::string err;
  CHECK(parse_modules(m.data(), m.size(), &r, &err));
  CHECK(r.size() == 2 && r[0].name == "kvm" && r[0].start == 0xffffffffc046a000ULL && r[0].size == 1146880);
  std::vector<ModuleRange> none;
  CHECK(!parse_modules("x\n", 2, &none, &err));
  CHECK(module_short_name("/lib/modules/6.1/kernel/arch/x86/kvm/kvm-amd.ko.xz") == "[kvm_amd]");
}

void test_demangle() {
  CHECK(elf::demangle("_ZN2v88internal9Scavenger14ScavengeObjectINS0_18FullHeapObjectSlotEEENS0_18SlotCallbackResultET_NS0_10HeapObjectE") ==
        "v8::internal::Scavenger::ScavengeObject<v8::internal::FullHeapObjectSlot>");
  CHECK(elf::demangle("_ZN2v88internal12_GLOBAL__N_118IterateObjectCacheEPNS0_7IsolateE") ==
        "v8::internal::(anonymous namespace)::IterateObjectCache");
  CHECK(elf::demangle("main") == "main");
  CHECK(elf::demangle("_Znot_valid") == "_Znot_valid");
  CHECK(elf::strip_signature("foo(int) const [clone .cold]") == "foo");
  CHECK(elf::strip_signature("unsigned long ns::f<int>(char)") == "ns::f<int>");
  CHECK(elf::strip_signature("ns::C::operator new(unsigned long)") == "ns::C::operator new");
  CHECK(elf::strip_signature("ns::f({lambda(int)#1}&&)") == "ns::f");
  CHECK(elf::strip_signature("ns::g()::{lambda(int)#1}::operator()(int) const") == "ns::g()::{lambda(int)#1}::operator()");
  CHECK(elf::strip_signature("non-virtual thunk to A::f(int)") == "non-virtual thunk to A::f(int)");
  CHECK(elf::strip_signature("vtable for A") == "vtable for A");
  CHECK(elf::strip_signature("((((") == "((((");
  CHECK(elf::strip_signature(")))") == ")))");
}

void test_elf(const char* self) {
  std::vector<uint8_t> bytes;
  std::string err;
  CHECK(elf::read_file(self, &bytes, &err));
  elf::ElfImage img;
  SymbolTable t;
  CHECK(elf::parse_elf(bytes.data(), bytes.size(), &img, &t, &err));
  CHECK(!img.loads.empty());
  bool has_main = false;
  for (const Symbol& s : t.symbols())
    if (t.name(s) == "main") has_main = true;
  CHECK(has_main);
  // libc's ifunc PLT slots (R_X86_64_IRELATIVE, no symbol) are "@plt" in
  // perf; every .rela.plt entry gets one symbol, named or not.
  {
    std::vector<uint8_t> libc;
    std::string e;
    elf::ElfImage li;
    SymbolTable lt;
    if (elf::read_file("/lib/x86_64-linux-gnu/libc.so.6", &libc, &e) &&
        elf::parse_elf(libc.data(), libc.size(), &li, &lt, &e)) {
      size_t unnamed = 0;
      for (const auto& p : li.plt) unnamed += p.name == "@plt";
      std::printf("profile_test: libc.so.6: %zu PLT symbols, %zu of them \"@plt\"\n", li.plt.size(), unnamed);
      CHECK(!li.plt.empty());
      CHECK(unnamed > 0);
    }
  }
  CHECK(!elf::read_file("/dev/zero", &bytes, &err) && err == "not a regular file");
  CHECK(!elf::read_file("/nonexistent/x", &bytes, &err));
  // Damaged copies: every failure is a false return, never a crash.
  std::vector<uint8_t> orig;
  elf::read_file(self, &orig, &err);
  std::mt19937 rng(1234);
  for (int round = 0; round < 300; round++) {
    std::vector<uint8_t> b = orig;
    size_t cut = round < 100 ? orig.size() * round / 100 : orig.size();
    b.resize(cut);
    if (round >= 100)
      for (int k = 0; k < 64 && !b.empty(); k++) {
        // Hit the headers more often than the bulk.
        size_t at = (k % 2 ? rng() % std::min<size_t>(b.size(), 4096) : rng() % b.size());
        b[at] = static_cast<uint8_t>(rng());
      }
    if (round >= 200 && b.size() > 64) {
      // Section header table pointing anywhere.
      uint64_t shoff = rng();
      std::memcpy(b.data() + 40, &shoff, 8);
    }
    elf::ElfImage i2;
    SymbolTable t2;
    std::string e2;
    (void)elf::parse_elf(b.data(), b.size(), &i2, &t2, &e2);
    uint64_t v;
    (void)i2.offset_to_vaddr(0x1000, &v);
  }
  CHECK(elf::hex(std::string("\x01\xab", 2)) == "01ab");
}

// Builds records in memory the way the reader hands them over.
struct Rec {
  std::vector<uint8_t> bytes;
  SideBandRecord view(uint32_t type, uint16_t misc = 0) {
    SideBandRecord r;
    r.type = type;
    r.misc = misc;
    r.size = static_cast<uint16_t>(bytes.size());
    r.record = bytes.data();
    return r;
  }
};

template <class T>
void put(std::vector<uint8_t>& b, T v) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(&v);
  b.insert(b.end(), p, p + sizeof(T));
}

Rec comm(int32_t pid, int32_t tid, const char* name) {
  Rec r;
  r.bytes.resize(8);
  put(r.bytes, pid);
  put(r.bytes, tid);
  r.bytes.insert(r.bytes.end(), name, name + std::strlen(name) + 1);
  while (r.bytes.size() % 8) r.bytes.push_back(0);
  return r;
}

Rec mmap(int32_t pid, uint64_t start, uint64_t len, uint64_t pgoff, const char* name) {
  Rec r;
  r.bytes.resize(8);
  put(r.bytes, pid);
  put(r.bytes, pid);
  put(r.bytes, start);
  put(r.bytes, len);
  put(r.bytes, pgoff);
  r.bytes.insert(r.bytes.end(), name, name + std::strlen(name) + 1);
  while (r.bytes.size() % 8) r.bytes.push_back(0);
  return r;
}

Rec fork(int32_t pid, int32_t ppid) {
  Rec r;
  r.bytes.resize(8);
  put(r.bytes, pid);
  put(r.bytes, ppid);
  put(r.bytes, pid);
  put(r.bytes, ppid);
  put(r.bytes, uint64_t(0));
  return r;
}

void test_aggregator() {
  std::vector<EventAttr> attrs(1);
  attrs[0].sample_type = abi::kIp | abi::kTid | abi::kPeriod;
  SymbolizerOptions o;
  o.host = true;
  o.guest = true;
  o.buildid_dir = "/nonexistent";
  Symbolizer sym(o);
  ProfileAggregator agg(sym, attrs);
  auto sample = [&](int32_t pid, uint64_t ip, uint16_t mode, uint64_t period = 10) {
    Sample s;
    s.attr = &attrs[0];
    s.pid = s.tid = pid;
    s.ip = ip;
    s.misc = mode;
    s.period = period;
    agg.on_sample(s);
  };
  Rec c = comm(10, 10, "parent");
  agg.on_side_band(c.view(3));
  Rec m = mmap(10, 0x400000, 0x10000, 0x2000, "/nonexistent/app");
  agg.on_side_band(m.view(1, 2));
  sample(10, 0x400010, 2);
  sample(10, 0x400010, 2);
  Rec f = fork(11, 10);
  agg.on_side_band(f.view(7));
  sample(11, 0x400020, 2);  // child inherits comm and maps
  // An overlapping map replaces the middle of the old one.
  Rec m2 = mmap(10, 0x404000, 0x1000, 0, "/nonexistent/lib");
  agg.on_side_band(m2.view(1, 2));
  sample(10, 0x404800, 2);
  sample(10, 0x405000, 2);  // right part of the split map keeps its file offset
  sample(12, 0x1234, 2);    // unknown thread and map
  sample(0, 0xffffffff81000000ULL, 1);  // no kernel map: [unknown] (perf)
  sample(13, 0xffffffffa0000000ULL, 4, 7);  // guest kernel without symbols
  ProfileSnapshot snap = agg.snapshot();
  auto find = [&](const char* comm_name, const char* dso, uint64_t addr) -> const ProfileRow* {
    for (const ProfileRow& r : snap.rows) {
      if (snap.strings[r.comm] != comm_name) continue;
      std::string d = r.dso < 0 ? "[unknown]" : snap.strings[r.dso];
      if (d == dso && r.addr == addr) return &r;
    }
    return nullptr;
  };
  const ProfileRow* r = find("parent", "app", 0x2010);
  CHECK(r && r->samples == 2 && r->period == 20 && r->level == '.');
  CHECK(find("parent", "app", 0x2020) && find("parent", "app", 0x2020)->samples == 1);  // pid 11's comm is parent's
  CHECK(find("parent", "lib", 0x800));
  CHECK(find("parent", "app", 0x2000 + 0x5000));
  CHECK(find(":12", "[unknown]", 0x1234));
  const ProfileRow* k = find("swapper", "[unknown]", 0xffffffff81000000ULL);
  CHECK(k && k->level == 'k');
  const ProfileRow* g = find(":13", "[guest.kernel.kallsyms]", 0xffffffffa0000000ULL);
  CHECK(g && g->level == 'g' && g->period == 7 && g->sym < 0);
  CHECK(snap.events.size() == 1 && snap.events[0].samples == 8);
  bool warned = false;
  for (const std::string& w : snap.warnings)
    if (w.find("--guestkallsyms") != std::string::npos) warned = true;
  CHECK(warned);
  agg.reset_counts();
  CHECK(agg.snapshot().rows.empty());
  sample(11, 0x400020, 2);
  CHECK(agg.snapshot().rows.size() == 1);  // maps survive a reset

  // Host samples are counted apart when host resolution is off (perf kvm's default).
  SymbolizerOptions go;
  go.host = false;
  go.guest = true;
  Symbolizer gs(go);
  ProfileAggregator ga(gs, attrs);
  Sample s;
  s.attr = &attrs[0];
  s.ip = 1;
  s.misc = 2;
  s.period = 5;
  ga.on_sample(s);
  ProfileSnapshot gsnap = ga.snapshot();
  CHECK(gsnap.rows.empty() && gsnap.events[0].filtered_samples == 1 && gsnap.events[0].filtered_period == 5);

  // Truncated side-band records are ignored, never read past their size.
  Rec shortm = mmap(10, 0x1000, 0x1000, 0, "x");
  shortm.bytes.resize(20);
  agg.on_side_band(shortm.view(1, 2));
  Rec shortc = comm(10, 10, "y");
  shortc.bytes.resize(12);
  agg.on_side_band(shortc.view(3));
}

}  // namespace

int main(int argc, char** argv) {
  (void)argc;
  test_kallsyms();
  test_modules();
  test_demangle();
  test_elf(argv[0]);
  test_aggregator();
  return finish("profile_test");
}
