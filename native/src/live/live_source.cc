#include "live/live_source.h"

#include <sys/ioctl.h>
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
  const uint64_t page_size = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
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
    a.wakeup_watermark = static_cast<uint32_t>(options.mmap_pages * page_size / 4);
    kernel_attrs_.push_back(a);
    EventAttr ea;
    ea.type = a.type;
    ea.config = a.config;
    ea.sample_type = a.sample_type;
    ea.sample_id_all = true;
    ea.name = tp;
    attrs_.push_back(ea);
  }
  // On a throw the rings' destructor closes and unmaps what was set up.
  for (int cpu : online_cpus()) {
    rings_.add_cpu(cpu);
    for (size_t e = 0; e < kernel_attrs_.size(); e++) {
      int fd = static_cast<int>(::syscall(SYS_perf_event_open, &kernel_attrs_[e], -1, cpu, -1, PERF_FLAG_FD_CLOEXEC));
      if (fd < 0) open_failed(errno, options.tracepoints[e], cpu);
      uint64_t id = 0;
      if (::ioctl(fd, PERF_EVENT_IOC_ID, &id) == 0) attrs_[e].ids.push_back(id);
      rings_.add_event(fd, options.mmap_pages);
    }
  }
}

LiveSource::~LiveSource() { stop(); }

void LiveSource::start(RecordSink* sink, std::mutex* sink_mutex, RawRecordSink* raw) {
  rings_.enable_events();
  rings_.start(this, sink, sink_mutex, raw);
}

void LiveSource::stop() { rings_.stop(); }

// Only samples are staged (LOST records reach the sink when read), at their time.
bool LiveSource::stage_time(const perf_event_header& h, const uint8_t* rec, uint64_t* time) const {
  if (h.type != PERF_RECORD_SAMPLE || h.size < kOffRaw + 4) return false;
  std::memcpy(time, rec + kOffTime, 8);
  return true;
}

uint64_t LiveSource::staged_time(const uint8_t* rec) const {
  uint64_t t;
  std::memcpy(&t, rec + kOffTime, 8);
  return t;
}

bool LiveSource::deliver(const uint8_t* rec, RecordSink& sink) const {
  Sample s;
  uint64_t id;
  std::memcpy(&id, rec + kOffId, 8);
  for (const EventAttr& a : attrs_) {
    if (std::find(a.ids.begin(), a.ids.end(), id) != a.ids.end()) {
      s.attr = &a;
      break;
    }
  }
  if (!s.attr) return false;
  std::memcpy(&s.pid, rec + kOffTid, 4);
  std::memcpy(&s.tid, rec + kOffTid + 4, 4);
  if (!pids_.empty() && std::find(pids_.begin(), pids_.end(), s.pid) == pids_.end()) return false;
  std::memcpy(&s.time, rec + kOffTime, 8);
  std::memcpy(&s.cpu, rec + kOffCpu, 4);
  std::memcpy(&s.raw_size, rec + kOffRaw, 4);
  uint16_t size;
  std::memcpy(&size, rec + 6, 2);
  if (kOffRaw + 4 + static_cast<uint64_t>(s.raw_size) > size) return false;
  s.raw = rec + kOffRaw + 4;
  sink.on_sample(s);
  return true;
}

}  // namespace kvmlens
