// Per-CPU perf ring buffers and the native thread that drains them, shared
// by LiveSource (tracepoints) and SamplingSource (profiles): mmap and
// PERF_EVENT_IOC_SET_OUTPUT, epoll with watermark wakeups, reading each
// ring from tail to head (records that wrap around the end copied out
// whole), LOST counting, and perf's round rule: records staged per CPU are
// merged across CPUs in time order and delivered once per pass.
//
// What differs between the sources, the sample layout, stays with them: a
// Layout given to start() says which records are staged and at what time,
// and delivers a staged record:
//
//   // Whether to stage `rec` for time-ordered delivery; its time in *time.
//   bool stage_time(const perf_event_header& h, const uint8_t* rec, uint64_t* time) const;
//   // The time of a staged record (the same as stage_time gave).
//   uint64_t staged_time(const uint8_t* rec) const;
//   // Delivers a staged record (sink mutex held); whether it was a sample.
//   bool deliver(const uint8_t* rec, RecordSink& sink) const;
//
// A LOST record that is not staged is reported to the sink when read.
#pragma once
#include <linux/perf_event.h>
#include <sys/epoll.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "core/sample.h"

namespace kvmlens {

class RawRecordSink {
 public:
  virtual ~RawRecordSink() = default;
  virtual void on_record(const uint8_t* record, uint32_t size) = 0;
  virtual void on_pass_end() = 0;  // every ring buffer drained once: FINISHED_ROUND
};

class PerCpuRings {
 public:
  PerCpuRings();   // epoll and the stop eventfd; throws SetupError
  ~PerCpuRings();  // stop(), then unmaps and closes every event
  PerCpuRings(const PerCpuRings&) = delete;
  PerCpuRings& operator=(const PerCpuRings&) = delete;

  // A ring for `cpu`; add_event attaches events to the latest one.
  void add_cpu(int cpu);
  // Takes `fd` (closed with the rings). The CPU's first event maps the ring
  // (mmap_pages + 1 pages) and is watched; later ones are redirected into it.
  void add_event(int fd, uint64_t mmap_pages);
  size_t events() const { return fds_.size(); }
  void enable_events();

  // Starts draining on a thread. `sink` is fed with `*sink_mutex` held,
  // once per pass, not per record; either sink may be null.
  template <class Layout>
  void start(const Layout* layout, RecordSink* sink, std::mutex* sink_mutex, RawRecordSink* raw) {
    sink_ = sink;
    sink_mutex_ = sink_mutex;
    raw_ = raw;
    running_ = true;
    thread_ = std::thread([this, layout] { drain_loop(*layout); });
  }
  // Disables the events, drains what is left, joins the thread. Idempotent.
  void stop();

  std::vector<uint64_t> lost_per_cpu() const;
  uint64_t samples() const { return samples_.load(); }
  uint64_t bytes() const { return bytes_.load(); }
  bool running() const { return running_.load(); }

 private:
  struct Ring {
    int cpu = 0;
    int leader_fd = -1;
    void* base = nullptr;          // perf_event_mmap_page + data
    size_t map_size = 0;
    std::vector<uint8_t> stage;    // drained, not yet delivered (time-ordered)
    size_t stage_pos = 0;
    std::atomic<uint64_t> lost{0};
  };

  template <class Layout> void drain_loop(const Layout& layout);
  template <class Layout> void drain_pass(const Layout& layout);
  template <class Layout> void drain_ring(Ring& b, const Layout& layout);
  template <class Layout> void flush_ordered(const Layout& layout, uint64_t limit);

  std::vector<Ring*> rings_;
  std::vector<int> fds_;
  uint64_t page_size_ = 4096;
  int epoll_fd_ = -1, stop_fd_ = -1;

  RecordSink* sink_ = nullptr;
  std::mutex* sink_mutex_ = nullptr;
  RawRecordSink* raw_ = nullptr;
  std::thread thread_;
  std::atomic<bool> running_{false}, stopping_{false};
  std::atomic<uint64_t> samples_{0}, bytes_{0};
  uint64_t prev_pass_max_ = 0, pass_max_ = 0;
  std::vector<uint8_t> scratch_;   // a record that wraps around the ring end
};

template <class Layout>
void PerCpuRings::drain_loop(const Layout& layout) {
  epoll_event events[64];
  for (;;) {
    int n = ::epoll_wait(epoll_fd_, events, 64, 100);
    bool stop_requested = false;
    for (int i = 0; i < n; i++)
      if (events[i].data.u64 == ~0ull) stop_requested = true;
    drain_pass(layout);
    if (stop_requested || stopping_.load()) break;
  }
  // Nothing collected is lost: one more pass, then deliver everything.
  drain_pass(layout);
  flush_ordered(layout, ~0ull);
  running_ = false;
}

template <class Layout>
void PerCpuRings::drain_pass(const Layout& layout) {
  // A round ends after every pass that read a record, staged or not: a
  // recorder without an analyzer stages nothing, yet its file needs
  // FINISHED_ROUND per pass or perf would queue the whole file in memory.
  const uint64_t bytes_before = bytes_.load(std::memory_order_relaxed);  // written by this thread only
  for (Ring* b : rings_) drain_ring(*b, layout);
  if (raw_ && bytes_.load(std::memory_order_relaxed) != bytes_before) raw_->on_pass_end();
  // perf's round rule: deliver what is older than the newest time seen
  // before the previous pass; later records cannot precede it.
  flush_ordered(layout, prev_pass_max_);
  prev_pass_max_ = pass_max_;
}

template <class Layout>
void PerCpuRings::drain_ring(Ring& b, const Layout& layout) {
  if (!b.base) return;
  auto* meta = static_cast<perf_event_mmap_page*>(b.base);
  const uint8_t* data = static_cast<const uint8_t*>(b.base) + page_size_;
  const uint64_t size = b.map_size - page_size_;
  // The data area is a power of two of pages: a mask, not a division per record.
  const uint64_t mask = size - 1;
  uint64_t head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
  uint64_t tail = meta->data_tail;
  uint64_t drained_bytes = 0;  // one atomic add per pass, not per record
  while (tail < head) {
    const uint8_t* rec = data + (tail & mask);
    perf_event_header h;
    if ((tail & mask) + sizeof h <= size) {
      std::memcpy(&h, rec, sizeof h);
    } else {
      for (size_t i = 0; i < sizeof h; i++) reinterpret_cast<uint8_t*>(&h)[i] = data[(tail + i) & mask];
    }
    if (h.size < sizeof h) break;  // corrupt: stop reading this buffer
    if ((tail & mask) + h.size > size) {
      // The record wraps around the end of the ring: copy it out whole.
      scratch_.resize(h.size);
      for (size_t i = 0; i < h.size; i++) scratch_[i] = data[(tail + i) & mask];
      rec = scratch_.data();
    }
    drained_bytes += h.size;
    if (raw_) raw_->on_record(rec, h.size);
    uint64_t t = 0;
    const bool staged = layout.stage_time(h, rec, &t);
    if (h.type == PERF_RECORD_LOST && h.size >= 24) {
      uint64_t lost;
      std::memcpy(&lost, rec + 16, 8);
      b.lost += lost;
      if (!staged && sink_) {
        std::lock_guard<std::mutex> hold(*sink_mutex_);
        sink_->on_lost(lost, static_cast<uint32_t>(b.cpu));
      }
    }
    if (staged) {
      if (t > pass_max_) pass_max_ = t;
      if (sink_) b.stage.insert(b.stage.end(), rec, rec + h.size);
    }
    tail += h.size;
  }
  __atomic_store_n(&meta->data_tail, tail, __ATOMIC_RELEASE);
  bytes_ += drained_bytes;
}

// k-way merge of the CPUs' staged records with time <= limit. Records of one
// CPU are already in time order.
template <class Layout>
void PerCpuRings::flush_ordered(const Layout& layout, uint64_t limit) {
  if (!sink_) return;
  std::unique_lock<std::mutex> hold(*sink_mutex_);
  uint64_t delivered = 0;  // added to samples_ once per flush
  for (;;) {
    Ring* best = nullptr;
    uint64_t best_time = 0;
    for (Ring* b : rings_) {
      if (b->stage_pos >= b->stage.size()) continue;
      uint64_t t = layout.staged_time(b->stage.data() + b->stage_pos);
      if (t > limit) continue;
      if (!best || t < best_time) {
        best = b;
        best_time = t;
      }
    }
    if (!best) break;
    const uint8_t* rec = best->stage.data() + best->stage_pos;
    uint16_t size;
    std::memcpy(&size, rec + 6, 2);
    if (layout.deliver(rec, *sink_)) delivered++;
    best->stage_pos += size;
  }
  samples_ += delivered;
  for (Ring* b : rings_) {
    b->stage.erase(b->stage.begin(), b->stage.begin() + static_cast<std::ptrdiff_t>(b->stage_pos));
    b->stage_pos = 0;
  }
}

}  // namespace kvmlens
