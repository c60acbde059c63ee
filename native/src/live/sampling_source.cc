#include "live/sampling_source.h"

#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "core/errors.h"
#include "live/event_spec.h"
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
  if (o.callchain) {
    // As perf record -g: the kernel's frame-pointer walk, as deep as the
    // system allows (perf's default max_stack is that sysctl).
    a.sample_type |= PERF_SAMPLE_CALLCHAIN;
    const std::string max = first_line("/proc/sys/kernel/perf_event_max_stack");
    a.sample_max_stack = static_cast<uint16_t>(max.empty() ? 127 : std::min(65535L, std::max(1L, std::atol(max.c_str()))));
  }
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
  const uint64_t page_size = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint32_t wakeup = static_cast<uint32_t>(options.mmap_pages * page_size / 4);
  std::vector<int> cpus = online_cpus();
  if (cpus.empty()) throw SetupError("no online CPUs found in /sys/devices/system/cpu/online");
  std::vector<int32_t> targets = options.system_wide ? std::vector<int32_t>{-1} : options.tids;
  if (targets.empty()) throw SetupError("nothing to profile: no thread given and not system-wide");

  // Without the right to profile the kernel (perf_event_paranoid >= 2 and
  // no CAP_PERFMON) a user may still profile their own threads in user
  // space: perf sets exclude_kernel then, and so do we.
  SamplingOptions eff = options;
  std::vector<int> firsts;  // each attr's probe, opened on targets[0], cpus[0]
  std::vector<std::string> names;
  auto close_firsts = [&firsts]() {
    for (int fd : firsts)
      if (fd >= 0) ::close(fd);
    firsts.clear();
  };
  if (options.events.empty()) {
    // cycles where there is a PMU; cpu-clock otherwise, as perf falls back.
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
    if (eff.exclude_kernel) name += ":u";
    // perf names a guest-only event with the G modifier.
    if (options.exclude_host && !options.exclude_guest) name += ":G";
    kernel_attrs_.push_back(attr);
    names.push_back(name);
    firsts.push_back(first);
  } else {
    // Explicit events, as perf record -e: each one opens or the recording
    // fails naming it (no fallback). The first carries the side band.
    const std::vector<EventSpec> specs = parse_event_specs(options.events);
    for (int attempt = 0; attempt < 2 && firsts.size() < specs.size(); attempt++) {
      close_firsts();
      kernel_attrs_.clear();
      names.clear();
      for (size_t i = 0; i < specs.size(); i++) {
        const EventSpec& e = specs[i];
        perf_event_attr attr = base_attr(eff, e.type, e.config, wakeup);
        if (i > 0) attr.mmap = attr.mmap2 = attr.comm = attr.comm_exec = attr.task = 0;
        if (e.type == PERF_TYPE_TRACEPOINT) {
          // perf samples every tracepoint hit (period 1) with its raw
          // payload, unless -c or -F is given.
          if (!options.period && !options.freq_given) {
            attr.freq = 0;
            attr.sample_period = 1;
          }
          attr.sample_type |= PERF_SAMPLE_RAW;
        }
        attr.exclude_user = e.exclude_user ? 1 : 0;
        attr.exclude_kernel = (e.exclude_kernel || eff.exclude_kernel) ? 1 : 0;
        attr.exclude_hv = e.exclude_hv ? 1 : 0;
        if (e.modified) {
          // perf kvm's host/guest choice reaches a u/k/h-modified event only
          // through u: --no-guest then excludes the guest; the host is never
          // excluded (perf 6.1, checked with perf kvm [--host [--no-guest]]).
          attr.exclude_host = 0;
          attr.exclude_guest = (options.exclude_guest && !e.exclude_user) ? 1 : 0;
        }
        const int fd = open_event(&attr, targets[0], cpus[0]);
        if (fd < 0) {
          const int err = errno;
          if ((err == EACCES || err == EPERM) && !options.system_wide && !eff.exclude_kernel && !e.exclude_kernel) {
            eff.exclude_kernel = true;
            break;  // again, all of them in user space
          }
          close_firsts();
          if (err == EACCES || err == EPERM || err == EMFILE || err == ENFILE || err == ESRCH)
            open_failed(err, e.name, targets[0], cpus[0]);
          const bool hw = e.type == PERF_TYPE_HARDWARE;
          throw SetupError("the " + e.name + " event is not supported here (perf_event_open: " + std::strerror(err) +
                           (hw && (err == ENOENT || err == EOPNOTSUPP || err == ENODEV)
                                ? "; this machine has no hardware PMU for it, try -e cpu-clock)"
                                : ")"));
        }
        std::string name = e.name;
        if (eff.exclude_kernel && !e.exclude_kernel) name += name.find(':') == std::string::npos ? ":u" : "u";
        // Named as given, as perf names parsed events (no :G for guest-only).
        if (e.type == PERF_TYPE_TRACEPOINT) tracepoints_.push_back(e.tracepoint);
        kernel_attrs_.push_back(attr);
        names.push_back(name);
        firsts.push_back(fd);
      }
      if (firsts.size() < specs.size()) tracepoints_.clear();
    }
    if (firsts.size() < specs.size()) {
      close_firsts();
      open_failed(EACCES, specs[0].name, targets[0], cpus[0]);
    }
  }
  if (eff.exclude_kernel && !options.exclude_kernel)
    kernel_excluded_ = "kernel samples are not collected: kernel.perf_event_paranoid=" +
                       first_line("/proc/sys/kernel/perf_event_paranoid") +
                       " lets this user profile user space only (run as root or grant CAP_PERFMON for the kernel)";
  for (size_t i = 0; i < kernel_attrs_.size(); i++) {
    const perf_event_attr& attr = kernel_attrs_[i];
    EventAttr ea;
    ea.type = attr.type;
    ea.config = attr.config;
    ea.sample_type = attr.sample_type;
    ea.read_format = attr.read_format;
    ea.sample_id_all = true;
    ea.name = names[i];
    attrs_.push_back(ea);
    names_ += (i ? ", " : "") + names[i];
  }

  try {
    for (int cpu : cpus) {
      rings_.add_cpu(cpu);
      for (int32_t tid : targets) {
        for (size_t i = 0; i < kernel_attrs_.size(); i++) {
          int fd;
          if (firsts[i] >= 0) {
            fd = firsts[i];
            firsts[i] = -1;
          } else {
            fd = open_event(&kernel_attrs_[i], tid, cpu);
          }
          if (fd < 0) {
            int err = errno;
            // A thread of a -p target that ended meanwhile is not an error.
            if (err == ESRCH && !options.system_wide && targets.size() > 1) break;
            open_failed(err, attrs_[i].name, tid, cpu);
          }
          uint64_t id = 0;
          if (::ioctl(fd, PERF_EVENT_IOC_ID, &id) == 0) {
            attrs_[i].ids.push_back(id);
            id_index_.push_back({id, static_cast<uint32_t>(i)});
          }
          rings_.add_event(fd, options.mmap_pages);
        }
      }
    }
    if (rings_.events() == 0) throw SetupError("perf_event_open: none of the given threads exists any more");
  } catch (...) {
    // The rings' destructor closes and unmaps the rest.
    close_firsts();
    throw;
  }
  std::sort(id_index_.begin(), id_index_.end());
}

const EventAttr* SamplingSource::attr_of(uint64_t id) const {
  if (attrs_.size() == 1) return &attrs_[0];
  auto it = std::lower_bound(id_index_.begin(), id_index_.end(), std::make_pair(id, uint32_t(0)));
  return it != id_index_.end() && it->first == id ? &attrs_[it->second] : &attrs_[0];
}

SamplingSource::~SamplingSource() { stop(); }

void SamplingSource::enable() {
  if (enabled_ || options_.enable_on_exec) return;
  enabled_ = true;
  rings_.enable_events();
}

void SamplingSource::start(RecordSink* sink, std::mutex* sink_mutex, RawRecordSink* raw) {
  enable();
  rings_.start(this, sink, sink_mutex, raw);
}

void SamplingSource::stop() { rings_.stop(); }

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

// Every record is staged (LOST ones too), at its time.
bool SamplingSource::stage_time(const perf_event_header&, const uint8_t* rec, uint64_t* time) const {
  *time = record_time(rec);
  return true;
}

bool SamplingSource::deliver(const uint8_t* rec, RecordSink& sink) const {
  perf_event_header h;
  std::memcpy(&h, rec, sizeof h);
  if (h.type == PERF_RECORD_SAMPLE) {
    if (h.size < kSampleSize) return false;
    Sample s;
    std::memcpy(&s.id, rec + kOffId, 8);
    s.attr = attr_of(s.id);
    std::memcpy(&s.ip, rec + kOffIp, 8);
    std::memcpy(&s.pid, rec + kOffTid, 4);
    std::memcpy(&s.tid, rec + kOffTid + 4, 4);
    std::memcpy(&s.time, rec + kOffTime, 8);
    std::memcpy(&s.cpu, rec + kOffCpu, 4);
    std::memcpy(&s.period, rec + kOffPeriod, 8);
    s.misc = h.misc;
    if (s.attr->sample_type & PERF_SAMPLE_CALLCHAIN) {
      // IDENTIFIER..PERIOD, then (no READ) the callchain: nr, ips.
      uint64_t nr = 0;
      if (h.size >= kSampleSize + 8) std::memcpy(&nr, rec + kSampleSize, 8);
      const uint64_t room = h.size >= kSampleSize + 8 ? (h.size - kSampleSize - 8) / 8 : 0;
      s.callchain = rec + kSampleSize + 8;
      s.callchain_nr = static_cast<uint32_t>(std::min(nr, room));
    }
    sink.on_sample(s);
    return true;
  }
  if (h.type == PERF_RECORD_LOST || h.type == PERF_RECORD_LOST_SAMPLES) {
    uint64_t lost = 0;
    if (h.size >= 24) std::memcpy(&lost, rec + (h.type == PERF_RECORD_LOST ? 16 : 8), 8);
    uint32_t cpu = 0;
    if (h.size >= sizeof h + kProfileIdTrailer) std::memcpy(&cpu, rec + h.size - 16, 4);
    sink.on_lost(lost, cpu);
    return false;
  }
  SideBandRecord r;
  r.type = h.type;
  r.misc = h.misc;
  r.size = h.size;
  r.time = record_time(rec);
  r.record = rec;
  sink.on_side_band(r);
  return false;
}

}  // namespace kvmlens
