// The perf.data reader: records -> time-ordered Samples, as perf's
// ordered_events delivers them, without holding events in memory.
//
// perf queues every timestamped record and, at each FINISHED_ROUND, delivers
// the queued ones whose time is <= the highest time seen up to the previous
// FINISHED_ROUND, sorted stably by time; at the end it delivers the rest.
// We get the same order from the mmap'd data: consecutive records with
// non-decreasing times form a "run" (one CPU's batch), and a flush is a k-way
// merge of the pending runs (ties broken by file offset = perf's stable
// order). Memory is O(runs), not O(events).
#include "perf/perf_data.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <thread>
#include <utility>

#include "perf/byte_cursor.h"
#include "perf/page_populator.h"
#include "perf/perf_abi.h"
#include "perf/perf_header.h"

namespace kvmlens {

namespace {

constexpr uint64_t kNoTime = ~0ULL;
constexpr size_t kScanPrefetch = 1024;  // bytes ahead of the scan (512-4096 measured alike)

// Where the fields we need sit in a sample of one attr.
struct SampleLayout {
  uint64_t sample_type = 0;
  uint64_t read_format = 0;
  bool sample_id_all = false;
  // Byte offset (from record start) of fields before any variable-size part;
  // -1 when absent.
  int ip_off = -1, time_off = -1, tid_off = -1, cpu_off = -1, period_off = -1;
  bool fixed_until_raw = true;   // no READ/CALLCHAIN before RAW
  int raw_off = -1;              // when fixed_until_raw
  // Trailer of non-sample records, counted in u64 from the end.
  int trailer_time_from_end = -1;
  // Record size from which every fixed field deliver_sample reads is in
  // bounds (~0 when READ or CALLCHAIN come before RAW).
  uint32_t fast_need = ~0u;
};

SampleLayout make_layout(const EventAttr& a) {
  SampleLayout l;
  l.sample_type = a.sample_type;
  l.read_format = a.read_format;
  l.sample_id_all = a.sample_id_all;
  const uint64_t st = a.sample_type;
  int off = 8;
  if (st & abi::kIdentifier) off += 8;
  if (st & abi::kIp) { l.ip_off = off; off += 8; }
  if (st & abi::kTid) { l.tid_off = off; off += 8; }
  if (st & abi::kTime) { l.time_off = off; off += 8; }
  if (st & abi::kAddr) off += 8;
  if (st & abi::kId) off += 8;
  if (st & abi::kStreamId) off += 8;
  if (st & abi::kCpu) { l.cpu_off = off; off += 8; }
  if (st & abi::kPeriod) { l.period_off = off; off += 8; }
  if (st & (abi::kRead | abi::kCallchain)) l.fixed_until_raw = false;
  if (l.fixed_until_raw && (st & abi::kRaw)) l.raw_off = off;
  if (a.sample_id_all && (st & abi::kTime)) {
    int n = 1;  // the time itself
    if (st & abi::kIdentifier) n++;
    if (st & abi::kCpu) n++;
    if (st & abi::kStreamId) n++;
    if (st & abi::kId) n++;
    l.trailer_time_from_end = n;
  }
  if (l.fixed_until_raw) {
    int need = 8;
    for (int o : {l.ip_off, l.tid_off, l.time_off, l.cpu_off, l.period_off})
      if (o >= 0) need = std::max(need, o + 8);
    if (l.raw_off >= 0) need = std::max(need, l.raw_off + 4);
    l.fast_need = static_cast<uint32_t>(need);
  }
  return l;
}

// Reads a little-endian value at rec+off (caller checked bounds).
template <class T>
inline T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

struct Run {
  uint64_t cursor;   // next record to deliver
  uint64_t end;      // one past the run's last record
  uint64_t time;     // time of the record at cursor
};

class Reader : public PerfDataReader {
 public:
  Reader(std::string name, const uint8_t* data, uint64_t size, void* mapping, uint64_t mapping_size,
         std::vector<uint8_t> owned)
      : name_(std::move(name)), data_(data), size_(size), mapping_(mapping),
        mapping_size_(mapping_size), owned_(std::move(owned)) {}

  ~Reader() override {
    if (!mapping_) return;
    // Unmapping a large file takes a while (page tables of every mapped
    // page): let a short-lived thread do it, so the report goes on.
    if (mapping_size_ >= (64u << 20)) {
      try {
        std::thread([m = mapping_, n = mapping_size_] { ::munmap(m, n); }).detach();
        return;
      } catch (const std::system_error&) {
      }
    }
    ::munmap(mapping_, mapping_size_);
  }

  void init() {
    parse_file_header(data_, size_, &info_);
    if (info_.pipe) {
      data_begin_ = abi::kPipeHeaderSize;
      data_end_ = size_;
      scan_pipe_headers();
    } else {
      data_begin_ = info_.data_offset;
      data_end_ = info_.data_offset + info_.data_size;
    }
    build_layouts();
  }

  const PerfFileInfo& info() const override { return info_; }

  ReadStats run(RecordSink& sink, const std::function<void(uint64_t, uint64_t)>& progress) override {
    sink_ = &sink;
    stats_ = ReadStats{};
    runs_.clear();
    flushing_ = false;
    next_flush_ = 0;
    max_time_ = 0;
    next_progress_ = data_begin_ + (16u << 20);
    uint64_t pos = data_begin_;
    populated_ = 0;
    // A large mapping gets its pages mapped by a thread of its own.
    populator_.reset();
    if (mapping_ && mapping_size_ >= kOwnPopulatorFrom) {
      populator_ = std::make_unique<PagePopulator>(data_, mapping_size_, kPopulateAhead);
      if (!populator_->started()) populator_.reset();
    }
    populate_ahead(pos);
    next_check_ = std::min(next_progress_, next_populate_);
    try {
      while (pos < data_end_) {
        if (data_end_ - pos < 8)
          throw ParseError("truncated record header: " + std::to_string(data_end_ - pos) + " bytes left", pos);
        const uint8_t* rec = data_ + pos;
        // Each record's size says where the next one starts, so the scan
        // waits on every load that misses; the hardware prefetcher stops at
        // page boundaries. Ask for the data a little ahead (never faults).
        __builtin_prefetch(rec + kScanPrefetch);
        uint32_t type = load<uint32_t>(rec);
        uint16_t rsize = load<uint16_t>(rec + 6);
        if (rsize < 8) throw ParseError("record of type " + std::to_string(type) + " has size " + std::to_string(rsize) + " (< 8)", pos);
        if (rsize > data_end_ - pos)
          throw ParseError("truncated record: header says " + std::to_string(rsize) + " bytes but only " +
                               std::to_string(data_end_ - pos) + " remain",
                           pos);
        stats_.records++;
        if (type == abi::kRecordSample && common_time_off_ >= 0 &&
            rsize >= static_cast<uint32_t>(common_time_off_) + 8) {
          // The usual record: a sample of a known id with a time, in bounds.
          if (sample_attr(rec, rsize) >= 0) {
            const uint64_t t = load<uint64_t>(rec + common_time_off_);
            if (t != kNoTime) {
              append_to_run(pos, t);
              pos += rsize;
              if (pos >= next_check_) periodic(pos, progress);
              continue;
            }
          }
        }
        uint64_t advance = rsize;
        if (type == abi::kFinishedRound) {
          stats_.finished_rounds++;
          close_run();
          flush(next_flush_);
          next_flush_ = max_time_;
        } else if (type == abi::kHeaderTracingData && info_.pipe) {
          if (rsize < 12) throw ParseError("short HEADER_TRACING_DATA record", pos);
          uint64_t len = load<uint32_t>(rec + 8);
          advance += (len + 7) & ~7ull;
          close_run();
        } else if (type >= abi::kUserTypeStart) {
          close_run();  // other user records: not ordered, nothing to deliver
        } else {
          uint64_t t = record_time(rec, rsize, type, pos);
          if (t == kNoTime) {
            close_run();
            deliver(pos);  // perf delivers untimed records at once
          } else {
            append_to_run(pos, t);
          }
        }
        if (advance > data_end_ - pos) throw ParseError("record data runs past the end of the file", pos);
        pos += advance;
        if (pos >= next_check_) periodic(pos, progress);
      }
    } catch (const ParseError&) {
      // Keep what was read: deliver every queued record, then report. A
      // record that failed while being delivered ends the delivery there
      // (the queue then holds records already delivered, never twice).
      stats_.bytes = pos - data_begin_;
      if (!flushing_) {
        close_run();
        try {
          flush(kNoTime);
        } catch (const ParseError&) {
          // a queued record is damaged too: report the first damage
        }
      }
      throw;
    }
    close_run();
    flush(kNoTime);
    populator_.reset();
    stats_.bytes = data_end_ - data_begin_;
    progress(stats_.bytes, stats_.bytes);
    return stats_;
  }

 private:
  // Maps the page-cache pages ahead of the scan a few MB at a time: one
  // madvise instead of a page fault every few pages. Only a hint: kernels
  // before 5.14 refuse it and the pages fault in as before.
  void populate_ahead(uint64_t pos) {
    constexpr uint64_t kStep = 16u << 20;
    next_populate_ = ~0ULL;
    if (populator_) {
      populator_->advance(pos);
      next_populate_ = pos + (4u << 20);
      return;
    }
    if (!mapping_ || populate_failed_) return;
    if (populated_ < pos) populated_ = pos & ~uint64_t{4095};
    const uint64_t to = std::min<uint64_t>(mapping_size_, populated_ + kStep);
    if (to > populated_) {
      if (::madvise(static_cast<uint8_t*>(mapping_) + populated_, to - populated_, MADV_POPULATE_READ) != 0) {
        populate_failed_ = true;
        return;
      }
      populated_ = to;
    }
    if (populated_ < mapping_size_) next_populate_ = populated_ - std::min<uint64_t>(populated_, kStep / 2);
  }

  // Every few MB: progress, and the next pages mapped.
  void periodic(uint64_t pos, const std::function<void(uint64_t, uint64_t)>& progress) {
    if (pos >= next_populate_) populate_ahead(pos);
    if (pos >= next_progress_) {
      progress(pos - data_begin_, data_end_ - data_begin_);
      next_progress_ = pos + (16u << 20);
    }
    next_check_ = std::min(next_progress_, next_populate_);
  }

  // --- setup ---------------------------------------------------------

  void scan_pipe_headers() {
    // Attrs, tracing data and features come as records before the samples.
    uint64_t pos = data_begin_;
    while (pos + 8 <= data_end_) {
      const uint8_t* rec = data_ + pos;
      uint32_t type = load<uint32_t>(rec);
      uint16_t rsize = load<uint16_t>(rec + 6);
      if (rsize < 8 || rsize > data_end_ - pos) break;  // run() reports it
      uint64_t advance = rsize;
      if (type == abi::kHeaderAttr) {
        uint64_t attr_size = rsize - 8;
        EventAttr a = parse_attr(data_, pos + 8, std::min<uint64_t>(attr_size, abi::kMinAttrSize), pos + rsize);
        uint32_t declared = load<uint32_t>(rec + 8 + 4);
        uint64_t ids_at = pos + 8 + (declared ? declared : abi::kMinAttrSize);
        for (uint64_t p = ids_at; p + 8 <= pos + rsize; p += 8) a.ids.push_back(load<uint64_t>(data_ + p));
        info_.attrs.push_back(std::move(a));
      } else if (type == abi::kHeaderTracingData) {
        if (rsize < 12) break;
        uint64_t len = load<uint32_t>(rec + 8);
        if (pos + rsize + len > data_end_) throw ParseError("HEADER_TRACING_DATA runs past the end of the input", pos);
        info_.tracing_data.assign(data_ + pos + rsize, data_ + pos + rsize + len);
        info_.tracing_data_offset = pos + rsize;
        advance += (len + 7) & ~7ull;
      } else if (type == abi::kHeaderBuildId) {
        parse_build_ids(data_, pos, rsize, &info_);
      } else if (type == abi::kHeaderFeature) {
        if (rsize >= 16) parse_feature(static_cast<int>(load<uint64_t>(rec + 8)), data_, pos + 16, rsize - 16, &info_);
      }
      pos += advance;
    }
    if (info_.attrs.empty()) throw ParseError("pipe-format input has no HEADER_ATTR records", data_begin_);
  }

  void build_layouts() {
    layouts_.clear();
    for (const EventAttr& a : info_.attrs) layouts_.push_back(make_layout(a));
    for (uint32_t i = 0; i < info_.attrs.size(); i++)
      for (uint64_t id : info_.attrs[i].ids) ids_.emplace_back(id, i);
    // Where a sample's id is: IDENTIFIER right after the header, else ID
    // after the fixed fields (perf requires all attrs to agree).
    const uint64_t st = info_.attrs[0].sample_type;
    if (st & abi::kIdentifier) {
      id_off_ = 8;
      trailer_id_from_end_ = 1;
    } else if (st & abi::kId) {
      int off = 8;
      if (st & abi::kIp) off += 8;
      if (st & abi::kTid) off += 8;
      if (st & abi::kTime) off += 8;
      if (st & abi::kAddr) off += 8;
      id_off_ = off;
      int n = 1;
      if (st & abi::kCpu) n++;
      if (st & abi::kStreamId) n++;
      trailer_id_from_end_ = n;
    }
    // Ids are handed out by the kernel in sequence: a direct table when
    // they span a small range (first occurrence wins, as the scan did).
    id_table_.clear();
    if (!ids_.empty()) {
      uint64_t lo = ids_[0].first, hi = ids_[0].first;
      for (const auto& e : ids_) {
        lo = std::min(lo, e.first);
        hi = std::max(hi, e.first);
      }
      if (hi - lo < (1u << 16)) {
        id_min_ = lo;
        id_table_.assign(hi - lo + 1, -1);
        for (const auto& e : ids_)
          if (id_table_[e.first - lo] < 0) id_table_[e.first - lo] = static_cast<int32_t>(e.second);
      }
    }
    // A sample's time sits at the same offset for every attr when the
    // fields before it agree (they do in perf's files, even for the dummy
    // event, which lacks PERIOD): then the scan needs no layout per record.
    common_time_off_ = layouts_.empty() ? -1 : layouts_[0].time_off;
    for (const SampleLayout& l : layouts_)
      if (l.time_off != common_time_off_) common_time_off_ = -1;
  }

  // --- per record ----------------------------------------------------

  // Attr index for a record, or -1.
  int attr_of(const uint8_t* rec, uint16_t rsize, bool is_sample) const {
    if (info_.attrs.size() == 1) return 0;
    uint64_t id;
    if (is_sample) {
      if (id_off_ < 0 || static_cast<uint64_t>(id_off_) + 8 > rsize) return -1;
      id = load<uint64_t>(rec + id_off_);
    } else {
      if (trailer_id_from_end_ < 0 || static_cast<uint64_t>(trailer_id_from_end_) * 8 + 8 > rsize) return -1;
      id = load<uint64_t>(rec + rsize - 8 * trailer_id_from_end_);
    }
    return attr_of_id(id);
  }

  int attr_of_id(uint64_t id) const {
    if (!id_table_.empty()) {
      const uint64_t d = id - id_min_;
      return d < id_table_.size() ? id_table_[d] : -1;
    }
    if (id == last_id_) return last_attr_;
    // Few ids (one per event and CPU): a linear scan beats hashing.
    for (const auto& e : ids_) {
      if (e.first == id) {
        last_id_ = id;
        last_attr_ = static_cast<int>(e.second);
        return last_attr_;
      }
    }
    return -1;
  }

  // A sample's attr (its id is where attrs[0]'s layout puts it), or -1.
  int sample_attr(const uint8_t* rec, uint16_t rsize) const {
    if (info_.attrs.size() == 1) return 0;
    if (id_off_ < 0 || static_cast<uint64_t>(id_off_) + 8 > rsize) return -1;
    return attr_of_id(load<uint64_t>(rec + id_off_));
  }

  uint64_t record_time(const uint8_t* rec, uint16_t rsize, uint32_t type, uint64_t pos) {
    if (type == abi::kRecordSample && common_time_off_ >= 0) {
      const int time_off = common_time_off_;
      if (sample_attr(rec, rsize) < 0) return kNoTime;
      if (static_cast<uint64_t>(time_off) + 8 > rsize) throw short_sample(time_off + 8, rsize, pos);
      return load<uint64_t>(rec + time_off);
    }
    const bool is_sample = type == abi::kRecordSample;
    int a = attr_of(rec, rsize, is_sample);
    if (a < 0) return kNoTime;
    const SampleLayout& l = layouts_[a];
    uint64_t t;
    if (is_sample) {
      if (l.time_off < 0) return kNoTime;
      if (static_cast<uint64_t>(l.time_off) + 8 > rsize)
        throw ParseError("sample shorter than its sample_type: needs " + std::to_string(l.time_off + 8) +
                             " bytes, has " + std::to_string(rsize),
                         pos);
      t = load<uint64_t>(rec + l.time_off);
    } else {
      if (l.trailer_time_from_end < 0 || static_cast<uint64_t>(l.trailer_time_from_end) * 8 + 8 > rsize) return kNoTime;
      t = load<uint64_t>(rec + rsize - 8 * l.trailer_time_from_end);
    }
    return t;  // perf treats -1 as "no timestamp" too
  }

  // --- ordering ------------------------------------------------------

  __attribute__((always_inline)) void append_to_run(uint64_t pos, uint64_t t) {
    if (t > max_time_) max_time_ = t;
    if (open_ && t >= open_last_time_) {
      open_last_time_ = t;
      open_end_ = pos;
      return;
    }
    close_run();
    open_ = true;
    open_run_ = Run{pos, pos, t};
    open_last_time_ = t;
    open_end_ = pos;
  }

  void close_run() {
    if (!open_) return;
    const uint8_t* last = data_ + open_end_;
    open_run_.end = open_end_ + load<uint16_t>(last + 6);
    runs_.push_back(open_run_);
    open_ = false;
  }

  // Next timestamped record in [pos, end), or end. Every record of a run
  // had a time when the scan put it there (untimed and user records close
  // runs), so a sample's time is simply read at its offset.
  uint64_t next_in_run(uint64_t pos, uint64_t end, uint64_t* time) {
    while (pos < end) {
      const uint8_t* rec = data_ + pos;
      uint32_t type = load<uint32_t>(rec);
      if (type == abi::kRecordSample && common_time_off_ >= 0) {
        *time = load<uint64_t>(rec + common_time_off_);
        return pos;
      }
      uint16_t rsize = load<uint16_t>(rec + 6);
      if (type < abi::kUserTypeStart) {
        uint64_t t = record_time(rec, rsize, type, pos);
        if (t != kNoTime) {
          *time = t;
          return pos;
        }
      }
      pos += rsize;
    }
    return end;
  }

  static bool later(const Run& a, const Run& b) {
    return a.time != b.time ? a.time > b.time : a.cursor > b.cursor;
  }

  // Delivers queued records with time <= limit in (time, offset) order: a
  // k-way merge of the runs. Runs wait, sorted by their next record, until
  // they can come first; so only the runs that overlap in time (a few CPUs'
  // batches) are merged at once, even when a file without FINISHED_ROUND
  // leaves every run of the file queued for one final flush.
  //
  // Up to kMaxActive overlapping runs are merged by scanning their heads
  // (kept in file order, so the first smallest time is also the smallest
  // offset): no branch depends on which run comes next, where a heap
  // mispredicts at nearly every record. More overlapping runs go to a heap.
  static constexpr size_t kMaxActive = 16;

  void flush(uint64_t limit) {
    if (runs_.empty()) return;
    flushing_ = true;  // stays set if a delivery throws
    std::sort(runs_.begin(), runs_.end(), [](const Run& a, const Run& b) { return later(b, a); });
    uint64_t act_time[kMaxActive], act_cursor[kMaxActive], act_end[kMaxActive];
    size_t n_act = 0, waiting = 0;
    bool overflow = false;
    const size_t n_runs = runs_.size();
    for (;;) {
      size_t best = 0;
      uint64_t best_time = ~0ULL;
      for (size_t i = 0; i < n_act; i++) {
        const bool less = act_time[i] < best_time;
        best_time = less ? act_time[i] : best_time;
        best = less ? i : best;
      }
      if (waiting < n_runs) {
        const Run& w = runs_[waiting];
        if (n_act == 0 || w.time < best_time || (w.time == best_time && w.cursor < act_cursor[best])) {
          if (n_act == kMaxActive) {  // too many overlap: the heap takes over
            overflow = true;
            break;
          }
          // Activate it, in file order among the active runs.
          size_t at = n_act;
          while (at > 0 && act_cursor[at - 1] > w.cursor) {
            act_time[at] = act_time[at - 1];
            act_cursor[at] = act_cursor[at - 1];
            act_end[at] = act_end[at - 1];
            at--;
          }
          act_time[at] = w.time;
          act_cursor[at] = w.cursor;
          act_end[at] = w.end;
          n_act++;
          waiting++;
          continue;
        }
      }
      if (n_act == 0 || best_time > limit) break;
      const uint64_t cursor = act_cursor[best];
      deliver(cursor);
      const uint64_t after = cursor + load<uint16_t>(data_ + cursor + 6);
      uint64_t t = 0;
      const uint64_t next = next_in_run(after, act_end[best], &t);
      // This run's records after the next one: by the time it comes first
      // again the other runs have had their turns, so ask for them now.
      __builtin_prefetch(data_ + next + 128);
      __builtin_prefetch(data_ + next + 192);
      if (next < act_end[best]) {
        act_cursor[best] = next;
        act_time[best] = t;
      } else {  // run done
        for (size_t i = best + 1; i < n_act; i++) {
          act_time[i - 1] = act_time[i];
          act_cursor[i - 1] = act_cursor[i];
          act_end[i - 1] = act_end[i];
        }
        n_act--;
      }
    }
    // What is left (runs not done, and those still waiting) stays queued.
    heap_.clear();
    for (size_t i = 0; i < n_act; i++) heap_.push_back(Run{act_cursor[i], act_end[i], act_time[i]});
    heap_.insert(heap_.end(), runs_.begin() + static_cast<std::ptrdiff_t>(waiting), runs_.end());
    runs_.swap(heap_);
    if (overflow) flush_with_heap(limit);
    flushing_ = false;
  }

  void flush_with_heap(uint64_t limit) {
    if (runs_.empty()) return;
    std::sort(runs_.begin(), runs_.end(), [](const Run& a, const Run& b) { return later(b, a); });
    heap_.clear();
    size_t waiting = 0;  // runs_[waiting..] are not in the heap yet
    for (;;) {
      while (waiting < runs_.size() && (heap_.empty() || later(heap_.front(), runs_[waiting]))) {
        heap_.push_back(runs_[waiting++]);
        std::push_heap(heap_.begin(), heap_.end(), later);
      }
      if (heap_.empty() || heap_.front().time > limit) break;
      std::pop_heap(heap_.begin(), heap_.end(), later);
      Run r = heap_.back();
      heap_.pop_back();
      // Stay on this run while it still comes first: one heap operation per
      // batch of a CPU instead of one per record.
      const Run* next = heap_.empty() ? nullptr : &heap_.front();
      const Run* queued = waiting < runs_.size() ? &runs_[waiting] : nullptr;
      for (;;) {
        deliver(r.cursor);
        uint64_t after = r.cursor + load<uint16_t>(data_ + r.cursor + 6);
        r.cursor = next_in_run(after, r.end, &r.time);
        if (r.cursor >= r.end || r.time > limit) break;
        if (next && !later(*next, r)) break;
        if (queued && !later(*queued, r)) break;
      }
      if (r.cursor < r.end) {
        heap_.push_back(r);
        std::push_heap(heap_.begin(), heap_.end(), later);
      }
    }
    heap_.insert(heap_.end(), runs_.begin() + static_cast<std::ptrdiff_t>(waiting), runs_.end());
    runs_.swap(heap_);
  }

  __attribute__((always_inline)) void deliver(uint64_t pos) {
    const uint8_t* rec = data_ + pos;
    uint32_t type = load<uint32_t>(rec);
    uint16_t rsize = load<uint16_t>(rec + 6);
    if (type == abi::kRecordSample) {
      deliver_sample(rec, rsize, pos);
    } else if (type == abi::kRecordLost && rsize >= 24) {
      uint64_t lost = load<uint64_t>(rec + 16);
      stats_.lost += lost;
      sink_->on_lost(lost, trailer_cpu(rec, rsize));
    } else if (type == abi::kRecordLostSamples && rsize >= 16) {
      uint64_t lost = load<uint64_t>(rec + 8);
      stats_.lost += lost;
      sink_->on_lost_samples(lost, trailer_cpu(rec, rsize));
    } else if (type < abi::kUserTypeStart && type != abi::kRecordLost && type != abi::kRecordLostSamples) {
      SideBandRecord r;
      r.type = type;
      r.misc = load<uint16_t>(rec + 4);
      r.size = rsize;
      uint64_t t = record_time(rec, rsize, type, pos);
      r.time = t == kNoTime ? 0 : t;
      r.record = rec;
      r.file_offset = pos;
      sink_->on_side_band(r);
    }
  }

  uint32_t trailer_cpu(const uint8_t* rec, uint16_t rsize) const {
    int a = attr_of(rec, rsize, false);
    if (a < 0) return 0;
    const uint64_t st = layouts_[a].sample_type;
    if (!layouts_[a].sample_id_all || !(st & abi::kCpu)) return 0;
    int from_end = 1 + ((st & abi::kIdentifier) ? 1 : 0);
    if (static_cast<uint64_t>(from_end) * 8 + 8 > rsize) return 0;
    return load<uint32_t>(rec + rsize - 8 * from_end);
  }

  void deliver_sample(const uint8_t* rec, uint16_t rsize, uint64_t pos) {
    const int a = attr_of(rec, rsize, true);
    if (a < 0) return;  // a sample of an unknown id: perf skips it too
    const SampleLayout& l = layouts_[a];
    if (rsize >= l.fast_need) {
      // Every fixed field is in bounds: read them at the precomputed offsets.
      Sample s;
      s.attr = &info_.attrs[a];
      s.file_offset = pos;
      s.misc = load<uint16_t>(rec + 4);
      if (l.tid_off >= 0) {
        s.pid = load<int32_t>(rec + l.tid_off);
        s.tid = load<int32_t>(rec + l.tid_off + 4);
      }
      if (l.ip_off >= 0) s.ip = load<uint64_t>(rec + l.ip_off);
      if (l.time_off >= 0) s.time = load<uint64_t>(rec + l.time_off);
      if (l.cpu_off >= 0) s.cpu = load<uint32_t>(rec + l.cpu_off);
      if (l.period_off >= 0) s.period = load<uint64_t>(rec + l.period_off);
      if (l.raw_off >= 0) {
        const uint32_t raw_size = load<uint32_t>(rec + l.raw_off);
        if (static_cast<uint64_t>(l.raw_off) + 4 + raw_size > rsize)
          throw short_sample(static_cast<uint64_t>(l.raw_off) + 4 + raw_size, rsize, pos);
        s.raw = rec + l.raw_off + 4;
        s.raw_size = raw_size;
      }
      stats_.samples++;
      sink_->on_sample(s);
      return;
    }
    Sample s;
    s.attr = &info_.attrs[a];
    s.file_offset = pos;
    if (l.tid_off >= 0) {
      if (static_cast<uint64_t>(l.tid_off) + 8 > rsize) throw short_sample(l.tid_off + 8, rsize, pos);
      s.pid = load<int32_t>(rec + l.tid_off);
      s.tid = load<int32_t>(rec + l.tid_off + 4);
    }
    s.misc = load<uint16_t>(rec + 4);
    if (l.ip_off >= 0 && static_cast<uint64_t>(l.ip_off) + 8 <= rsize) s.ip = load<uint64_t>(rec + l.ip_off);
    if (l.time_off >= 0) s.time = load<uint64_t>(rec + l.time_off);
    if (l.cpu_off >= 0) {
      if (static_cast<uint64_t>(l.cpu_off) + 8 > rsize) throw short_sample(l.cpu_off + 8, rsize, pos);
      s.cpu = load<uint32_t>(rec + l.cpu_off);
    }
    if (l.period_off >= 0 && static_cast<uint64_t>(l.period_off) + 8 <= rsize)
      s.period = load<uint64_t>(rec + l.period_off);
    if (l.sample_type & abi::kCallchain) {
      uint64_t nr = 0;
      const uint64_t at = variable_raw_offset(rec, rsize, l, pos, abi::kCallchain, &nr);
      s.callchain = rec + at;
      s.callchain_nr = static_cast<uint32_t>(nr);
    }
    if (l.sample_type & abi::kRaw) {
      uint64_t raw_at = l.fixed_until_raw ? static_cast<uint64_t>(l.raw_off) : variable_raw_offset(rec, rsize, l, pos);
      if (raw_at + 4 > rsize) throw short_sample(raw_at + 4, rsize, pos);
      uint32_t raw_size = load<uint32_t>(rec + raw_at);
      if (raw_at + 4 + raw_size > rsize) throw short_sample(raw_at + 4 + raw_size, rsize, pos);
      s.raw = rec + raw_at + 4;
      s.raw_size = raw_size;
    }
    stats_.samples++;
    sink_->on_sample(s);
  }

  // RAW's offset when READ or CALLCHAIN (variable size) come before it;
  // with stop_at = kCallchain, the offset of the callchain's first entry
  // (its length in *nr, checked against the record).
  uint64_t variable_raw_offset(const uint8_t* rec, uint16_t rsize, const SampleLayout& l, uint64_t pos,
                               uint64_t stop_at = 0, uint64_t* nr_out = nullptr) const {
    ByteCursor c(data_, pos + 8, pos + rsize, "sample");
    const uint64_t st = l.sample_type;
    for (uint64_t bit : {abi::kIdentifier, abi::kIp, abi::kTid, abi::kTime, abi::kAddr, abi::kId,
                         abi::kStreamId, abi::kCpu, abi::kPeriod})
      if (st & bit) c.skip(8);
    if (st & abi::kRead) {
      const uint64_t rf = l.read_format;
      const int per_value = 1 + ((rf & abi::kFmtId) ? 1 : 0) + ((rf & abi::kFmtLost) ? 1 : 0);
      if (rf & abi::kFmtGroup) {
        uint64_t nr = c.read<uint64_t>();
        if (rf & abi::kFmtTotalTimeEnabled) c.skip(8);
        if (rf & abi::kFmtTotalTimeRunning) c.skip(8);
        if (nr > c.remaining() / 8) throw ParseError("sample read group count " + std::to_string(nr) + " is impossible", pos);
        c.skip(nr * 8 * per_value);
      } else {
        c.skip(8 * (per_value + ((rf & abi::kFmtTotalTimeEnabled) ? 1 : 0) +
                    ((rf & abi::kFmtTotalTimeRunning) ? 1 : 0)));
      }
    }
    if (st & abi::kCallchain) {
      uint64_t nr = c.read<uint64_t>();
      if (nr > c.remaining() / 8) throw ParseError("sample callchain length " + std::to_string(nr) + " is impossible", pos);
      if (stop_at == abi::kCallchain) {
        *nr_out = nr;
        return c.pos() - pos;
      }
      c.skip(nr * 8);
    }
    (void)rec;
    return c.pos() - pos;
  }

  static ParseError short_sample(uint64_t need, uint16_t have, uint64_t pos) {
    return ParseError("sample shorter than its sample_type: needs " + std::to_string(need) + " bytes, has " +
                          std::to_string(have),
                      pos);
  }

  std::string name_;
  const uint8_t* data_;
  uint64_t size_;
  void* mapping_;
  uint64_t mapping_size_;
  std::vector<uint8_t> owned_;
  PerfFileInfo info_;
  uint64_t data_begin_ = 0, data_end_ = 0;
  std::vector<SampleLayout> layouts_;
  std::vector<std::pair<uint64_t, uint32_t>> ids_;
  int id_off_ = -1, trailer_id_from_end_ = -1;
  std::vector<int32_t> id_table_;  // attr index by id - id_min_, -1 for none
  uint64_t id_min_ = 0;
  int common_time_off_ = -1;       // a sample's time offset if the same for every attr
  mutable uint64_t last_id_ = ~0ULL;
  mutable int last_attr_ = -1;

  static constexpr uint64_t kOwnPopulatorFrom = 64u << 20, kPopulateAhead = 32u << 20;
  std::unique_ptr<PagePopulator> populator_;  // during run(), for large mappings
  uint64_t populated_ = 0, next_populate_ = ~0ULL;
  uint64_t next_progress_ = 0, next_check_ = 0;
  bool populate_failed_ = false;

  RecordSink* sink_ = nullptr;
  ReadStats stats_;
  std::vector<Run> runs_, heap_;
  bool open_ = false;
  Run open_run_{};
  uint64_t open_last_time_ = 0, open_end_ = 0;
  uint64_t next_flush_ = 0, max_time_ = 0;
  bool flushing_ = false;  // a flush is delivering (a ParseError there ends the run)
};

std::vector<uint8_t> read_all(int fd, const std::string& name) {
  std::vector<uint8_t> buf;
  uint8_t chunk[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw ParseError("cannot read " + name + ": " + std::strerror(errno));
    }
    if (n == 0) break;
    buf.insert(buf.end(), chunk, chunk + n);
  }
  return buf;
}

}  // namespace

std::unique_ptr<PerfDataReader> PerfDataReader::open(const std::string& path) {
  if (path == "-") {
    std::vector<uint8_t> all = read_all(0, "standard input");
    return open_memory(all.data(), all.size());
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) throw ParseError("no such file");
    if (err == EACCES) throw ParseError("permission denied: run as root or make the file readable");
    throw ParseError(std::string("cannot open: ") + std::strerror(err));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    throw ParseError(std::string("cannot stat: ") + std::strerror(err));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw ParseError("is a directory, not a perf.data file");
  }
  if (!S_ISREG(st.st_mode)) {  // a FIFO or character device: pipe format
    std::vector<uint8_t> all = read_all(fd, path);
    ::close(fd);
    return open_memory(all.data(), all.size());
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size == 0) {
    ::close(fd);
    throw ParseError("not a perf.data file (empty)", 0);
  }
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  int err = errno;
  ::close(fd);
  if (map == MAP_FAILED) throw ParseError(std::string("cannot map the file: ") + std::strerror(err));
  ::madvise(map, size, MADV_SEQUENTIAL);
  auto reader = std::make_unique<Reader>(path, static_cast<const uint8_t*>(map), size, map, size,
                                         std::vector<uint8_t>());
  reader->init();
  return reader;
}

std::unique_ptr<PerfDataReader> PerfDataReader::open_memory(const uint8_t* data, size_t size) {
  std::vector<uint8_t> copy(data, data + size);
  const uint8_t* base = copy.data();
  auto reader = std::make_unique<Reader>("memory", base, size, nullptr, 0, std::move(copy));
  reader->init();
  return reader;
}

}  // namespace kvmlens
