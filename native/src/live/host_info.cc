#include "live/host_info.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace kvmlens {

std::string host_cpuid() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return "";
  char vendor[13];
  std::memcpy(vendor, &ebx, 4);
  std::memcpy(vendor + 4, &edx, 4);
  std::memcpy(vendor + 8, &ecx, 4);
  vendor[12] = 0;
  __get_cpuid(1, &eax, &ebx, &ecx, &edx);
  // The encoding perf's arch/x86/util/header.c uses.
  unsigned family = (eax >> 8) & 0xf;
  unsigned model = (eax >> 4) & 0xf;
  unsigned stepping = eax & 0xf;
  if (family >= 0xf) family += (eax >> 20) & 0xff;
  if (family >= 0x6) model += ((eax >> 16) & 0xf) << 4;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s,%u,%u,%u", vendor, family, model, stepping);
  return buf;
#else
  return "";
#endif
}

std::string host_arch() {
  struct utsname u;
  if (::uname(&u) != 0) return "";
  return u.machine;
}

std::vector<int> online_cpus() {
  std::vector<int> cpus;
  std::ifstream f("/sys/devices/system/cpu/online");
  std::string text;
  if (!(f >> text)) {
    long n = ::sysconf(_SC_NPROCESSORS_ONLN);
    for (int i = 0; i < n; i++) cpus.push_back(i);
    return cpus;
  }
  std::stringstream ss(text);
  std::string range;
  while (std::getline(ss, range, ',')) {
    int a = 0, b = 0;
    if (std::sscanf(range.c_str(), "%d-%d", &a, &b) == 2) {
      for (int i = a; i <= b; i++) cpus.push_back(i);
    } else if (std::sscanf(range.c_str(), "%d", &a) == 1) {
      cpus.push_back(a);
    }
  }
  return cpus;
}

}  // namespace kvmlens
