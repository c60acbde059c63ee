// PerfSymbolTree (the replay of perf's red-black symbol tree) and the
// SymbolTable lookups that use it where symbols overlap:
//  - after every insert and erase of random sequences the tree is a valid
//    red-black tree (ordered, equal keys in insertion order, parents
//    consistent, red nodes with black children, equal black heights);
//  - the lookups perf 6.1 makes on an unstripped executable: `_init`,
//    stretched over .plt before the NAME@plt symbols are added, wins where
//    perf's walk meets it first.
#include <cstdio>
#include <cstring>
#include <string>
#include <random>
#include <vector>

#include "check.h"
#include "profile/perf_symbol_tree.h"
#include "profile/symbol_table.h"

using namespace kvmlens::profile;

static bool finds_every_key(const PerfSymbolTree& t, const std::vector<uint64_t>& keys,
                            const std::vector<bool>& live) {
  for (size_t i = 0; i < keys.size(); i++) {
    if (!live[i]) continue;
    const int32_t got = t.find(keys[i]);
    if (got == PerfSymbolTree::kNone) return false;
  }
  return true;
}

int main() {
  // Random inserts and erases keep every live key findable and the tree valid.
  std::mt19937_64 rng(7);
  for (int round = 0; round < 200; round++) {
    PerfSymbolTree t;
    std::vector<uint64_t> keys;
    std::vector<bool> live;
    const int n = 1 + static_cast<int>(rng() % 300);
    for (int i = 0; i < n; i++) {
      const uint64_t k = (rng() % 1000) * 16;
      keys.push_back(k);
      live.push_back(true);
      CHECK(t.insert(k, k + 16) == i);
      CHECK(t.valid());
    }
    for (int e = 0; e < n / 2; e++) {
      const size_t victim = rng() % keys.size();
      if (!live[victim]) continue;
      t.erase(static_cast<int32_t>(victim));
      live[victim] = false;
      CHECK(t.valid());
    }
    CHECK(finds_every_key(t, keys, live));
  }

  // burn (test/fixtures/profile/burn.c, gcc 12 -O1 -g): its .symtab's
  // functions and objects in file order, then the two NAME@plt symbols.
  // perf 6.1 names every address of .init, .plt and .plt.got `_init`: the
  // replayed tree puts `_init` above both PLT symbols on their search paths.
  {
    SymbolTable s;
    const struct { uint64_t start, size; const char* name; uint8_t type; } syms[] = {
        {0x37c, 32, "__abi_tag", kTypeObject}, {0x1090, 0, "deregister_tm_clones", kTypeFunc},
        {0x10c0, 0, "register_tm_clones", kTypeFunc}, {0x1100, 0, "__do_global_dtors_aux", kTypeFunc},
        {0x4020, 1, "completed.0", kTypeObject}, {0x3dd8, 0, "__do_global_dtors_aux_fini_array_entry", kTypeObject},
        {0x1140, 0, "frame_dummy", kTypeFunc}, {0x3dd0, 0, "__frame_dummy_init_array_entry", kTypeObject},
        {0x212c, 0, "__FRAME_END__", kTypeObject}, {0x3de0, 0, "_DYNAMIC", kTypeObject},
        {0x3fe8, 0, "_GLOBAL_OFFSET_TABLE_", kTypeObject}, {0x4028, 8, "kvmlens_sink", kTypeObject},
        {0x1220, 0, "_fini", kTypeFunc}, {0x4018, 0, "__dso_handle", kTypeObject},
        {0x2000, 4, "_IO_stdin_used", kTypeObject}, {0x1060, 34, "_start", kTypeFunc},
        {0x11f0, 48, "main", kTypeFunc}, {0x1149, 167, "kvmlens_burn_loop", kTypeFunc},
        {0x4020, 0, "__TMC_END__", kTypeObject}, {0x1000, 0, "_init", kTypeFunc}};
    for (const auto& x : syms) s.add(x.start, x.size, x.name, std::strlen(x.name), kBindGlobal, x.type);
    s.finish(false);
    s.add(0x1030, 16, "strtod@plt", 10, kBindGlobal, kTypeFunc);
    s.add(0x1040, 16, "clock_gettime@plt", 17, kBindGlobal, kTypeFunc);
    s.finish(false);
    for (uint64_t a = 0x1000; a < 0x1060; a += 4) {
      const Symbol* f = s.find(a);
      CHECK(f && s.name(*f) == "_init");
    }
    const Symbol* fini = s.find(0x1230);
    CHECK(fini && s.name(*fini) == "_fini");
    const Symbol* loop = s.find(0x1150);
    CHECK(loop && s.name(*loop) == "kvmlens_burn_loop");
  }
  return finish("symbol_tree_test");
}
