// Parsing of everything in a perf.data file except the data records: the
// file header, attrs with their ids, and the feature sections; and, for pipe
// files, the HEADER_* records that carry the same information.
#pragma once
#include <cstdint>

#include "perf/perf_data.h"

namespace kvmlens {

// `data` is the whole file. Fills info (attrs, features, data range).
void parse_file_header(const uint8_t* data, uint64_t size, PerfFileInfo* info);

// perf_event_attr bytes -> EventAttr (type, config, sample_type, ...).
EventAttr parse_attr(const uint8_t* data, uint64_t offset, uint64_t attr_size, uint64_t limit);

// One feature section's payload into info (pipe HEADER_FEATURE uses it too).
void parse_feature(int feature, const uint8_t* data, uint64_t offset, uint64_t size, PerfFileInfo* info);

// build_id_event records (HEADER_BUILD_ID payload, or one pipe record).
void parse_build_ids(const uint8_t* data, uint64_t offset, uint64_t size, PerfFileInfo* info);

}  // namespace kvmlens
