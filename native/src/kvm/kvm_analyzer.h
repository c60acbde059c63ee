// perf kvm stat's pairing, for all four analyses at once, per thread:
//   vmexit: kvm_exit (key exit_reason) -> next kvm_entry
//   mmio:   write kvm_mmio type 2 -> kvm_entry; read kvm_exit -> kvm_mmio type 1
//   ioport: kvm_pio -> kvm_entry           msr: kvm_msr -> kvm_entry
// A thread's vCPU record is made at its first kvm_entry (vcpu_id from it);
// its earlier events are ignored. Durations go into a LatencyHistogram per
// (analysis, pid, vcpu, key, info). Filters (--vcpu, -p) are applied by the
// readers of the snapshot: the statistics are the same as perf's because
// every filter perf has selects whole threads.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/flat_map.h"
#include "core/sample.h"
#include "kvm/kvm_event.h"
#include "stats/histogram.h"
#include "stats/record_batch.h"

namespace kvmlens {

struct AnalyzerOptions {
  // Pairs longer than this (and not HLT / hlt) are counted in long_count and
  // reported through on_long_event (stat live --duration). 0 = off.
  uint64_t long_threshold_ns = 0;
  std::function<void(const KvmEvent& end, Analysis, uint64_t key, uint32_t info,
                     uint32_t vcpu, uint64_t duration_ns)> on_long_event;
  // false: rows keep count, sum, min, max and buckets but not perf's running
  // mean and variance (LatencyHistogram::record_without_moments), for
  // sessions whose outputs use none of those (the exporter's).
  bool moments = true;
};

struct StatRow {
  Analysis analysis;
  int32_t pid;
  uint32_t vcpu;
  uint64_t key;        // exit reason, gpa, port or msr index
  uint32_t info;       // mmio type (1 R, 2 W), pio rw (1 POUT), msr write (1 W)
  uint64_t long_count; // pairs above long_threshold_ns (not HLT)
  LatencyHistogram hist;
};

class KvmAnalyzer : public RecordSink {
 public:
  KvmAnalyzer(const KvmDecoder& decoder, AnalyzerOptions options);

  void on_sample(const Sample& sample) override;  // decode, then on_fields
  // One decoded kvm event, its fields packed as KvmDecoder::decode_fields
  // packs them (a: vcpu_id, exit_reason, gpa, port or ecx; b: mmio type,
  // pio rw or msr write): also what the two-stage file path hands over.
  void on_fields(KvmEvent::Kind kind, uint64_t time, int32_t pid, int32_t tid, uint64_t a, uint32_t b);
  void on_lost(uint64_t lost, uint32_t cpu) override;

  // perf's key text: exit reason name, "0x<gpa>:R|W", "0x<port>:PIN|POUT",
  // "0x<msr>:R|W" (printf %#llx, so 0 prints as "0").
  std::string key_name(Analysis analysis, uint64_t key, uint32_t info, bool* known) const;

  // Every pair analyzed so far is in the rows (pending ones are applied first).
  const std::vector<StatRow>& rows() const {
    apply_pending();
    return rows_;
  }
  void reset_stats();  // stat live: statistics are per interval; thread state is kept
  // Drops every row and thread of these processes (VMs that exited): the
  // exporter's memory stays bounded while VMs come and go, and a reused pid
  // starts afresh.
  void forget_pids(const std::vector<int32_t>& pids);
  // Whether pairs reach a callback (stat live --duration), which then runs
  // on whatever thread feeds the analyzer.
  bool calls_back() const { return options_.long_threshold_ns != 0 || static_cast<bool>(options_.on_long_event); }
  uint64_t lost() const { return lost_; }
  uint64_t events() const { return events_; }     // kvm events decoded
  uint64_t unpaired() const { return unpaired_; } // ends without a begin, replaced begins

 private:
  // One analysis' pairing state of a thread: perf's vcpu_event_record
  // (start_time, last_event), with last_event as a row index or -1.
  struct Pending {
    uint64_t start_time = 0;
    int64_t row = -1;
  };
  // A thread's recent rows by (analysis, key, info): its (pid, vcpu) is
  // fixed while cache_pid holds, so most begins skip the table of all rows.
  // 32 sets of 2 (most recent first).
  static constexpr int kRowCacheSets = 32;
  struct RowCacheEntry {
    uint64_t key = 0;
    uint32_t info = 0;
    int32_t analysis = -1;  // -1: empty
    int64_t row = -1;
  };
  struct ThreadState {
    int32_t pid = -1;
    bool has_vcpu = false;  // perf makes the record at the first kvm_entry
    uint32_t vcpu = 0;
    Pending pending[kNumAnalyses];
    int32_t cache_pid = -1;
    RowCacheEntry row_cache[2 * kRowCacheSets];
  };
  struct RowKey {
    uint8_t analysis;
    int32_t pid;
    uint32_t vcpu;
    uint64_t key;
    uint32_t info;
    bool operator==(const RowKey& o) const {
      return analysis == o.analysis && pid == o.pid && vcpu == o.vcpu && key == o.key && info == o.info;
    }
  };
  struct RowKeyHash {
    size_t operator()(const RowKey& k) const;
  };
  struct TidHash {
    size_t operator()(int32_t tid) const;
  };

  int64_t row_for(Analysis a, int32_t pid, uint32_t vcpu, uint64_t key, uint32_t info);
  int64_t thread_row(ThreadState& t, Analysis a, int32_t pid, uint64_t key, uint32_t info);
  ThreadState& thread(int32_t tid);
  ThreadState& new_thread(int32_t tid);
  void apply_pending() const;
  void begin(Pending& p, int64_t row, uint64_t time);
  void end(Pending& p, Analysis a, KvmEvent::Kind end_kind, uint64_t time, int32_t pid, int32_t tid,
           ThreadState& t, bool has_key, uint64_t key, uint32_t info);
  void report_long(Analysis a, KvmEvent::Kind end_kind, uint64_t time, int32_t pid, int32_t tid,
                   const ThreadState& t, int64_t row, uint64_t diff);

  const KvmDecoder& decoder_;
  AnalyzerOptions options_;
  std::vector<StatRow> rows_;
  FlatMap<RowKey, int64_t, RowKeyHash> row_index_;
  // Threads: states in a vector; small tids index pages of a direct table,
  // the rest go through a hash map. Both hold index + 1 (0 = none).
  static constexpr int kTidPageBits = 10;
  static constexpr int32_t kMaxDirectTid = 1 << 22;  // Linux's PID_MAX_LIMIT
  std::vector<ThreadState> threads_;
  std::vector<std::unique_ptr<uint32_t[]>> tid_pages_;
  FlatMap<int32_t, uint32_t, TidHash> other_tids_;
  // Pairs not yet recorded into their row: recording in batches lets the
  // CPU overlap the histograms' cache misses. Same order per row as one by one.
  mutable RecordBatch pending_;
  uint64_t lost_ = 0, events_ = 0, unpaired_ = 0;
};

}  // namespace kvmlens
