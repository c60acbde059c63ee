// A profile snapshot as JS, the one shape report, diff and top format:
// strings, rows as typed-array columns, events, lost, warnings, notes.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/sample.h"
#include "profile/profile_aggregator.h"

namespace kvmlens_addon {

// A JS array of the strings.
Napi::Array string_array(Napi::Env env, const std::vector<std::string>& strings);

// `attrs` names the snapshot's events (by index); `lost` is reported as is.
Napi::Object profile_snapshot_to_js(Napi::Env env, const kvmlens::profile::ProfileSnapshot& snap,
                                    const std::vector<kvmlens::EventAttr>& attrs, uint64_t lost);

}  // namespace kvmlens_addon
