// libFuzzer target for the profile path: arbitrary bytes as a perf.data file
// through the ProfileAggregator and a snapshot (symbol lookups included),
// and the same bytes as a kallsyms text, a /proc/modules text and an ELF
// file. Anything but a clean result or a ParseError is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/errors.h"
#include "elf/demangle.h"
#include "elf/elf_reader.h"
#include "perf/perf_data.h"
#include "profile/profile_aggregator.h"
#include "profile/symbol_table.h"
#include "profile/symbolizer.h"

using namespace kvmlens;
using namespace kvmlens::profile;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 2 && data[0] == '_' && data[1] == 'Z') {
    // Symbol names from untrusted ELF files reach the demangler.
    (void)elf::demangle(std::string(reinterpret_cast<const char*>(data), size));
    return 0;
  }
  {
    SymbolTable t;
    size_t bad = 0;
    std::string err;
    if (parse_kallsyms(reinterpret_cast<const char*>(data), size, &t, &bad, &err)) {
      (void)t.find(0xffffffff81000000ULL);
      for (const Symbol& s : t.symbols()) (void)t.name(s);
    }
    std::vector<ModuleRange> mods;
    (void)parse_modules(reinterpret_cast<const char*>(data), size, &mods, &err);
    elf::ElfImage img;
    SymbolTable et;
    if (elf::parse_elf(data, size, &img, &et, &err)) {
      uint64_t v;
      (void)img.offset_to_vaddr(0x1000, &v);
      (void)et.find(0x1000);
    }
  }
  try {
    auto reader = PerfDataReader::open_memory(data, size);
    SymbolizerOptions o;
    o.host = o.guest = true;
    o.buildid_dir = "/nonexistent-fuzz";
    o.proc_root = "/nonexistent-fuzz";
    o.kernel_notes = "/nonexistent-fuzz";
    Symbolizer sym(o);
    sym.set_build_ids(reader->info().build_ids);
    ProfileAggregator agg(sym, reader->info().attrs);
    try {
      reader->run(agg, [](uint64_t, uint64_t) {});
    } catch (const ParseError&) {
    }
    ProfileSnapshot snap = agg.snapshot();
    for (const ProfileRow& r : snap.rows) (void)snap.strings.at(r.comm);
  } catch (const ParseError&) {
  }
  return 0;
}
