#include "perf/page_populator.h"

#include <sys/mman.h>

#include <algorithm>
#include <system_error>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

namespace kvmlens {

namespace {
constexpr uint64_t kStep = 2u << 20;  // one madvise call's span
}

PagePopulator::PagePopulator(const uint8_t* base, uint64_t size, uint64_t ahead)
    : base_(base), size_(size), ahead_(ahead), wanted_(std::min(size, ahead)) {
  try {
    thread_ = std::thread([this] { loop(); });
  } catch (const std::system_error&) {
    // No thread: started() says so and the reader maps pages itself.
  }
}

PagePopulator::~PagePopulator() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> hold(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void PagePopulator::advance(uint64_t pos) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> hold(mutex_);
    wanted_ = std::min(size_, pos + ahead_);
    wake = waiting_;
  }
  if (wake) wake_.notify_one();
}

void PagePopulator::loop() {
  uint64_t done = 0;
  for (;;) {
    uint64_t target;
    {
      std::unique_lock<std::mutex> hold(mutex_);
      waiting_ = true;
      wake_.wait(hold, [&] { return stop_ || done < wanted_; });
      waiting_ = false;
      if (stop_) return;
      target = (wanted_ + 4095) & ~uint64_t{4095};  // madvise wants page-aligned starts
    }
    while (done < target) {
      const uint64_t to = std::min(target, (done + kStep) & ~(kStep - 1));
      // Only a hint: kernels before 5.14 refuse it, and the pages then
      // fault in as the reader touches them.
      if (::madvise(const_cast<uint8_t*>(base_) + done, to - done, MADV_POPULATE_READ) != 0) return;
      done = to;
    }
  }
}

}  // namespace kvmlens
