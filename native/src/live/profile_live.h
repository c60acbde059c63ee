// `kvmlens top`: the sampling source of `record` feeding the profile
// aggregator of `report` (profile/profile_aggregator.h) live, under one
// mutex; JS takes a resolved snapshot per interval. The side band of what
// already runs is synthesized first (proc_synth), as for record.
#pragma once
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "live/profile_record.h"
#include "live/sampling_source.h"
#include "profile/profile_aggregator.h"
#include "profile/symbolizer.h"

namespace kvmlens {

struct ProfileLiveOptions {
  ProfileTarget target;
  profile::SymbolizerOptions symbols;
  std::vector<int32_t> synth_pids;  // when not system-wide
};

class ProfileLive {
 public:
  explicit ProfileLive(const ProfileLiveOptions& options);  // throws SetupError
  ~ProfileLive();

  // The counts so far, symbols resolved; `reset` starts the next interval
  // (threads and maps are kept).
  profile::ProfileSnapshot snapshot(bool reset);
  void stop();
  bool running() const { return source_->running(); }
  const std::vector<EventAttr>& attrs() const { return source_->attrs(); }
  const std::string& event_name() const { return source_->event_name(); }
  const std::vector<std::string>& setup_warnings() const { return warnings_; }
  uint64_t lost() const;

 private:
  std::unique_ptr<SamplingSource> source_;
  std::unique_ptr<profile::Symbolizer> symbolizer_;
  std::unique_ptr<profile::ProfileAggregator> aggregator_;
  std::vector<std::string> warnings_;
  std::mutex mutex_;
};

}  // namespace kvmlens
