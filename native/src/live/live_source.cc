#include "live/live_source.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "core/errors.h"
#include "live/host_info.h"

namespace kvmlens {

namespace {

constexpr uint64_t kSampleType = PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU |
                                 PERF_SAMPLE_PERIOD | PERF_SAMPLE_RAW | PERF_SAMPLE_IDENTIFIER;
// Offsets in a sample of kSampleType (after the 8-byte header).
constexpr size_t kOffId = 8, kOffTid = 24, kOffTime = 32, kOffCpu = 40, kOffRaw = 56;

std::string read_first_line(const std::string& path) {
  std::ifstream f(path);
  std::string s;
  std::getline(f, s);
  return s;
}

[[noreturn]] void open_failed(int err, const std::string& what, int cpu) {
  if (err == EACCES || err == EPERM) {
    std::string paranoid = read_first_line("/proc/sys/kernel/perf_event_paranoid");
    throw SetupError("perf_event_open(" + what + ") on CPU " + std::to_string(cpu) +
                     ": permission denied (kernel.perf_event_paranoid=" + paranoid +
                     "): run as root or grant CAP_PERFMON (and read access to tracefs)");
  }
  if (err == EMFILE || err == ENFILE)
    throw SetupError("too many open files: raise `ulimit -n` (kvmlens needs one descriptor per event and CPU)");
  if (err == ENOENT || err == EINVAL)
    throw SetupError("perf_event_open(" + what + "): the tracepoint is not available (" +
                     std::strerror(err) + "): is the kvm module loaded (`modprobe kvm_intel` or `modprobe kvm_amd`)?");
  throw SetupError("perf_event_open(" + what + ") on CPU " + std::to_string(cpu) + ": " + std::strerror(err));
}

}  // namespace

LiveSource::LiveSource(const LiveOptions& options, const std::string& tracefs_root) : pids_(options.pids) {
  page_size_ = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  // Tracepoint ids from tracefs.
  for (const std::string& tp : options.tracepoints) {
    size_t colon = tp.find(':');
    std::string id_path = tracefs_root + "/events/" + tp.substr(0, colon) + "/" + tp.substr(colon + 1) + "/id";
    std::string id = read_first_line(id_path);
    if (id.empty()) {
      if (tp.rfind("kvm:", 0) == 0)
        throw SetupError("no kvm tracepoints (" + id_path +
                         " is missing): load the kvm module (`modprobe kvm_intel` or `modprobe kvm_amd`)");
      throw SetupError("tracepoint " + tp + " not found (" + id_path + ")");
    }
    perf_event_attr a;
    std::memset(&a, 0, sizeof a);
    a.type = PERF_TYPE_TRACEPOINT;
    a.size = sizeof a;
    a.config = std::stoull(id);
    a.sample_period = 1;
    a.sample_type = kSampleType;
    a.disabled = 1;
    a.sample_id_all = 1;
    a.watermark = 1;
    a.wakeup_watermark = static_cast<uint32_t>(options.mmap_pages * page_size_ / 4);
    kernel_attrs_.push_back(a);
    EventAttr ea;
    ea.type = a.type;
    ea.config = a.config;
    ea.sample_type = a.sample_type;
    ea.sample_id_all = true;
    ea.name = tp;
    attrs_.push_back(ea);
  }
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (epoll_fd_ < 0 || stop_fd_ < 0) throw SetupError(std::string("epoll/eventfd: ") + std::strerror(errno));
  epoll_event sev{};
  sev.events = EPOLLIN;
  sev.data.u64 = ~0ull;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, stop_fd_, &sev);

  try {
    for (int cpu : online_cpus()) {
      auto* b = new CpuBuffer();
      b->cpu = cpu;
      cpus_.push_back(b);
      for (size_t e = 0; e < kernel_attrs_.size(); e++) {
        int fd = static_cast<int>(::syscall(SYS_perf_event_open, &kernel_attrs_[e], -1, cpu, -1, PERF_FLAG_FD_CLOEXEC));
        if (fd < 0) open_failed(errno, options.tracepoints[e], cpu);
        fds_.push_back(fd);
        uint64_t id = 0;
        if (::ioctl(fd, PERF_EVENT_IOC_ID, &id) == 0) attrs_[e].ids.push_back(id);
        if (b->leader_fd < 0) {
          b->leader_fd = fd;
          b->map_size = (options.mmap_pages + 1) * page_size_;
          b->base = ::mmap(nullptr, b->map_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
          if (b->base == MAP_FAILED) {
            int err = errno;
            b->base = nullptr;
            if (err == EPERM || err == ENOMEM)
              throw SetupError("cannot map a " + std::to_string(options.mmap_pages) + "-page ring buffer on CPU " +
                               std::to_string(cpu) + " (" + std::strerror(err) +
                               "): above the mlock limit kernel.perf_event_mlock_kb=" +
                               read_first_line("/proc/sys/kernel/perf_event_mlock_kb") +
                               "; use a smaller -m, raise the limit, or grant CAP_IPC_LOCK");
            throw SetupError(std::string("mmap of the ring buffer: ") + std::strerror(err));
          }
          epoll_event ev{};
          ev.events = EPOLLIN;
          ev.data.u64 = cpus_.size() - 1;
          ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
        } else if (::ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, b->leader_fd) != 0) {
          throw SetupError(std::string("PERF_EVENT_IOC_SET_OUTPUT: ") + std::strerror(errno));
        }
      }
    }
  } catch (...) {
    stop();
    throw;
  }
}

LiveSource::~LiveSource() {
  stop();
  for (CpuBuffer* b : cpus_) {
    if (b->base) ::munmap(b->base, b->map_size);
    delete b;
  }
  for (int fd : fds_) ::close(fd);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  if (stop_fd_ >= 0) ::close(stop_fd_);
}

void LiveSource::start(RecordSink* sink, std::mutex* sink_mutex, RawRecordSink* raw) {
  sink_ = sink;
  sink_mutex_ = sink_mutex;
  raw_ = raw;
  for (int fd : fds_) ::ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
  running_ = true;
  thread_ = std::thread([this] { drain_loop(); });
}

void LiveSource::stop() {
  if (stopping_.exchange(true)) {
    if (thread_.joinable()) thread_.join();
    return;
  }
  for (int fd : fds_) ::ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
  if (stop_fd_ >= 0) {
    uint64_t one = 1;
    ssize_t w = ::write(stop_fd_, &one, sizeof one);
    (void)w;
  }
  if (thread_.joinable()) thread_.join();
  running_ = false;
}

std::vector<uint64_t> LiveSource::lost_per_cpu() const {
  std::vector<uint64_t> out;
  for (const CpuBuffer* b : cpus_) out.push_back(b->lost.load());
  return out;
}

void LiveSource::drain_loop() {
  epoll_event events[64];
  for (;;) {
    int n = ::epoll_wait(epoll_fd_, events, 64, 100);
    bool stop_requested = false;
    for (int i = 0; i < n; i++)
      if (events[i].data.u64 == ~0ull) stop_requested = true;
    drain_pass();
    if (stop_requested || stopping_.load()) break;
  }
  // Nothing collected is lost: one more pass, then deliver everything.
  drain_pass();
  flush_ordered(~0ull);
  running_ = false;
}

bool LiveSource::drain_pass() {
  bool any = false;
  for (CpuBuffer* b : cpus_) {
    size_t before = b->stage.size();
    drain_cpu(*b);
    any = any || b->stage.size() != before;
  }
  if (raw_ && any) raw_->on_pass_end();
  // perf's round rule: deliver what is older than the newest time seen
  // before the previous pass; later records cannot precede it.
  flush_ordered(prev_pass_max_);
  prev_pass_max_ = pass_max_;
  return any;
}

void LiveSource::drain_cpu(CpuBuffer& b) {
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
    if (h.type == PERF_RECORD_LOST && h.size >= 24) {
      uint64_t lost;
      std::memcpy(&lost, rec + 16, 8);
      b.lost += lost;
      if (sink_) {
        std::lock_guard<std::mutex> hold(*sink_mutex_);
        sink_->on_lost(lost, static_cast<uint32_t>(b.cpu));
      }
    } else if (h.type == PERF_RECORD_SAMPLE && h.size >= kOffRaw + 4) {
      uint64_t t;
      std::memcpy(&t, rec + kOffTime, 8);
      if (t > pass_max_) pass_max_ = t;
      if (sink_) b.stage.insert(b.stage.end(), rec, rec + h.size);
    }
    tail += h.size;
  }
  __atomic_store_n(&meta->data_tail, tail, __ATOMIC_RELEASE);
  bytes_ += drained_bytes;
}

// k-way merge of the CPUs' staged samples with time <= limit.
void LiveSource::flush_ordered(uint64_t limit) {
  if (!sink_) return;
  std::unique_lock<std::mutex> hold(*sink_mutex_);
  for (;;) {
    CpuBuffer* best = nullptr;
    uint64_t best_time = 0;
    for (CpuBuffer* b : cpus_) {
      if (b->stage_pos >= b->stage.size()) continue;
      uint64_t t;
      std::memcpy(&t, b->stage.data() + b->stage_pos + kOffTime, 8);
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
    deliver(rec);
    best->stage_pos += size;
  }
  samples_ += delivered_;
  delivered_ = 0;
  for (CpuBuffer* b : cpus_) {
    b->stage.erase(b->stage.begin(), b->stage.begin() + static_cast<std::ptrdiff_t>(b->stage_pos));
    b->stage_pos = 0;
  }
}

void LiveSource::deliver(const uint8_t* rec) {
  Sample s;
  uint64_t id;
  std::memcpy(&id, rec + kOffId, 8);
  for (const EventAttr& a : attrs_) {
    if (std::find(a.ids.begin(), a.ids.end(), id) != a.ids.end()) {
      s.attr = &a;
      break;
    }
  }
  if (!s.attr) return;
  std::memcpy(&s.pid, rec + kOffTid, 4);
  std::memcpy(&s.tid, rec + kOffTid + 4, 4);
  if (!pids_.empty() && std::find(pids_.begin(), pids_.end(), s.pid) == pids_.end()) return;
  std::memcpy(&s.time, rec + kOffTime, 8);
  std::memcpy(&s.cpu, rec + kOffCpu, 4);
  std::memcpy(&s.raw_size, rec + kOffRaw, 4);
  uint16_t size;
  std::memcpy(&size, rec + 6, 2);
  if (kOffRaw + 4 + static_cast<uint64_t>(s.raw_size) > size) return;
  s.raw = rec + kOffRaw + 4;
  delivered_++;
  sink_->on_sample(s);
}

}  // namespace kvmlens
