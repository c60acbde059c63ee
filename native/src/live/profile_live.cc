#include "live/profile_live.h"

#include "live/proc_synth.h"

namespace kvmlens {

ProfileLive::ProfileLive(const ProfileLiveOptions& options) {
  source_ = std::make_unique<SamplingSource>(options.target.sampling);
  if (!source_->fallback().empty() && options.target.sampling.try_hardware) warnings_.push_back(source_->fallback());
  if (!source_->kernel_excluded().empty()) warnings_.push_back(source_->kernel_excluded());
  symbolizer_ = std::make_unique<profile::Symbolizer>(options.symbols);
  aggregator_ = std::make_unique<profile::ProfileAggregator>(*symbolizer_, source_->attrs());
  source_->enable();
  SideBandSynthesizer synth(kProfileIdTrailer);
  std::string warning;
  synth.host_kernel(&warning);
  if (!warning.empty() && source_->kernel_excluded().empty()) warnings_.push_back(warning);
  synth.guest_kernels(options.target.guestmount, options.target.guestkallsyms, options.target.guestmodules);
  if (options.target.sampling.system_wide) {
    synth.all_processes();
  } else {
    for (int32_t pid : options.synth_pids) synth.process(pid);
  }
  feed_side_band(synth.records(), aggregator_.get());
  source_->start(aggregator_.get(), &mutex_, nullptr);
}

ProfileLive::~ProfileLive() { stop(); }

void ProfileLive::stop() { source_->stop(); }

profile::ProfileSnapshot ProfileLive::snapshot(bool reset) {
  std::lock_guard<std::mutex> hold(mutex_);
  profile::ProfileSnapshot snap = aggregator_->snapshot();
  if (reset) aggregator_->reset_counts();
  return snap;
}

uint64_t ProfileLive::lost() const {
  uint64_t n = 0;
  for (uint64_t l : source_->lost_per_cpu()) n += l;
  return n;
}

}  // namespace kvmlens
