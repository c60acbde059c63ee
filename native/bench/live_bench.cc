// Live path cost: a child process calls getppid() in a tight loop on one
// core while the drain thread reads syscalls:sys_enter_getppid and
// sys_exit_getppid (two events per call, so one core of getppid makes well
// over 1 M events/s) from the ring buffers into a counting sink on the
// other. Prints events/s, the drain thread's user and system CPU per event
// (RUSAGE_THREAD) and lost events.
//   build/live_bench [seconds] [mmap_pages] [enter|both]
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

#include "live/live_source.h"

using namespace kvmlens;

struct CountingSink : RecordSink {
  uint64_t samples = 0;
  double user_s = 0, sys_s = 0;
  void on_sample(const Sample&) override {
    // Sample the drain thread's CPU time now and then (we run on it).
    if ((++samples & 0xffff) == 0) thread_cpu();
  }
  void thread_cpu() {
    rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    user_s = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
    sys_s = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  }
};

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 3;
  uint64_t pages = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 512;
  LiveOptions o;
  const bool both = argc <= 3 || std::string(argv[3]) != "enter";
  o.tracepoints = {"syscalls:sys_enter_getppid"};
  if (both) o.tracepoints.push_back("syscalls:sys_exit_getppid");
  o.mmap_pages = pages;
  CountingSink sink;
  std::mutex mu;
  LiveSource src(o, "/sys/kernel/tracing");
  src.start(&sink, &mu, nullptr);
  pid_t child = fork();
  if (child == 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(1, &set);
    sched_setaffinity(0, sizeof set, &set);
    for (;;) syscall(SYS_getppid);
  }
  auto t0 = std::chrono::steady_clock::now();
  usleep(static_cast<useconds_t>(seconds * 1e6));
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  src.stop();
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  uint64_t lost = 0;
  for (uint64_t l : src.lost_per_cpu()) lost += l;
  const double n = sink.samples ? static_cast<double>(sink.samples) : 1.0;
  std::printf("events %llu in %.2f s = %.0f events/s (%s); drain thread user %.3f s = %.1f ns/event, "
              "system %.3f s = %.1f ns/event; lost %llu (mmap %llu pages per CPU)\n",
              (unsigned long long)sink.samples, wall, sink.samples / wall, both ? "enter+exit" : "enter only",
              sink.user_s, sink.user_s * 1e9 / n, sink.sys_s, sink.sys_s * 1e9 / n, (unsigned long long)lost,
              (unsigned long long)pages);
  return 0;
}
