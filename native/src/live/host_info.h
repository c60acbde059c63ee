// Facts about this machine that a recording carries: perf's CPUID string
// ("GenuineIntel,6,85,4": vendor,family,model,stepping), arch, CPUs.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace kvmlens {

std::string host_cpuid();
std::string host_arch();
std::vector<int> online_cpus();  // from /sys/devices/system/cpu/online

}  // namespace kvmlens
