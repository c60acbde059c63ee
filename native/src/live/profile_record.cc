#include "live/profile_record.h"

#include <linux/perf_event.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>

#include "core/errors.h"
#include "live/build_id.h"
#include "live/perf_data_recorder.h"
#include "live/proc_synth.h"
#include "trace/tracefs.h"
#include "trace/tracing_blob.h"

namespace kvmlens {

namespace {

constexpr uint16_t kMiscBuildIdSize = 1 << 15;  // PERF_RECORD_MISC_BUILD_ID_SIZE

template <class T>
void put(std::vector<uint8_t>* out, T v) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(&v);
  out->insert(out->end(), p, p + sizeof v);
}

void put_build_id(std::vector<uint8_t>* out, uint16_t cpumode, int32_t pid, const std::vector<uint8_t>& id,
                  const std::string& name) {
  const size_t name_len = (name.size() + 1 + 63) & ~size_t(63);
  put<uint32_t>(out, 0);  // type: unused in the header section
  put<uint16_t>(out, static_cast<uint16_t>(cpumode | kMiscBuildIdSize));
  put<uint16_t>(out, static_cast<uint16_t>(8 + 4 + 24 + name_len));
  put<int32_t>(out, pid);
  uint8_t raw[24] = {0};
  std::memcpy(raw, id.data(), std::min<size_t>(id.size(), 20));
  raw[20] = static_cast<uint8_t>(std::min<size_t>(id.size(), 20));
  out->insert(out->end(), raw, raw + 24);
  out->insert(out->end(), name.begin(), name.end());
  out->insert(out->end(), name_len - name.size(), 0);
}

// "/lib/modules/.../kvm-amd.ko.xz" or "[kvm_amd]" -> "kvm_amd"
std::string module_name(const std::string& dso) {
  std::string base = dso;
  if (!base.empty() && base.front() == '[') base = base.substr(1, base.size() - 2);
  base = base.substr(base.rfind('/') + 1);
  base = base.substr(0, base.find(".ko"));
  std::replace(base.begin(), base.end(), '-', '_');
  return base;
}

}  // namespace

std::vector<uint8_t> build_id_feature(const std::vector<HitDso>& hits, const std::vector<KernelImage>& kernels,
                                      const std::string& guestvmlinux, std::vector<std::string>* missing,
                                      std::vector<BuildIdSource>* sources) {
  std::vector<uint8_t> out;
  // perf writes the host machine first, then each guest.
  std::vector<HitDso> order = hits;
  std::stable_sort(order.begin(), order.end(), [](const HitDso& a, const HitDso& b) {
    // ... and in each machine its kernel and modules before user space.
    auto rank = [](const HitDso& d) {
      const bool kernel = d.cpumode == PERF_RECORD_MISC_KERNEL || d.cpumode == PERF_RECORD_MISC_GUEST_KERNEL;
      return (d.machine_pid == -1 ? 0 : 2) + (kernel ? 0 : 1);
    };
    return rank(a) < rank(b);
  });
  for (const HitDso& d : order) {
    std::vector<uint8_t> id;
    std::string from;  // the file the id was read from (what a cache keeps)
    const bool kernel_mode = d.cpumode == PERF_RECORD_MISC_KERNEL || d.cpumode == PERF_RECORD_MISC_GUEST_KERNEL;
    const KernelImage* image = nullptr;
    for (const KernelImage& k : kernels)
      if (k.pid == d.machine_pid && k.mmap_name == d.name) image = &k;
    if (image) {
      if (!image->notes_path.empty()) id = build_id_from_notes_file(image->notes_path);
      if (id.empty() && image->guest && !guestvmlinux.empty()) id = build_id_from_elf_file(guestvmlinux);
    } else if (kernel_mode) {
      if (d.cpumode == PERF_RECORD_MISC_KERNEL)
        id = build_id_from_notes_file("/sys/module/" + module_name(d.name) + "/notes/.note.gnu.build-id");
      if (id.empty() && d.name.front() == '/') {
        id = build_id_from_elf_file(d.name);
        from = d.name;
      }
    } else if (d.name == "[vdso]") {
      id = vdso_build_id();
    } else if (d.name.rfind("//", 0) == 0 || d.name.rfind("/memfd:", 0) == 0 ||
               (d.name.size() > 10 && d.name.compare(d.name.size() - 10, 10, " (deleted)") == 0)) {
      continue;  // anonymous or gone: nothing on disk to identify
    } else if (!d.name.empty() && d.name.front() == '/') {
      id = build_id_from_elf_file(d.name);
      from = d.name;
      if (id.empty() && d.pid > 0) {
        from = "/proc/" + std::to_string(d.pid) + "/root" + d.name;
        id = build_id_from_elf_file(from);
      }
    } else {
      continue;  // //anon, [heap], [vsyscall], JIT maps: nothing to identify
    }
    if (id.empty()) {
      if (missing) missing->push_back(d.name);
      continue;
    }
    put_build_id(&out, d.cpumode, d.machine_pid, id, d.name);
    if (sources) sources->push_back({d.name, build_id_hex(id), d.cpumode, d.machine_pid, image != nullptr, from});
  }
  return out;
}

namespace {

// What perf record writes besides the recorder's common features and perf
// report --header shows: CPUDESC (8), TOTAL_MEM (10), SAMPLE_TIME (21).
void add_host_features(PerfDataRecorder* rec, uint64_t first_sample, uint64_t last_sample) {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line, model;
  while (model.empty() && std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    size_t colon = line.find(':');
    if (colon != std::string::npos) model = line.substr(line.find_first_not_of(" \t", colon + 1));
  }
  if (!model.empty()) {
    // perf squeezes runs of blanks and trims the end.
    std::string squeezed;
    for (char c : model)
      if (!(c == ' ' && !squeezed.empty() && squeezed.back() == ' ')) squeezed += c;
    while (!squeezed.empty() && squeezed.back() == ' ') squeezed.pop_back();
    std::vector<uint8_t> b;
    uint32_t len = static_cast<uint32_t>((squeezed.size() + 1 + 63) & ~size_t(63));
    put<uint32_t>(&b, len);
    b.insert(b.end(), squeezed.begin(), squeezed.end());
    b.insert(b.end(), len - squeezed.size(), 0);
    rec->add_feature(8, std::move(b));
  }
  std::ifstream meminfo("/proc/meminfo");
  while (std::getline(meminfo, line)) {
    if (line.rfind("MemTotal:", 0) != 0) continue;
    std::vector<uint8_t> b;
    put<uint64_t>(&b, std::strtoull(line.c_str() + 9, nullptr, 10));
    rec->add_feature(10, std::move(b));
    break;
  }
  if (first_sample && last_sample >= first_sample) {
    std::vector<uint8_t> b;
    put<uint64_t>(&b, first_sample);
    put<uint64_t>(&b, last_sample);
    rec->add_feature(21, std::move(b));
  }
}

class FileProfileRecording : public ProfileRecording {
 public:
  FileProfileRecording(const std::string& path, const ProfileTarget& target, const std::vector<int32_t>& synth_pids,
                       std::vector<std::string> cmdline)
      : target_(target) {
    source_ = std::make_unique<SamplingSource>(target.sampling);
    if (!source_->fallback().empty() && target.sampling.try_hardware) warnings_.push_back(source_->fallback());
    if (!source_->kernel_excluded().empty()) warnings_.push_back(source_->kernel_excluded());
    // Tracepoints among the events: their formats go in HEADER_TRACING_DATA,
    // as perf record writes it (perf script and report decode RAW with them).
    std::vector<uint8_t> tracing;
    if (!source_->tracepoints().empty()) tracing = build_tracing_blob(find_tracefs_root(), source_->tracepoints());
    recorder_ = std::make_unique<PerfDataRecorder>(path, source_->kernel_attrs(), source_->attrs(),
                                                   std::move(tracing), std::move(cmdline));
    // Count from now; the drain starts once the synthesized side band is
    // written, so it comes first in the file (time 0) as perf writes it.
    source_->enable();
    SideBandSynthesizer synth(kProfileIdTrailer);
    std::string warning;
    kernels_.push_back(synth.host_kernel(&warning));
    if (!warning.empty() && source_->kernel_excluded().empty()) warnings_.push_back(warning);
    for (KernelImage& k : synth.guest_kernels(target.guestmount, target.guestkallsyms, target.guestmodules))
      kernels_.push_back(std::move(k));
    if (target.sampling.system_wide) {
      synth.all_processes();
    } else {
      for (int32_t pid : synth_pids) synth.process(pid);
    }
    tracker_ = std::make_unique<DsoHitTracker>(kernels_);
    tracker_->feed(synth.records());
    const std::vector<uint8_t>& recs = synth.records();
    size_t off = 0;
    while (off + 8 <= recs.size()) {
      uint16_t size;
      std::memcpy(&size, recs.data() + off + 6, 2);
      recorder_->on_record(recs.data() + off, size);
      off += size;
    }
    recorder_->on_pass_end();
    source_->start(tracker_.get(), &mutex_, recorder_.get());
  }
  ~FileProfileRecording() override {
    try {
      stop();
    } catch (...) {
    }
  }
  const std::string& event_name() const override { return source_->event_name(); }
  const std::vector<std::string>& setup_warnings() const override { return warnings_; }
  bool running() const override { return !stopped_ && source_->running(); }

  Result stop() override {
    if (!stopped_) {
      stopped_ = true;
      source_->stop();
      std::vector<std::string> missing;
      std::vector<HitDso> hits;
      uint64_t first = 0, last = 0;
      {
        std::lock_guard<std::mutex> hold(mutex_);
        hits = tracker_->hits();
        first = tracker_->first_time();
        last = tracker_->last_time();
      }
      std::vector<BuildIdSource> sources;
      std::vector<uint8_t> feature = build_id_feature(hits, kernels_, target_.guestvmlinux, &missing, &sources);
      result_.build_ids = parse_feature(feature);
      recorder_->add_feature(2, std::move(feature));  // HEADER_BUILD_ID
      add_host_features(recorder_.get(), first, last);
      recorder_->close();
      for (const std::string& m : missing) result_.warnings.push_back("no build-id found for " + m);
      if (!target_.buildid_dir.empty())
        for (std::string& p : add_to_buildid_cache(target_.buildid_dir, sources)) result_.cache_problems.push_back(std::move(p));
      result_.samples = recorder_->samples();
      result_.bytes = recorder_->data_bytes();
      for (uint64_t l : source_->lost_per_cpu()) result_.lost += l;
    }
    return result_;
  }

 private:
  static std::vector<std::pair<std::string, std::string>> parse_feature(const std::vector<uint8_t>& f) {
    std::vector<std::pair<std::string, std::string>> out;
    size_t off = 0;
    while (off + 36 <= f.size()) {
      uint16_t size;
      std::memcpy(&size, f.data() + off + 6, 2);
      uint8_t n = f[off + 12 + 20];
      std::vector<uint8_t> id(f.begin() + static_cast<std::ptrdiff_t>(off + 12),
                              f.begin() + static_cast<std::ptrdiff_t>(off + 12 + n));
      const char* name = reinterpret_cast<const char*>(f.data() + off + 36);
      out.push_back({build_id_hex(id), std::string(name, strnlen(name, size - 36))});
      off += size;
    }
    return out;
  }

  ProfileTarget target_;
  std::unique_ptr<SamplingSource> source_;
  std::unique_ptr<PerfDataRecorder> recorder_;
  std::unique_ptr<DsoHitTracker> tracker_;
  std::vector<KernelImage> kernels_;
  std::vector<std::string> warnings_;
  std::mutex mutex_;
  bool stopped_ = false;
  Result result_;
};

}  // namespace

std::unique_ptr<ProfileRecording> start_profile_record(const std::string& path, const ProfileTarget& target,
                                                       const std::vector<int32_t>& synth_pids,
                                                       std::vector<std::string> cmdline) {
  return std::make_unique<FileProfileRecording>(path, target, synth_pids, std::move(cmdline));
}

}  // namespace kvmlens
