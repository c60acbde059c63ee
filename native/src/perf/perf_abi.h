// perf.data / perf_event ABI constants we read (tools/perf/Documentation/
// perf.data-file-format.txt, include/uapi/linux/perf_event.h).
#pragma once
#include <cstdint>

namespace kvmlens {
namespace abi {

// PERF_SAMPLE_* bits
constexpr uint64_t kIp = 1u << 0, kTid = 1u << 1, kTime = 1u << 2, kAddr = 1u << 3,
                   kRead = 1u << 4, kCallchain = 1u << 5, kId = 1u << 6, kCpu = 1u << 7,
                   kPeriod = 1u << 8, kStreamId = 1u << 9, kRaw = 1u << 10,
                   kIdentifier = 1u << 16;
// PERF_FORMAT_* bits
constexpr uint64_t kFmtTotalTimeEnabled = 1, kFmtTotalTimeRunning = 2, kFmtId = 4,
                   kFmtGroup = 8, kFmtLost = 16;
// perf_event_attr flag bit
constexpr uint64_t kAttrSampleIdAll = 1ull << 18;

// Record types
constexpr uint32_t kRecordLost = 2, kRecordSample = 9, kRecordLostSamples = 13;
constexpr uint32_t kUserTypeStart = 64;
constexpr uint32_t kHeaderAttr = 64, kHeaderEventType = 65, kHeaderTracingData = 66,
                   kHeaderBuildId = 67, kFinishedRound = 68, kHeaderFeature = 80;

// Feature bits (HEADER_*)
constexpr int kFeatTracingData = 1, kFeatBuildId = 2, kFeatHostname = 3, kFeatOsRelease = 4, kFeatVersion = 5,
              kFeatArch = 6, kFeatNrCpus = 7, kFeatCpuid = 9, kFeatCmdline = 11,
              kFeatEventDesc = 12;

constexpr uint64_t kFileHeaderSize = 104;
constexpr uint64_t kPipeHeaderSize = 16;
constexpr uint64_t kMinAttrSize = 64;  // PERF_ATTR_SIZE_VER0

}  // namespace abi
}  // namespace kvmlens
