#include "live/sampling_source.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "core/errors.h"
#include "live/host_info.h"

namespace kvmlens {

namespace {

constexpr size_t kOffId = 8, kOffIp = 16, kOffTid = 24, kOffTime = 32, kOffCpu = 40, kOffPeriod = 48;
constexpr size_t kSampleSize = 56;

std::string first_line(const std::string& path) {
  std::ifstream f(path);
  std::string s;
  std::getline(f, s);
  return s;
}

perf_event_attr base_attr(const SamplingOptions& o, uint32_t type, uint64_t config, uint32_t wakeup) {
  perf_event_attr a;
  std::memset(&a, 0, sizeof a);
  a.type = type;
  a.size = sizeof a;
  a.config = config;
  if (o.period) {
    a.sample_period = o.period;
  } else {
    a.freq = 1;
    a.sample_freq = o.freq;
  }
  a.sample_type = kProfileSampleType;
  a.read_format = PERF_FORMAT_ID;
  a.disabled = 1;
  a.inherit = 1;
  a.enable_on_exec = o.enable_on_exec ? 1 : 0;
  a.mmap = 1;
  a.mmap2 = 1;
  a.comm = 1;
  a.comm_exec = 1;
  a.task = 1;
  a.sample_id_all = 1;
  a.exclude_host = o.exclude_host ? 1 : 0;
  a.exclude_guest = o.exclude_guest ? 1 : 0;
  a.exclude_kernel = o.exclude_kernel ? 1 : 0;
  a.watermark = 1;
  a.wakeup_watermark = wakeup;
  return a;
}

[[noreturn]] void open_failed(int err, const std::string& what, int32_t tid, int cpu) {
  std::string where = "on CPU " + std::to_string(cpu) + (tid >= 0 ? " for thread " + std::to_string(tid) : "");
  if (err == EACCES || err == EPERM)
    throw SetupError("perf_event_open(" + what + ") " + where + ": permission denied (kernel.perf_event_paranoid=" +
                     first_line("/proc/sys/kernel/perf_event_paranoid") +
                     "): run as root or grant CAP_PERFMON (and CAP_SYS_PTRACE for other users' processes)");
  if (err == EMFILE || err == ENFILE)
    throw SetupError("too many open files: raise `ulimit -n` (kvmlens needs one descriptor per thread and CPU)");
  if (err == ESRCH) throw SetupError("perf_event_open(" + what + ") " + where + ": no such process");
  throw SetupError("perf_event_open(" + what + ") " + where + ": " + std::strerror(err));
}

}  // namespace

int SamplingSource::open_event(perf_event_attr* attr, int32_t tid, int cpu) {
  return static_cast<int>(::syscall(SYS_perf_event_open, attr, tid, cpu, -1, PERF_FLAG_FD_CLOEXEC));
}

SamplingSource::SamplingSource(const SamplingOptions& options) : options_(options) {
  page_size_ = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint32_t wakeup = static_cast<uint32_t>(options.mmap_pages * page_size_ / 4);
  std::vector<int> cpus = online_cpus();
  if (cpus.empty()) throw SetupError("no online CPUs found in /sys/devices/system/cpu/online");
  std::vector<int32_t> targets = options.system_wide ? std::vector<int32_t>{-1} : options.tids;
  if (targets.empty()) throw SetupError("nothing to profile: no thread given and not system-wide");

  // cycles where there is a PMU; cpu-clock otherwise, as perf falls back.
  // Without the right to profile the kernel (perf_event_paranoid >= 2 and
  // no CAP_PERFMON) a user may still profile their own threads in user
  // space: perf sets exclude_kernel then, and so do we.
  SamplingOptions eff = options;
  perf_event_attr attr;
  std::string name;
  int first = -1;
  for (int attempt = 0; attempt < 2 && first < 0; attempt++) {
    attr = base_attr(eff, PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES, wakeup);
    name = "cycles";
    int err = 0;
    if (options.try_hardware) {
      first = open_event(&attr, targets[0], cpus[0]);
      if (first < 0) {
        err = errno;
        if (err != EACCES && err != EPERM && err != EMFILE && err != ENFILE && err != ESRCH)
          fallback_ = std::string("the cycles event is not supported here (") + std::strerror(err) +
                      "): falling back to cpu-clock";
      }
    } else {
      fallback_ = "cpu-clock requested";
    }
    if (first < 0 && err != EACCES && err != EPERM && err != EMFILE && err != ENFILE && err != ESRCH) {
      attr = base_attr(eff, PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK, wakeup);
      name = "cpu-clock";
      first = open_event(&attr, targets[0], cpus[0]);
      if (first < 0) err = errno;
    }
    if (first >= 0) break;
    if ((err == EACCES || err == EPERM) && !options.system_wide && !eff.exclude_kernel) {
      eff.exclude_kernel = true;
      continue;
    }
    open_failed(err, name, targets[0], cpus[0]);
  }
  if (first < 0) open_failed(EACCES, name, targets[0], cpus[0]);
  if (eff.exclude_kernel && !options.exclude_kernel)
    kernel_excluded_ = "kernel samples are not collected: kernel.perf_event_paranoid=" +
                       first_line("/proc/sys/kernel/perf_event_paranoid") +
                       " lets this user profile user space only (run as root or grant CAP_PERFMON for the kernel)";
  if (eff.exclude_kernel) name += ":u";
  // perf names a guest-only event with the G modifier.
  if (options.exclude_host && !options.exclude_guest) name += ":G";
  kernel_attrs_.push_back(attr);
  EventAttr ea;
  ea.type = attr.type;
  ea.config = attr.config;
  ea.sample_type = attr.sample_type;
  ea.read_format = attr.read_format;
  ea.sample_id_all = true;
  ea.name = name;
  attrs_.push_back(ea);

  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (epoll_fd_ < 0 || stop_fd_ < 0) {
    ::close(first);
    throw SetupError(std::string("epoll/eventfd: ") + std::strerror(errno));
  }
  epoll_event sev{};
  sev.events = EPOLLIN;
  sev.data.u64 = ~0ull;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, stop_fd_, &sev);

  try {
    for (int cpu : cpus) {
      auto* b = new CpuBuffer();
      b->cpu = cpu;
      cpus_.push_back(b);
      for (int32_t tid : targets) {
        int fd;
        if (first >= 0) {
          fd = first;
          first = -1;
        } else {
          fd = open_event(&kernel_attrs_[0], tid, cpu);
        }
        if (fd < 0) {
          int err = errno;
          // A thread of a -p target that ended meanwhile is not an error.
          if (err == ESRCH && !options.system_wide && targets.size() > 1) continue;
          open_failed(err, name, tid, cpu);
        }
        fds_.push_back(fd);
        uint64_t id = 0;
        if (::ioctl(fd, PERF_EVENT_IOC_ID, &id) == 0) attrs_[0].ids.push_back(id);
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
                               first_line("/proc/sys/kernel/perf_event_mlock_kb") +
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
    if (fds_.empty()) throw SetupError("perf_event_open: none of the given threads exists any more");
  } catch (...) {
    if (first >= 0) ::close(first);
    stop();
    for (CpuBuffer* b : cpus_) {
      if (b->base) ::munmap(b->base, b->map_size);
      delete b;
    }
    cpus_.clear();
    for (int fd : fds_) ::close(fd);
    fds_.clear();
    ::close(epoll_fd_);
    ::close(stop_fd_);
    epoll_fd_ = stop_fd_ = -1;
    throw;
  }
}

SamplingSource::~SamplingSource() {
  stop();
  for (CpuBuffer* b : cpus_) {
    if (b->base) ::munmap(b->base, b->map_size);
    delete b;
  }
  for (int fd : fds_) ::close(fd);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  if (stop_fd_ >= 0) ::close(stop_fd_);
}

void SamplingSource::enable() {
  if (enabled_ || options_.enable_on_exec) return;
  enabled_ = true;
  for (int fd : fds_) ::ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
}

void SamplingSource::start(RecordSink* sink, std::mutex* sink_mutex, RawRecordSink* raw) {
  sink_ = sink;
  sink_mutex_ = sink_mutex;
  raw_ = raw;
  enable();
  running_ = true;
  thread_ = std::thread([this] { drain_loop(); });
}

void SamplingSource::stop() {
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

std::vector<uint64_t> SamplingSource::lost_per_cpu() const {
  std::vector<uint64_t> out;
  for (const CpuBuffer* b : cpus_) out.push_back(b->lost.load());
  return out;
}

void SamplingSource::drain_loop() {
  epoll_event events[64];
  for (;;) {
    int n = ::epoll_wait(epoll_fd_, events, 64, 100);
    bool stop_requested = false;
    for (int i = 0; i < n; i++)
      if (events[i].data.u64 == ~0ull) stop_requested = true;
    drain_pass();
    if (stop_requested || stopping_.load()) break;
  }
  drain_pass();
  flush_ordered(~0ull);
  running_ = false;
}

void SamplingSource::drain_pass() {
  bool any = false;
  for (CpuBuffer* b : cpus_) any = drain_cpu(*b) || any;
  if (raw_ && any) raw_->on_pass_end();
  // perf's round rule: deliver what is older than the newest time seen
  // before the previous pass; later records cannot precede it.
  flush_ordered(prev_pass_max_);
  prev_pass_max_ = pass_max_;
}

uint64_t SamplingSource::record_time(const uint8_t* rec) {
  perf_event_header h;
  std::memcpy(&h, rec, sizeof h);
  uint64_t t = 0;
  if (h.type == PERF_RECORD_SAMPLE) {
    if (h.size >= kOffTime + 8) std::memcpy(&t, rec + kOffTime, 8);
  } else if (h.size >= sizeof h + kProfileIdTrailer) {
    std::memcpy(&t, rec + h.size - 24, 8);
  }
  return t;
}

bool SamplingSource::drain_cpu(CpuBuffer& b) {
  if (!b.base) return false;
  auto* meta = static_cast<perf_event_mmap_page*>(b.base);
  const uint8_t* data = static_cast<const uint8_t*>(b.base) + page_size_;
  const uint64_t size = b.map_size - page_size_;
  uint64_t head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
  uint64_t tail = meta->data_tail;
  while (tail < head) {
    const uint8_t* rec = data + (tail % size);
    perf_event_header h;
    if ((tail % size) + sizeof h <= size) {
      std::memcpy(&h, rec, sizeof h);
    } else {
      for (size_t i = 0; i < sizeof h; i++) reinterpret_cast<uint8_t*>(&h)[i] = data[(tail + i) % size];
    }
    if (h.size < sizeof h) break;
    if ((tail % size) + h.size > size) {
      scratch_.resize(h.size);
      for (size_t i = 0; i < h.size; i++) scratch_[i] = data[(tail + i) % size];
      rec = scratch_.data();
    }
    if (raw_) raw_->on_record(rec, h.size);
    if (h.type == PERF_RECORD_LOST && h.size >= 24) {
      uint64_t lost;
      std::memcpy(&lost, rec + 16, 8);
      b.lost += lost;
    }
    uint64_t t = record_time(rec);
    if (t > pass_max_) pass_max_ = t;
    if (sink_) b.stage.insert(b.stage.end(), rec, rec + h.size);
    tail += h.size;
  }
  bool any = tail != meta->data_tail;
  __atomic_store_n(&meta->data_tail, tail, __ATOMIC_RELEASE);
  return any;
}

// k-way merge of the CPUs' staged records with time <= limit. Records of one
// CPU are already in time order.
void SamplingSource::flush_ordered(uint64_t limit) {
  if (!sink_) return;
  std::unique_lock<std::mutex> hold(*sink_mutex_);
  for (;;) {
    CpuBuffer* best = nullptr;
    uint64_t best_time = 0;
    for (CpuBuffer* b : cpus_) {
      if (b->stage_pos >= b->stage.size()) continue;
      uint64_t t = record_time(b->stage.data() + b->stage_pos);
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
  for (CpuBuffer* b : cpus_) {
    b->stage.erase(b->stage.begin(), b->stage.begin() + static_cast<std::ptrdiff_t>(b->stage_pos));
    b->stage_pos = 0;
  }
}

void SamplingSource::deliver(const uint8_t* rec) {
  perf_event_header h;
  std::memcpy(&h, rec, sizeof h);
  if (h.type == PERF_RECORD_SAMPLE) {
    if (h.size < kSampleSize) return;
    Sample s;
    s.attr = &attrs_[0];
    std::memcpy(&s.id, rec + kOffId, 8);
    std::memcpy(&s.ip, rec + kOffIp, 8);
    std::memcpy(&s.pid, rec + kOffTid, 4);
    std::memcpy(&s.tid, rec + kOffTid + 4, 4);
    std::memcpy(&s.time, rec + kOffTime, 8);
    std::memcpy(&s.cpu, rec + kOffCpu, 4);
    std::memcpy(&s.period, rec + kOffPeriod, 8);
    s.misc = h.misc;
    samples_++;
    sink_->on_sample(s);
  } else if (h.type == PERF_RECORD_LOST || h.type == PERF_RECORD_LOST_SAMPLES) {
    uint64_t lost = 0;
    if (h.size >= 24) std::memcpy(&lost, rec + (h.type == PERF_RECORD_LOST ? 16 : 8), 8);
    uint32_t cpu = 0;
    if (h.size >= sizeof h + kProfileIdTrailer) std::memcpy(&cpu, rec + h.size - 16, 4);
    sink_->on_lost(lost, cpu);
  } else {
    SideBandRecord r;
    r.type = h.type;
    r.misc = h.misc;
    r.size = h.size;
    r.time = record_time(rec);
    r.record = rec;
    sink_->on_side_band(r);
  }
}

}  // namespace kvmlens
