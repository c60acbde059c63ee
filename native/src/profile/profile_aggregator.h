// The per-sample half of `report` (and of `top`): a RecordSink that follows
// the side-band records — COMM, FORK, MMAP, MMAP2 — to know each thread's
// command and each process's maps, and counts samples and period per
// (event, comm, cpumode, dso, map-relative address) in one flat hash table:
// no allocation per sample (only when a new thread, map or address appears).
// Symbols are looked up once per distinct (dso, address), when a snapshot is
// taken, and rows with the same (event, comm, dso, symbol) are merged.
//
//   Symbolizer sym(options);                 // profile/symbolizer.h
//   sym.set_build_ids(reader->info().build_ids);
//   ProfileAggregator agg(sym, reader->info().attrs);
//   reader->run(agg, progress);              // or a live source, for top
//   ProfileSnapshot snap = agg.snapshot();   // resolved rows
//   agg.reset_counts();                      // top: next interval (maps kept)
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/flat_map.h"
#include "core/sample.h"
#include "profile/symbolizer.h"

namespace kvmlens {
namespace profile {

// One row of a snapshot: perf's hist entry for --sort comm,dso,sym.
struct ProfileRow {
  uint32_t event = 0;    // index into the attrs given to the aggregator
  uint32_t comm = 0;     // index into ProfileSnapshot::strings
  int32_t dso = -1;      // index into strings, -1 = "[unknown]" (no map)
  int32_t sym = -1;      // index into strings, -1 = unresolved (print addr)
  char level = '.';      // perf's marker: '.' user, 'k' kernel, 'g' guest kernel, 'u' guest user, 'H' other
  uint8_t sym_is_object = 0;  // a data symbol: perf prints name+0xOFFSET (addr - sym_start)
  uint64_t addr = 0;     // map-relative address of the first sample (the raw address perf prints)
  uint64_t sym_start = 0;
  uint64_t samples = 0, period = 0;
  uint64_t first = 0;    // sequence number of the row's first sample (perf keeps that sample's address)
  uint32_t group = 0;    // with children: index into ProfileSnapshot::groups (the entry for the sort keys)
  // Length of the current comm of the first sample's thread: perf sizes the
  // Command column by it (thread__comm_len of the entry's thread, after the
  // whole file), and cuts longer comms of the entry to the column.
  uint32_t comm_width = 0;
};

// perf report's children mode (the default on files with call chains): the
// sort keys decide which frames of one sample are the same entry, so that a
// sample counts once for each distinct entry on its stack.
struct ChildrenKeys {
  bool comm = true, dso = true, sym = true;
};

// Children totals of one entry: the samples whose stack holds it (itself
// included), counted once per sample.
struct ProfileGroup {
  uint64_t samples = 0, period = 0;
};

struct ProfileEventTotals {
  uint64_t samples = 0, period = 0;
  uint64_t filtered_samples = 0, filtered_period = 0;  // host/guest samples excluded by the options
};

struct ProfileSnapshot {
  std::vector<std::string> strings;
  std::vector<ProfileRow> rows;         // unsorted
  std::vector<ProfileEventTotals> events;
  bool children = false;                // rows carry groups: call chains were aggregated
  std::vector<ProfileGroup> groups;     // with children, indexed by ProfileRow::group
  uint64_t lost = 0;          // LOST and LOST_SAMPLES records (perf top's count)
  uint64_t lost_samples = 0;  // LOST_SAMPLES records only (perf report's "Total Lost Samples")
  std::vector<std::string> warnings;    // from the symbolizer, each once
  std::vector<std::string> notes;       // lesser ones, printed with -v
};

class TraceCounter;  // profile/trace_counter.h

class ProfileAggregator : public RecordSink {
 public:
  // `attrs` gives the event index of each sample (Sample::attr must point
  // into it; unknown attrs count as event 0).
  ProfileAggregator(Symbolizer& symbolizer, const std::vector<EventAttr>& attrs);

  // Children mode for these sort keys: the call chain of every sample is
  // kept (once per distinct chain) when some attr records PERF_SAMPLE_CALLCHAIN.
  // Call before the first sample.
  void set_children(const ChildrenKeys& keys);

  void on_sample(const Sample& s) override;
  void on_lost(uint64_t lost, uint32_t cpu) override { lost_ += lost; }
  void on_lost_samples(uint64_t lost, uint32_t cpu) override {
    lost_ += lost;
    lost_samples_ += lost;
  }
  void on_side_band(const SideBandRecord& r) override;

  // Resolves and merges the counts so far (does not clear them).
  ProfileSnapshot snapshot();
  // Clears the counts; threads, comms and maps are kept.
  void reset_counts();
  // perf's `trace` sort: every sample that passes the host/guest filter is
  // also counted by its tracepoint payload; `only`: and nothing else (the
  // comm/dso/sym rows stay empty, saving their per-sample work).
  void set_trace_counter(TraceCounter* counter, bool only) {
    trace_ = counter;
    trace_only_ = only;
  }
  // DSOs that had samples (for buildid-list --with-hits).
  std::vector<DsoId> hit_dsos() const;

 private:
  struct Map {
    uint64_t start, end, pgoff;
    DsoId dso;
    bool module;    // kernel module: addresses are module-relative
    bool identity;  // JIT, [heap], [stack]: addresses are the sample's own
  };
  struct MapSet {
    std::vector<Map> maps;  // sorted by start, non-overlapping
    size_t last = 0;
    const Map* find(uint64_t ip);
    void insert(const Map& m);
  };
  struct Thread {
    int32_t pid = -1;
    uint32_t comm = 0;
  };
  struct Key {
    uint64_t addr = 0;
    uint64_t raw = 0;  // a callchain frame's own address (perf names an unresolved caller by it); 0 for samples
    uint32_t comm = 0, dso = kNoDso;
    uint16_t event = 0;
    char level = 0;
    bool operator==(const Key& o) const {
      return addr == o.addr && raw == o.raw && comm == o.comm && dso == o.dso && event == o.event && level == o.level;
    }
  };
  struct KeyHash {
    size_t operator()(const Key& k) const {
      return mix64(k.addr ^ (k.raw * 0xff51afd7ed558ccdULL) ^ (uint64_t(k.comm) << 32) ^ (uint64_t(k.dso) * 0x9e3779b97f4a7c15ULL) ^
                   (uint64_t(k.event) << 8) ^ uint64_t(uint8_t(k.level)));
    }
  };
  struct Counts {
    uint64_t samples = 0, period = 0;
    uint64_t first = 0;
    uint32_t thread = 0;  // index into threads_ of the first sample's thread
  };
  struct TidHash {
    size_t operator()(int64_t k) const { return mix64(static_cast<uint64_t>(k)); }
  };

  uint32_t intern_comm(const std::string& c);
  Thread& thread(int32_t machine, int32_t pid, int32_t tid);
  MapSet& maps_of(int32_t machine, int32_t pid);
  uint16_t event_of(const EventAttr* a);
  void on_mmap(const SideBandRecord& r, bool mmap2);
  // The key of one address in cpumode `mode` (perf's thread__find_map).
  Key key_of_ip(uint16_t ev, const Sample& s, uint8_t mode, uint64_t ip);
  void add_chain(const Sample& s, const Key& self, uint16_t ev, uint64_t period);

  // One distinct call chain: frames_[offset, offset + len), innermost
  // first (the sample's own entry, then the callchain's addresses).
  struct Chain {
    uint32_t offset = 0, len = 0;
    uint32_t next = ~0u;  // the next chain with the same hash
    uint64_t hash = 0;
    uint64_t samples = 0, period = 0, first = 0;
    uint32_t thread = 0;  // the first sample's thread
  };
  struct HashHash {
    size_t operator()(uint64_t k) const { return k; }
  };
  bool children_ = false;
  ChildrenKeys children_keys_;
  std::vector<Key> scratch_;                          // the current sample's frames (reused)
  std::vector<Key> frames_;                           // every distinct chain's frames
  std::vector<Chain> chains_;
  FlatMap<uint64_t, uint32_t, HashHash> chain_index_{1024};  // hash -> first chain with it

  Symbolizer& sym_;
  const std::vector<EventAttr>& attrs_;
  const EventAttr* last_attr_ = nullptr;
  uint16_t last_event_ = 0;
  std::vector<std::string> comms_;
  std::unordered_map<std::string, uint32_t> comm_ids_;
  FlatMap<int64_t, uint32_t, TidHash> thread_index_{1024};  // (machine, tid) -> index into threads_
  std::vector<Thread> threads_;
  int64_t last_tid_key_ = -1;
  uint32_t last_thread_ = 0;
  std::unordered_map<int64_t, MapSet> procs_;                // (machine, pid) -> maps
  int64_t last_pid_key_ = -1;
  MapSet* last_maps_ = nullptr;
  std::unordered_map<int32_t, MapSet> kernel_maps_;          // machine -> kernel-space maps
  FlatMap<Key, Counts, KeyHash> counts_{4096};
  std::vector<ProfileEventTotals> totals_;
  uint64_t lost_ = 0, lost_samples_ = 0;
  uint64_t seq_ = 0;
  TraceCounter* trace_ = nullptr;
  bool trace_only_ = false;
};

}  // namespace profile
}  // namespace kvmlens
