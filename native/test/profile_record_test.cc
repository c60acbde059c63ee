// The parts of `kvmlens record` below the CLI: build-id notes, the /proc
// side-band synthesizer's record layout, the DSO hit tracker (maps, fork,
// exec), HEADER_BUILD_ID's layout, and — as root — the sampling source on
// this thread: samples in time order with user-mode ips inside our own
// executable's mapping.
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>

#include "check.h"
#include "live/build_id.h"
#include "live/dso_hits.h"
#include "live/proc_synth.h"
#include "live/profile_record.h"
#include "live/sampling_source.h"

using namespace kvmlens;

namespace {

template <class T>
T at(const uint8_t* p, size_t off) {
  T v;
  std::memcpy(&v, p + off, sizeof v);
  return v;
}

std::vector<uint8_t> note(uint32_t type, const char* name, const std::vector<uint8_t>& desc) {
  std::vector<uint8_t> out;
  uint32_t namesz = static_cast<uint32_t>(std::strlen(name) + 1), descsz = static_cast<uint32_t>(desc.size());
  for (uint32_t v : {namesz, descsz, type}) out.insert(out.end(), reinterpret_cast<uint8_t*>(&v), reinterpret_cast<uint8_t*>(&v) + 4);
  out.insert(out.end(), name, name + namesz);
  out.resize((out.size() + 3) & ~size_t(3), 0);
  out.insert(out.end(), desc.begin(), desc.end());
  out.resize((out.size() + 3) & ~size_t(3), 0);
  return out;
}

volatile uint64_t g_sink;
__attribute__((noinline)) void spin(double secs) {
  auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(secs);
  uint64_t x = 1;
  while (std::chrono::steady_clock::now() < until)
    for (int i = 0; i < 10000; i++) x = x * 6364136223846793005ull + 1;
  g_sink = x;
}

struct Collect : RecordSink {
  uint64_t samples = 0, user = 0, in_spin = 0, unordered = 0, last = 0, side = 0;
  uint64_t spin_lo = 0, spin_hi = 0;
  void on_sample(const Sample& s) override {
    samples++;
    if ((s.misc & PERF_RECORD_MISC_CPUMODE_MASK) == PERF_RECORD_MISC_USER) user++;
    if (s.ip >= spin_lo && s.ip < spin_hi) in_spin++;
    if (s.time < last) unordered++;
    last = s.time;
  }
  void on_side_band(const SideBandRecord& r) override {
    side++;
    if (r.time && r.time < last) unordered++;
    if (r.time) last = r.time;
  }
};

}  // namespace

int main() {
  // Notes: the GNU build-id among other notes, 4-byte aligned.
  {
    std::vector<uint8_t> id(20);
    for (size_t i = 0; i < id.size(); i++) id[i] = static_cast<uint8_t>(i * 7 + 1);
    std::vector<uint8_t> blob = note(6, "Linux", {1, 2, 3});
    std::vector<uint8_t> bid = note(3, "GNU", id);
    blob.insert(blob.end(), bid.begin(), bid.end());
    CHECK(build_id_from_notes(blob.data(), blob.size()) == id);
    CHECK(build_id_hex(id).size() == 40);
    CHECK(build_id_from_notes(blob.data(), blob.size() - 4).empty());  // truncated: no id
    CHECK(build_id_from_notes(nullptr, 0).empty());
  }
  // An ELF on disk: this driver itself (built with a GNU build-id).
  std::vector<uint8_t> self_id = build_id_from_elf_file("/proc/self/exe");
  CHECK(self_id.size() == 20);
  CHECK(build_id_from_elf_file("/nonexistent").empty());
  CHECK(vdso_build_id().size() == 20);
  if (::access("/sys/kernel/notes", R_OK) == 0) CHECK(build_id_from_notes_file("/sys/kernel/notes").size() == 20);

  // Synthesized records: 8-byte aligned, ending in a zeroed 32-byte trailer.
  {
    SideBandSynthesizer synth(kProfileIdTrailer);
    synth.comm(10, 11, "worker");
    synth.mmap2(10, 10, 0x400000, 0x1000, 0x2000, 8, 1, 1234, 5, 2, "/usr/bin/x");
    synth.mmap(PERF_RECORD_MISC_KERNEL, -1, 0, 0xffffffff81000000ull, 0x100, 0xffffffff81000000ull, "[kernel.kallsyms]_text");
    const std::vector<uint8_t>& r = synth.records();
    size_t off = 0;
    int n = 0;
    while (off < r.size()) {
      uint16_t size = at<uint16_t>(r.data(), off + 6);
      CHECK(size % 8 == 0);
      for (size_t i = off + size - kProfileIdTrailer; i < off + size; i++) CHECK(r[i] == 0);
      if (n == 0) CHECK(std::string(reinterpret_cast<const char*>(r.data() + off + 16)) == "worker");
      if (n == 1) {
        CHECK(at<uint32_t>(r.data(), off) == PERF_RECORD_MMAP2);
        CHECK(at<uint64_t>(r.data(), off + 32) == 0x2000);  // pgoff
        CHECK(at<uint32_t>(r.data(), off + 64) == 5);       // prot r-x
        CHECK(std::string(reinterpret_cast<const char*>(r.data() + off + 72)) == "/usr/bin/x");
      }
      off += size;
      n++;
    }
    CHECK(n == 3 && off == r.size());
  }
  // This process from /proc: its executable is among the MMAP2s.
  {
    SideBandSynthesizer synth(kProfileIdTrailer);
    synth.process(::getpid());
    char exe[4096] = {0};
    CHECK(::readlink("/proc/self/exe", exe, sizeof exe - 1) > 0);
    bool found = false, comm = false;
    const std::vector<uint8_t>& r = synth.records();
    for (size_t off = 0; off < r.size(); off += at<uint16_t>(r.data(), off + 6)) {
      uint32_t type = at<uint32_t>(r.data(), off);
      if (type == PERF_RECORD_MMAP2 && std::string(reinterpret_cast<const char*>(r.data() + off + 72)) == exe) found = true;
      if (type == PERF_RECORD_COMM && at<int32_t>(r.data(), off + 8) == ::getpid()) comm = true;
    }
    CHECK(found);
    CHECK(comm);
  }

  // Hit tracking: maps per process, FORK copies, an exec's COMM drops them.
  {
    KernelImage k;
    k.mmap_name = "[kernel.kallsyms]";
    k.start = 0xffffffff81000000ull;
    k.end = 0xffffffff82000000ull;
    SideBandSynthesizer synth(kProfileIdTrailer);
    synth.mmap(PERF_RECORD_MISC_KERNEL, -1, 0, k.start, k.end - k.start, k.start, "[kernel.kallsyms]_text");
    synth.mmap2(100, 100, 0x1000, 0x1000, 0, 0, 0, 0, 5, 2, "/bin/a");
    synth.mmap2(100, 100, 0x1800, 0x1000, 0, 0, 0, 0, 5, 2, "/bin/b");  // overlaps a's upper half
    synth.fork(101, 100, 101, 100);
    DsoHitTracker t({k});
    t.feed(synth.records());
    auto sample = [&](int32_t pid, uint64_t ip, uint16_t mode) {
      Sample s;
      s.pid = s.tid = pid;
      s.ip = ip;
      s.misc = mode;
      t.on_sample(s);
    };
    sample(100, 0x1100, PERF_RECORD_MISC_USER);                 // a
    sample(100, 0x1900, PERF_RECORD_MISC_USER);                 // b (replaced a there)
    sample(101, 0x1100, PERF_RECORD_MISC_USER);                 // a, through the fork
    sample(100, 0xffffffff81001000ull, PERF_RECORD_MISC_KERNEL);
    sample(100, 0x9000, PERF_RECORD_MISC_USER);                 // no map
    SideBandSynthesizer exec(kProfileIdTrailer);
    exec.comm(101, 101, "new");
    std::vector<uint8_t> rec = exec.records();
    uint16_t misc = PERF_RECORD_MISC_COMM_EXEC;
    std::memcpy(rec.data() + 4, &misc, 2);
    t.feed(rec);
    sample(101, 0x1100, PERF_RECORD_MISC_USER);                 // gone with the exec
    std::vector<HitDso> hits = t.hits();
    CHECK(hits.size() == 3);
    if (hits.size() == 3) {
      CHECK(hits[0].name == "/bin/a" && hits[0].samples == 2);
      CHECK(hits[1].name == "/bin/b" && hits[1].samples == 1);
      CHECK(hits[2].name == "[kernel.kallsyms]" && hits[2].cpumode == PERF_RECORD_MISC_KERNEL);
    }
    CHECK(t.unresolved() == 2);

    // HEADER_BUILD_ID: kernel first, 64-aligned names, the size byte set.
    std::vector<HitDso> with_self = hits;
    HitDso me;
    me.name = "/proc/self/exe";
    me.cpumode = PERF_RECORD_MISC_USER;
    with_self.push_back(me);
    std::vector<std::string> missing;
    KernelImage kk = k;
    kk.notes_path = "/sys/kernel/notes";
    std::vector<uint8_t> f = build_id_feature(with_self, {kk}, "", &missing);
    CHECK(missing.size() == 2);  // /bin/a and /bin/b do not exist
    size_t off = 0;
    std::vector<std::string> names;
    while (off + 36 <= f.size()) {
      uint16_t size = at<uint16_t>(f.data(), off + 6);
      CHECK((size - 36) % 64 == 0);
      CHECK(at<uint16_t>(f.data(), off + 4) & (1u << 15));
      CHECK(at<int32_t>(f.data(), off + 8) == -1);
      CHECK(f[off + 32] == 20);
      names.push_back(reinterpret_cast<const char*>(f.data() + off + 36));
      if (names.back() == "/proc/self/exe") CHECK(std::memcmp(f.data() + off + 12, self_id.data(), 20) == 0);
      off += size;
    }
    CHECK(off == f.size());
    if (::access("/sys/kernel/notes", R_OK) == 0) {
      CHECK(names.size() == 2 && names[0] == "[kernel.kallsyms]" && names[1] == "/proc/self/exe");
    }
  }


  // Guest kernels: a sample in guest kernel mode hits the kernel of its
  // QEMU pid (GUESTMOUNT/<pid>), else the default guest (pid 0); their
  // build-ids come from the guest's notes, else --guestvmlinux.
  {
    char tmpl[] = "/tmp/kvmlens-guest-XXXXXX";
    CHECK(::mkdtemp(tmpl) != nullptr);
    std::string notes_path = std::string(tmpl) + "/notes";
    std::vector<uint8_t> gid(20, 0xab);
    std::vector<uint8_t> blob = note(3, "GNU", gid);
    FILE* nf = std::fopen(notes_path.c_str(), "wb");
    std::fwrite(blob.data(), 1, blob.size(), nf);
    std::fclose(nf);
    KernelImage host;
    host.mmap_name = "[kernel.kallsyms]";
    KernelImage g42;
    g42.guest = true;
    g42.pid = 4242;
    g42.mmap_name = "[guest.kernel.kallsyms.4242]";
    g42.notes_path = notes_path;
    KernelImage g0;
    g0.guest = true;
    g0.pid = 0;
    g0.mmap_name = "[guest.kernel.kallsyms]";
    DsoHitTracker t({host, g42, g0});
    Sample s;
    s.misc = PERF_RECORD_MISC_GUEST_KERNEL;
    s.ip = 0xffffffff81001000ull;
    s.pid = 4242;
    t.on_sample(s);
    s.pid = 777;  // no guestmount dir of its own: the default guest
    t.on_sample(s);
    std::vector<HitDso> hits = t.hits();
    CHECK(hits.size() == 2);
    if (hits.size() == 2) {
      CHECK(hits[0].name == "[guest.kernel.kallsyms.4242]" && hits[0].machine_pid == 4242);
      CHECK(hits[1].name == "[guest.kernel.kallsyms]" && hits[1].machine_pid == 0);
    }
    std::vector<std::string> missing;
    std::vector<uint8_t> f = build_id_feature(hits, {host, g42, g0}, "/proc/self/exe", &missing);
    CHECK(missing.empty());
    size_t off = 0;
    int n = 0;
    while (off + 36 <= f.size()) {
      uint16_t size = at<uint16_t>(f.data(), off + 6);
      CHECK((at<uint16_t>(f.data(), off + 4) & 7) == PERF_RECORD_MISC_GUEST_KERNEL);
      if (n == 0) {
        CHECK(at<int32_t>(f.data(), off + 8) == 4242);
        CHECK(std::memcmp(f.data() + off + 12, gid.data(), 20) == 0);  // from its notes
      } else {
        CHECK(at<int32_t>(f.data(), off + 8) == 0);
        CHECK(std::memcmp(f.data() + off + 12, self_id.data(), 20) == 0);  // from the "vmlinux"
      }
      off += size;
      n++;
    }
    CHECK(n == 2);
    std::remove(notes_path.c_str());
    ::rmdir(tmpl);
  }

  if (::geteuid() != 0) {
    std::printf("profile_record_test: sampling part skipped (needs root)\n");
    return finish("profile_record_test");
  }
  // Sampling this thread: cpu-clock (no PMU needed), user ips inside spin().
  {
    SamplingOptions o;
    o.system_wide = false;
    o.tids = {static_cast<int32_t>(::syscall(SYS_gettid))};
    o.try_hardware = false;
    o.freq = 2000;
    o.mmap_pages = 64;
    SamplingSource src(o);
    CHECK(src.event_name() == "cpu-clock");
    CHECK(src.kernel_attrs()[0].type == PERF_TYPE_SOFTWARE && src.kernel_attrs()[0].mmap2 == 1);
    Collect c;
    c.spin_lo = reinterpret_cast<uint64_t>(&spin);
    c.spin_hi = c.spin_lo + 512;
    std::mutex m;
    src.start(&c, &m, nullptr);
    spin(0.5);
    src.stop();
    std::lock_guard<std::mutex> hold(m);
    std::printf("profile_record_test: %llu samples, %llu in spin(), %llu side band\n",
                static_cast<unsigned long long>(c.samples), static_cast<unsigned long long>(c.in_spin),
                static_cast<unsigned long long>(c.side));
    CHECK(c.samples > 200);                 // 2000 Hz for 0.5 s of CPU
    CHECK(c.in_spin * 10 > c.samples * 8);  // nearly all of them in the loop
    CHECK(c.user * 10 > c.samples * 8);
    CHECK(c.unordered == 0);
  }
  return finish("profile_record_test");
}
