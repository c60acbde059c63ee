#include "kvm/kvm_analyzer.h"

#include <algorithm>
#include <cstdio>

namespace kvmlens {

size_t KvmAnalyzer::RowKeyHash::operator()(const RowKey& k) const {
  uint64_t h = mix64(k.key ^ (static_cast<uint64_t>(k.info) << 40) ^ k.analysis);
  return mix64(h ^ (static_cast<uint64_t>(static_cast<uint32_t>(k.pid)) << 32 | k.vcpu));
}

size_t KvmAnalyzer::TidHash::operator()(int32_t tid) const {
  return mix64(static_cast<uint32_t>(tid));
}

KvmAnalyzer::KvmAnalyzer(const KvmDecoder& decoder, AnalyzerOptions options)
    : decoder_(decoder), options_(std::move(options)) {}

int64_t KvmAnalyzer::row_for(Analysis a, int32_t pid, uint32_t vcpu, uint64_t key, uint32_t info) {
  bool inserted = false;
  int64_t& index = row_index_.find_or_insert(RowKey{static_cast<uint8_t>(a), pid, vcpu, key, info},
                                             static_cast<int64_t>(rows_.size()), &inserted);
  if (inserted) rows_.push_back(StatRow{a, pid, vcpu, key, info, 0, LatencyHistogram()});
  return index;
}

int64_t KvmAnalyzer::thread_row(ThreadState& t, Analysis a, int32_t pid, uint64_t key, uint32_t info) {
  if (t.cache_pid != pid) {
    for (RowCacheEntry& e : t.row_cache) e = RowCacheEntry();
    t.cache_pid = pid;
  }
  const int32_t an = static_cast<int32_t>(a);
  const uint64_t h = (key ^ (static_cast<uint64_t>(an) << 56) ^ (static_cast<uint64_t>(info) << 40)) * 0x9E3779B97F4A7C15ULL;
  RowCacheEntry* set = &t.row_cache[2 * (h >> 59)];  // top 5 bits: kRowCacheSets == 32
  if (set[0].key == key && set[0].info == info && set[0].analysis == an) return set[0].row;
  if (set[1].key == key && set[1].info == info && set[1].analysis == an) {
    std::swap(set[0], set[1]);
    return set[0].row;
  }
  set[1] = set[0];
  set[0].key = key;
  set[0].info = info;
  set[0].analysis = an;
  set[0].row = row_for(a, pid, t.vcpu, key, info);
  return set[0].row;
}

// The common case inline: a tid of the direct table that was seen before.
inline KvmAnalyzer::ThreadState& KvmAnalyzer::thread(int32_t tid) {
  if (__builtin_expect(tid >= 0 && tid < kMaxDirectTid, 1)) {
    const size_t page = static_cast<size_t>(tid) >> kTidPageBits;
    if (page < tid_pages_.size() && tid_pages_[page]) {
      const uint32_t slot = tid_pages_[page][static_cast<size_t>(tid) & ((size_t{1} << kTidPageBits) - 1)];
      if (slot) return threads_[slot - 1];
    }
  }
  return new_thread(tid);
}

KvmAnalyzer::ThreadState& KvmAnalyzer::new_thread(int32_t tid) {
  uint32_t* slot;
  if (tid >= 0 && tid < kMaxDirectTid) {
    const size_t page = static_cast<size_t>(tid) >> kTidPageBits;
    if (page >= tid_pages_.size()) tid_pages_.resize(page + 1);
    std::unique_ptr<uint32_t[]>& p = tid_pages_[page];
    if (!p) p.reset(new uint32_t[size_t{1} << kTidPageBits]());
    slot = &p[static_cast<size_t>(tid) & ((size_t{1} << kTidPageBits) - 1)];
  } else {
    slot = &other_tids_.find_or_insert(tid, 0);
  }
  if (*slot == 0) {
    threads_.emplace_back();
    *slot = static_cast<uint32_t>(threads_.size());
  }
  return threads_[*slot - 1];
}

void KvmAnalyzer::apply_pending() const {
  // perf's update_stats() per pair, in the order the pairs ended.
  StatRow* rows = const_cast<StatRow*>(rows_.data());
  pending_.flush([rows](uint32_t row) -> LatencyHistogram& { return rows[row].hist; }, options_.moments);
}

// perf's handle_begin_event(): a begin with no key still starts the clock.
inline void KvmAnalyzer::begin(Pending& p, int64_t row, uint64_t time) {
  p.row = row;
  p.start_time = time;
}

// perf's handle_end_event(), step for step. Inline: at a kvm_entry it runs
// for all four analyses, and most have nothing pending.
__attribute__((always_inline)) inline void KvmAnalyzer::end(Pending& p, Analysis a, KvmEvent::Kind end_kind,
                                                            uint64_t time, int32_t pid, int32_t tid,
                                                            ThreadState& t, bool has_key, uint64_t key,
                                                            uint32_t info) {
  const uint64_t time_begin = p.start_time;
  if (!time_begin) return;                    // the begin event was not caught
  if (p.row < 0 && !has_key) return;          // neither end has a key: state kept, as perf
  int64_t row = p.row >= 0 ? p.row : thread_row(t, a, pid, key, info);
  p.row = -1;
  p.start_time = 0;
  if (time < time_begin) return;              // end before begin: skipped
  const uint64_t diff = time - time_begin;
  if (pending_.full()) apply_pending();
  pending_.push(static_cast<uint32_t>(row), diff);
  if (__builtin_expect(options_.long_threshold_ns != 0, 0) && diff > options_.long_threshold_ns)
    report_long(a, end_kind, time, pid, tid, t, row, diff);
}

void KvmAnalyzer::report_long(Analysis a, KvmEvent::Kind end_kind, uint64_t time, int32_t pid, int32_t tid,
                              const ThreadState& t, int64_t row, uint64_t diff) {
  StatRow& r = rows_[row];
  bool known = true;
  std::string name = key_name(a, r.key, r.info, &known);
  if (name == "HLT" || name == "hlt") return;
  r.long_count++;
  if (!options_.on_long_event) return;
  KvmEvent ev{};
  ev.kind = end_kind;
  ev.time = time;
  ev.pid = pid;
  ev.tid = tid;
  options_.on_long_event(ev, a, r.key, r.info, t.vcpu, diff);
}

void KvmAnalyzer::on_sample(const Sample& sample) {
  KvmEvent::Kind kind;
  uint64_t a;
  uint32_t b;
  if (decoder_.decode_fields(sample, &kind, &a, &b)) on_fields(kind, sample.time, sample.pid, sample.tid, a, b);
}

void KvmAnalyzer::on_fields(KvmEvent::Kind kind, uint64_t time, int32_t pid, int32_t tid, uint64_t a, uint32_t b) {
  events_++;
  ThreadState& t = thread(tid);
  t.pid = pid;
  using K = KvmEvent::Kind;
  if (!t.has_vcpu) {
    if (kind != K::kEntry) return;  // before the thread's first kvm_entry
    t.has_vcpu = true;
    t.vcpu = static_cast<uint32_t>(a);
  }
  switch (kind) {
    case K::kExit:
      if (t.pending[0].start_time != 0) unpaired_++;  // an exit with no entry after it
      begin(t.pending[0], thread_row(t, Analysis::kVmexit, pid, a, 0), time);
      begin(t.pending[1], -1, time);  // mmio read begins at the exit; its key comes later
      break;
    case K::kEntry:
      end(t.pending[0], Analysis::kVmexit, kind, time, pid, tid, t, false, 0, 0);
      end(t.pending[1], Analysis::kMmio, kind, time, pid, tid, t, false, 0, 0);
      end(t.pending[2], Analysis::kIoport, kind, time, pid, tid, t, false, 0, 0);
      end(t.pending[3], Analysis::kMsr, kind, time, pid, tid, t, false, 0, 0);
      break;
    case K::kMmio:
      if (b == 2)  // write: begins here, ends at kvm_entry
        begin(t.pending[1], thread_row(t, Analysis::kMmio, pid, a, 2), time);
      else if (b == 1)  // read: began at kvm_exit, ends here
        end(t.pending[1], Analysis::kMmio, kind, time, pid, tid, t, true, a, 1);
      break;
    case K::kPio:
      begin(t.pending[2], thread_row(t, Analysis::kIoport, pid, a, b), time);
      break;
    case K::kMsr:
      begin(t.pending[3], thread_row(t, Analysis::kMsr, pid, a, b), time);
      break;
  }
}

void KvmAnalyzer::forget_pids(const std::vector<int32_t>& pids) {
  if (pids.empty()) return;
  apply_pending();
  auto gone = [&](int32_t pid) { return std::find(pids.begin(), pids.end(), pid) != pids.end(); };
  std::vector<int64_t> remap(rows_.size(), -1);
  std::vector<StatRow> kept;
  kept.reserve(rows_.size());
  for (size_t i = 0; i < rows_.size(); i++) {
    if (gone(rows_[i].pid)) continue;
    remap[i] = static_cast<int64_t>(kept.size());
    kept.push_back(std::move(rows_[i]));
  }
  rows_.swap(kept);
  FlatMap<RowKey, int64_t, RowKeyHash> index;
  for (size_t i = 0; i < rows_.size(); i++) {
    const StatRow& r = rows_[i];
    index.find_or_insert(RowKey{static_cast<uint8_t>(r.analysis), r.pid, r.vcpu, r.key, r.info},
                         static_cast<int64_t>(i));
  }
  row_index_ = std::move(index);
  // Threads: keep the survivors (rows renumbered, row caches emptied) and
  // rebuild the tid index.
  std::vector<std::pair<int32_t, ThreadState>> kept_threads;
  auto keep = [&](int32_t tid, uint32_t slot) {
    ThreadState& t = threads_[slot - 1];
    if (gone(t.pid)) return;
    for (Pending& p : t.pending)
      if (p.row >= 0) p.row = remap[static_cast<size_t>(p.row)];
    t.cache_pid = -1;  // row numbers changed
    kept_threads.emplace_back(tid, std::move(t));
  };
  for (size_t page = 0; page < tid_pages_.size(); page++) {
    if (!tid_pages_[page]) continue;
    for (size_t i = 0; i < (size_t{1} << kTidPageBits); i++)
      if (uint32_t slot = tid_pages_[page][i]) keep(static_cast<int32_t>((page << kTidPageBits) | i), slot);
  }
  other_tids_.for_each([&](int32_t tid, uint32_t slot) { if (slot) keep(tid, slot); });
  threads_.clear();
  tid_pages_.clear();
  other_tids_ = FlatMap<int32_t, uint32_t, TidHash>();
  for (auto& [tid, t] : kept_threads) thread(tid) = std::move(t);
}

void KvmAnalyzer::on_lost(uint64_t lost, uint32_t) { lost_ += lost; }

std::string KvmAnalyzer::key_name(Analysis analysis, uint64_t key, uint32_t info, bool* known) const {
  if (known) *known = true;
  char buf[64];
  // printf's %#llx: "0" for zero, "0x..." otherwise, as perf prints keys.
  auto hex = [&](uint64_t v, const char* suffix) {
    if (v == 0) std::snprintf(buf, sizeof buf, "0:%s", suffix);
    else std::snprintf(buf, sizeof buf, "%#llx:%s", static_cast<unsigned long long>(v), suffix);
    return std::string(buf);
  };
  switch (analysis) {
    case Analysis::kVmexit: return decoder_.exit_reason_name(key, known);
    case Analysis::kMmio: return hex(key, info == 2 ? "W" : "R");
    case Analysis::kIoport: return hex(key, info ? "POUT" : "PIN");
    case Analysis::kMsr: return hex(key, info ? "W" : "R");
  }
  return "?";
}

void KvmAnalyzer::reset_stats() {
  apply_pending();
  for (StatRow& r : rows_) {
    r.hist.reset();
    r.long_count = 0;
  }
}

}  // namespace kvmlens
