#include "live/ring_buffer.h"

#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <string>

#include "core/errors.h"

namespace kvmlens {

PerCpuRings::PerCpuRings() {
  page_size_ = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (epoll_fd_ < 0 || stop_fd_ < 0) {
    int err = errno;
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
    if (stop_fd_ >= 0) ::close(stop_fd_);
    throw SetupError(std::string("epoll/eventfd: ") + std::strerror(err));
  }
  epoll_event sev{};
  sev.events = EPOLLIN;
  sev.data.u64 = ~0ull;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, stop_fd_, &sev);
}

PerCpuRings::~PerCpuRings() {
  stop();
  for (Ring* b : rings_) {
    if (b->base) ::munmap(b->base, b->map_size);
    delete b;
  }
  for (int fd : fds_) ::close(fd);
  ::close(epoll_fd_);
  ::close(stop_fd_);
}

void PerCpuRings::add_cpu(int cpu) {
  auto* b = new Ring();
  b->cpu = cpu;
  rings_.push_back(b);
}

void PerCpuRings::add_event(int fd, uint64_t mmap_pages) {
  fds_.push_back(fd);
  Ring* b = rings_.back();
  if (b->leader_fd >= 0) {
    if (::ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, b->leader_fd) != 0)
      throw SetupError(std::string("PERF_EVENT_IOC_SET_OUTPUT: ") + std::strerror(errno));
    return;
  }
  b->leader_fd = fd;
  b->map_size = (mmap_pages + 1) * page_size_;
  b->base = ::mmap(nullptr, b->map_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (b->base == MAP_FAILED) {
    int err = errno;
    b->base = nullptr;
    if (err == EPERM || err == ENOMEM) {
      std::ifstream f("/proc/sys/kernel/perf_event_mlock_kb");
      std::string limit;
      std::getline(f, limit);
      throw SetupError("cannot map a " + std::to_string(mmap_pages) + "-page ring buffer on CPU " +
                       std::to_string(b->cpu) + " (" + std::strerror(err) +
                       "): above the mlock limit kernel.perf_event_mlock_kb=" + limit +
                       "; use a smaller -m, raise the limit, or grant CAP_IPC_LOCK");
    }
    throw SetupError(std::string("mmap of the ring buffer: ") + std::strerror(err));
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = rings_.size() - 1;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
}

void PerCpuRings::enable_events() {
  for (int fd : fds_) ::ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
}

void PerCpuRings::stop() {
  if (stopping_.exchange(true)) {
    if (thread_.joinable()) thread_.join();
    return;
  }
  for (int fd : fds_) ::ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
  uint64_t one = 1;
  ssize_t w = ::write(stop_fd_, &one, sizeof one);
  (void)w;
  if (thread_.joinable()) thread_.join();
  running_ = false;
}

std::vector<uint64_t> PerCpuRings::lost_per_cpu() const {
  std::vector<uint64_t> out;
  for (const Ring* b : rings_) out.push_back(b->lost.load());
  return out;
}

}  // namespace kvmlens
