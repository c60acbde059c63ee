// The live ring-buffer path on tracepoints that fire here: a known number of
// getppid() calls must be counted exactly, in time order, with nothing lost.
// Skips (exit 0) without root or tracefs.
#include <sys/syscall.h>
#include <unistd.h>

#include <mutex>

#include "check.h"
#include "core/errors.h"
#include "live/live_source.h"
#include "live/mmap_pages.h"

using namespace kvmlens;

struct Count : RecordSink {
  pid_t tid = static_cast<pid_t>(::syscall(SYS_gettid));
  uint64_t mine = 0, all = 0, unordered = 0, last = 0;
  void on_sample(const Sample& s) override {
    all++;
    if (s.tid == tid) mine++;
    if (s.time < last) unordered++;
    last = s.time;
  }
};

int main() {
  CHECK(parse_mmap_pages("512", 4096) == 512);
  CHECK(parse_mmap_pages("4M", 4096) == 1024);
  CHECK(parse_mmap_pages("100K", 4096) == 32);
  for (const char* bad : {"3", "", "x", "12Q", "0"}) {
    try {
      parse_mmap_pages(bad, 4096);
      CHECK(false);
    } catch (const SetupError&) {
    }
  }
  if (::geteuid() != 0 || ::access("/sys/kernel/tracing/events/syscalls/sys_enter_getppid/id", R_OK) != 0) {
    std::printf("live_test: skip (needs root and tracefs with syscalls:sys_enter_getppid)\n");
    return finish("live_test");
  }
  LiveOptions o;
  o.tracepoints = {"syscalls:sys_enter_getppid"};
  o.mmap_pages = 512;
  Count c;
  std::mutex mu;
  {
    LiveSource src(o, "/sys/kernel/tracing");
    src.start(&c, &mu, nullptr);
    const int kCalls = 100000;
    for (int i = 0; i < kCalls; i++) ::syscall(SYS_getppid);
    src.stop();
    std::lock_guard<std::mutex> hold(mu);
    uint64_t lost = 0;
    for (uint64_t l : src.lost_per_cpu()) lost += l;
    std::printf("live_test: %llu of %d getppid calls seen, %llu lost, %llu samples in all\n",
                (unsigned long long)c.mine, kCalls, (unsigned long long)lost, (unsigned long long)c.all);
    CHECK(lost == 0);
    CHECK(c.mine == static_cast<uint64_t>(kCalls));
    CHECK(c.unordered == 0);
  }
  // A recorder alone (no analyzer, as `stat record`): every record reaches
  // it, and drain passes that read records end rounds (FINISHED_ROUND).
  {
    struct Rounds : RawRecordSink {
      uint64_t records = 0, rounds = 0;
      void on_record(const uint8_t*, uint32_t) override { records++; }
      void on_pass_end() override { rounds++; }
    } raw;
    LiveSource src(o, "/sys/kernel/tracing");
    src.start(nullptr, nullptr, &raw);
    for (int pass = 0; pass < 5; pass++) {
      for (int i = 0; i < 1000; i++) ::syscall(SYS_getppid);
      ::usleep(150000);  // longer than the drain thread's 100 ms wake-up
    }
    src.stop();
    std::printf("live_test: recorder alone: %llu records, %llu rounds\n", (unsigned long long)raw.records,
                (unsigned long long)raw.rounds);
    CHECK(raw.records >= 5000);
    CHECK(raw.rounds >= 5);
  }
  // sched:sched_switch system-wide: events from every CPU, merged in time order.
  if (::access("/sys/kernel/tracing/events/sched/sched_switch/id", R_OK) == 0) {
    LiveOptions s;
    s.tracepoints = {"sched:sched_switch"};
    Count c2;
    std::mutex mu2;
    LiveSource src(s, "/sys/kernel/tracing");
    src.start(&c2, &mu2, nullptr);
    for (int i = 0; i < 200; i++) ::usleep(1000);  // each sleep switches out
    src.stop();
    std::lock_guard<std::mutex> hold(mu2);
    std::printf("live_test: sched_switch: %llu events\n", (unsigned long long)c2.all);
    CHECK(c2.all >= 200);
    CHECK(c2.unordered == 0);
  }
  // The kvm tracepoints attach even where they never fire.
  if (::access("/sys/kernel/tracing/events/kvm/kvm_exit/id", R_OK) == 0) {
    LiveOptions k;
    k.tracepoints = {"kvm:kvm_entry", "kvm:kvm_exit", "kvm:kvm_mmio", "kvm:kvm_pio", "kvm:kvm_msr"};
    LiveSource src(k, "/sys/kernel/tracing");
    CHECK(src.attrs().size() == 5);
    CHECK(!src.attrs()[0].ids.empty());
  }
  return finish("live_test");
}
