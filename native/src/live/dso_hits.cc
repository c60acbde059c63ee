#include "live/dso_hits.h"

#include <linux/perf_event.h>

#include <algorithm>
#include <cstring>

namespace kvmlens {

namespace {

template <class T>
T at(const uint8_t* p, size_t off) {
  T v;
  std::memcpy(&v, p + off, sizeof v);
  return v;
}

std::string name_at(const uint8_t* rec, size_t off, size_t size) {
  if (off >= size) return "";
  const char* s = reinterpret_cast<const char*>(rec + off);
  return std::string(s, strnlen(s, size - off));
}

}  // namespace

uint32_t DsoHitTracker::dso_index(const std::string& name, uint16_t cpumode, int32_t machine_pid, int32_t pid) {
  std::string key = std::to_string(machine_pid) + ":" + std::to_string(cpumode) + ":" + name;
  auto it = dso_by_key_.find(key);
  if (it != dso_by_key_.end()) return it->second;
  HitDso d;
  d.name = name;
  d.cpumode = cpumode;
  d.machine_pid = machine_pid;
  d.pid = pid;
  dsos_.push_back(d);
  uint32_t i = static_cast<uint32_t>(dsos_.size() - 1);
  dso_by_key_.emplace(std::move(key), i);
  return i;
}

void DsoHitTracker::insert(std::vector<Map>* maps, Map m) {
  // A new mapping replaces whatever it overlaps (the kernel's semantics).
  std::vector<Map> keep;
  keep.reserve(maps->size() + 2);
  for (const Map& o : *maps) {
    if (o.end <= m.start || o.start >= m.end) {
      keep.push_back(o);
      continue;
    }
    if (o.start < m.start) keep.push_back({o.start, m.start, o.dso});
    if (o.end > m.end) keep.push_back({m.end, o.end, o.dso});
  }
  keep.push_back(m);
  std::sort(keep.begin(), keep.end(), [](const Map& a, const Map& b) { return a.start < b.start; });
  maps->swap(keep);
}

const DsoHitTracker::Map* DsoHitTracker::find(const std::vector<Map>& maps, uint64_t ip) {
  auto it = std::upper_bound(maps.begin(), maps.end(), ip, [](uint64_t v, const Map& m) { return v < m.start; });
  if (it == maps.begin()) return nullptr;
  --it;
  return ip < it->end ? &*it : nullptr;
}

void DsoHitTracker::hit(uint32_t dso) {
  if (dsos_[dso].samples++ == 0) hit_order_.push_back(dso);
}

void DsoHitTracker::on_sample(const Sample& s) {
  samples_++;
  if (s.time && (!first_time_ || s.time < first_time_)) first_time_ = s.time;
  if (s.time > last_time_) last_time_ = s.time;
  const uint16_t mode = s.misc & PERF_RECORD_MISC_CPUMODE_MASK;
  if (mode == PERF_RECORD_MISC_USER) {
    auto it = user_maps_.find(s.pid);
    const Map* m = it == user_maps_.end() ? nullptr : find(it->second, s.ip);
    if (m) hit(m->dso);
    else unresolved_++;
    return;
  }
  if (mode == PERF_RECORD_MISC_KERNEL || mode == PERF_RECORD_MISC_GUEST_KERNEL) {
    const bool guest = mode == PERF_RECORD_MISC_GUEST_KERNEL;
    // The machine: the host, the guest of this pid, else the default guest.
    const KernelImage* k = nullptr;
    for (const KernelImage& img : kernels_)
      if (img.guest == guest && (!guest || img.pid == s.pid)) k = &img;
    if (!k && guest)
      for (const KernelImage& img : kernels_)
        if (img.guest && img.pid == 0) k = &img;
    if (!k) {
      unresolved_++;
      return;
    }
    auto it = kernel_maps_.find(k->pid);
    const Map* m = it == kernel_maps_.end() ? nullptr : find(it->second, s.ip);
    if (m) {
      hit(m->dso);
    } else {
      // perf's kernel map reaches up to the first module: anything above
      // the kernel's start that is in no module is the kernel's.
      hit(dso_index(k->mmap_name, guest ? PERF_RECORD_MISC_GUEST_KERNEL : PERF_RECORD_MISC_KERNEL, k->pid, -1));
    }
    return;
  }
  unresolved_++;  // guest user space, hypervisor: no maps for those
}

void DsoHitTracker::on_side_band(const SideBandRecord& r) {
  const uint8_t* p = r.record;
  const uint16_t mode = r.misc & PERF_RECORD_MISC_CPUMODE_MASK;
  switch (r.type) {
    case PERF_RECORD_MMAP:
    case PERF_RECORD_MMAP2: {
      const size_t name_off = r.type == PERF_RECORD_MMAP ? 40 : 72;
      if (r.size < name_off) return;
      int32_t pid = at<int32_t>(p, 8);
      uint64_t start = at<uint64_t>(p, 16), len = at<uint64_t>(p, 24);
      std::string name = name_at(p, name_off, r.size);
      if (mode == PERF_RECORD_MISC_KERNEL || mode == PERF_RECORD_MISC_GUEST_KERNEL) {
        const bool guest = mode == PERF_RECORD_MISC_GUEST_KERNEL;
        int32_t machine = guest ? pid : -1;
        // The kernel's own map is named "<mmap name><ref symbol>".
        for (const KernelImage& k : kernels_)
          if (k.guest == guest && k.pid == machine && name.rfind(k.mmap_name, 0) == 0) name = k.mmap_name;
        insert(&kernel_maps_[machine], {start, start + len, dso_index(name, mode, machine, -1)});
      } else if (mode == PERF_RECORD_MISC_USER) {
        insert(&user_maps_[pid], {start, start + len, dso_index(name, mode, -1, pid)});
      }
      return;
    }
    case PERF_RECORD_COMM:
      if ((r.misc & PERF_RECORD_MISC_COMM_EXEC) && r.size >= 16 && at<int32_t>(p, 8) == at<int32_t>(p, 12))
        user_maps_.erase(at<int32_t>(p, 8));
      return;
    case PERF_RECORD_FORK:
      if (r.size >= 24) {
        int32_t pid = at<int32_t>(p, 8), ppid = at<int32_t>(p, 12);
        if (pid != ppid) {
          auto it = user_maps_.find(ppid);
          if (it != user_maps_.end()) user_maps_[pid] = it->second;
        }
      }
      return;
    default:
      return;
  }
}

void DsoHitTracker::feed(const std::vector<uint8_t>& records) { feed_side_band(records, this); }

std::vector<HitDso> DsoHitTracker::hits() const {
  std::vector<HitDso> out;
  for (uint32_t i : hit_order_) out.push_back(dsos_[i]);
  return out;
}

}  // namespace kvmlens
