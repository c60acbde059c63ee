#include "profile/profile_aggregator.h"

#include "profile/trace_counter.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <tuple>

#include "perf/perf_abi.h"

namespace kvmlens {
namespace profile {

namespace {

constexpr uint32_t kRecordMmap = 1, kRecordComm = 3, kRecordFork = 7, kRecordMmap2 = 10;
constexpr uint8_t kModeKernel = 1, kModeUser = 2, kModeGuestKernel = 4, kModeGuestUser = 5;

template <class T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

int64_t key_of(int32_t machine, int32_t id) {
  return static_cast<int64_t>((static_cast<uint64_t>(static_cast<uint32_t>(machine)) << 32) | static_cast<uint32_t>(id));
}

std::string bounded_string(const uint8_t* rec, uint32_t off, uint32_t size) {
  if (off >= size) return std::string();
  const char* s = reinterpret_cast<const char*>(rec + off);
  return std::string(s, strnlen(s, size - off));
}

}  // namespace

const ProfileAggregator::Map* ProfileAggregator::MapSet::find(uint64_t ip) {
  if (last < maps.size() && ip >= maps[last].start && ip < maps[last].end) return &maps[last];
  auto it = std::upper_bound(maps.begin(), maps.end(), ip, [](uint64_t a, const Map& m) { return a < m.start; });
  if (it == maps.begin()) return nullptr;
  --it;
  if (ip >= it->end) return nullptr;
  last = static_cast<size_t>(it - maps.begin());
  return &*it;
}

void ProfileAggregator::MapSet::insert(const Map& m) {
  // A new map replaces whatever it overlaps (perf's fixup of overlapping
  // maps): older maps are clipped or split around it.
  std::vector<Map> out;
  out.reserve(maps.size() + 2);
  for (const Map& old : maps) {
    if (old.end <= m.start || old.start >= m.end) {
      out.push_back(old);
      continue;
    }
    if (old.start < m.start) {
      Map left = old;
      left.end = m.start;
      out.push_back(left);
    }
    if (old.end > m.end) {
      Map right = old;
      right.pgoff = old.pgoff + (m.end - old.start);
      right.start = m.end;
      out.push_back(right);
    }
  }
  out.push_back(m);
  std::sort(out.begin(), out.end(), [](const Map& a, const Map& b) { return a.start < b.start; });
  maps.swap(out);
  last = 0;
}

ProfileAggregator::ProfileAggregator(Symbolizer& symbolizer, const std::vector<EventAttr>& attrs)
    : sym_(symbolizer), attrs_(attrs) {
  totals_.resize(attrs.empty() ? 1 : attrs.size());
  intern_comm("swapper");  // comm 0: perf's idle thread
}

uint32_t ProfileAggregator::intern_comm(const std::string& c) {
  auto it = comm_ids_.find(c);
  if (it != comm_ids_.end()) return it->second;
  uint32_t id = static_cast<uint32_t>(comms_.size());
  comms_.push_back(c);
  comm_ids_.emplace(c, id);
  return id;
}

ProfileAggregator::Thread& ProfileAggregator::thread(int32_t machine, int32_t pid, int32_t tid) {
  int64_t key = key_of(machine, tid);
  if (key == last_tid_key_) return threads_[last_thread_];
  bool inserted = false;
  uint32_t& idx = thread_index_.find_or_insert(key, 0, &inserted);
  if (inserted) {
    Thread t;
    t.pid = pid;
    // perf names a thread it has not seen a COMM for ":TID"; tid 0 is "swapper".
    t.comm = tid == 0 && machine < 0 ? 0 : intern_comm(":" + std::to_string(tid));
    idx = static_cast<uint32_t>(threads_.size());
    threads_.push_back(t);
  }
  last_tid_key_ = key;
  last_thread_ = idx;
  return threads_[idx];
}

ProfileAggregator::MapSet& ProfileAggregator::maps_of(int32_t machine, int32_t pid) {
  int64_t key = key_of(machine, pid);
  if (key == last_pid_key_ && last_maps_) return *last_maps_;
  MapSet& m = procs_[key];  // node-based: the pointer stays valid
  last_pid_key_ = key;
  last_maps_ = &m;
  return m;
}

uint16_t ProfileAggregator::event_of(const EventAttr* a) {
  if (a == last_attr_) return last_event_;
  uint16_t ev = 0;
  for (size_t i = 0; i < attrs_.size() && i < 0xffff; i++)
    if (&attrs_[i] == a) ev = static_cast<uint16_t>(i);
  last_attr_ = a;
  last_event_ = ev;
  return ev;
}

void ProfileAggregator::on_sample(const Sample& s) {
  uint16_t ev = event_of(s.attr);
  if (ev >= totals_.size()) totals_.resize(ev + 1u);
  ProfileEventTotals& tot = totals_[ev];
  const bool has_period = s.attr && (s.attr->sample_type & abi::kPeriod);
  const uint64_t period = has_period ? s.period : 1;
  const uint8_t mode = s.misc & 7;
  const SymbolizerOptions& o = sym_.options();
  const bool host_mode = mode == kModeKernel || mode == kModeUser;
  const bool guest_mode = mode == kModeGuestKernel || mode == kModeGuestUser;
  if ((host_mode && !o.host) || (guest_mode && !o.guest)) {
    tot.filtered_samples++;
    tot.filtered_period += period;
    return;
  }
  tot.samples++;
  tot.period += period;
  if (trace_) {
    trace_->add(ev, s.raw, s.raw_size, period);
    if (trace_only_) return;
  }

  const Key k = key_of_ip(ev, s, mode, s.ip);
  if (children_) add_chain(s, k, ev, period);
  bool fresh = false;
  Counts& c = counts_.find_or_insert(k, Counts{}, &fresh);
  if (fresh) {
    c.first = seq_;
    c.thread = last_thread_;  // key_of_ip looked the sample's thread up
  }
  seq_++;
  c.samples++;
  c.period += period;
}

ProfileAggregator::Key ProfileAggregator::key_of_ip(uint16_t ev, const Sample& s, uint8_t mode, uint64_t ip) {
  const SymbolizerOptions& o = sym_.options();
  const bool host_mode = mode == kModeKernel || mode == kModeUser;
  const bool guest_mode = mode == kModeGuestKernel || mode == kModeGuestUser;
  Key k;
  k.event = ev;
  k.addr = ip;
  if (host_mode) {
    k.comm = thread(-1, s.pid, s.tid).comm;
    if (mode == kModeKernel) {
      k.level = 'k';
      // As perf: host kernel addresses resolve through the kernel's MMAP
      // record ([kernel.kallsyms]_text), which every real recording has.
      auto it = kernel_maps_.find(-1);
      if (it != kernel_maps_.end()) {
        if (const Map* m = it->second.find(ip)) {
          k.dso = m->dso;
          if (m->module) k.addr = ip - m->start + m->pgoff;
        } else if (s.callchain) {
          // perf's kernel map reaches up to the next map (its end is fixed
          // up), so callers in .init.text past the MMAP's length are the
          // kernel's: the last non-module map below the address.
          for (const Map& km : it->second.maps)
            if (!km.module && km.start <= ip) k.dso = km.dso;
        }
      }
    } else {
      k.level = '.';
      if (const Map* m = maps_of(-1, s.pid).find(ip)) {
        k.dso = m->dso;
        if (!m->identity) k.addr = ip - m->start + m->pgoff;
      }
    }
  } else if (guest_mode) {
    const int32_t machine = o.guest_mount.empty() ? 0 : s.pid;
    k.comm = thread(machine, s.pid, s.tid).comm;
    if (mode == kModeGuestKernel) {
      k.level = 'g';
      DsoId mod = sym_.guest_module_at(machine, ip);
      if (mod != kNoDso) {
        k.dso = mod;
        k.addr = ip - sym_.dso(mod).base;
      } else {
        // perf needs the guest kernel's MMAP (perf kvm record writes it
        // when given --guestkallsyms); recordings without it still resolve
        // here when report is given the guest's symbols.
        auto it = kernel_maps_.find(machine);
        if (it == kernel_maps_.end() || it->second.maps.empty()) {
          k.dso = sym_.guest_kernel(machine);
        } else if (const Map* m = it->second.find(ip)) {
          k.dso = m->dso;
          if (m->module) k.addr = ip - m->start + m->pgoff;
        }
      }
    } else {
      k.level = 'u';
      if (const Map* m = maps_of(machine, s.pid).find(ip)) {
        k.dso = m->dso;
        if (!m->identity) k.addr = ip - m->start + m->pgoff;
      }
    }
  } else {
    k.comm = thread(-1, s.pid, s.tid).comm;
    k.level = 'H';
  }
  return k;
}

void ProfileAggregator::set_children(const ChildrenKeys& keys) {
  children_keys_ = keys;
  children_ = false;
  for (const EventAttr& a : attrs_)
    if (a.sample_type & abi::kCallchain) children_ = true;
}

// perf's callchain contexts (PERF_CONTEXT_*), as u64.
constexpr uint64_t kContextHv = static_cast<uint64_t>(-32), kContextKernel = static_cast<uint64_t>(-128),
                   kContextUser = static_cast<uint64_t>(-512), kContextMax = static_cast<uint64_t>(-4095);

void ProfileAggregator::add_chain(const Sample& s, const Key& self, uint16_t ev, uint64_t period) {
  // perf's cumulative entries: the sample's own entry, then one per
  // callchain address, in the cpumode its context marker sets (perf drops
  // the chain at a context it does not know, such as a guest's).
  scratch_.clear();
  scratch_.push_back(self);
  uint8_t mode = kModeUser;
  for (uint32_t i = 0; i < s.callchain_nr; i++) {
    const uint64_t ip = load<uint64_t>(s.callchain + 8 * i);
    if (ip >= kContextMax) {
      if (ip == kContextKernel) mode = kModeKernel;
      else if (ip == kContextUser) mode = kModeUser;
      else if (ip == kContextHv) mode = 3;
      else {
        // perf drops the whole chain at a context it does not know (a
        // guest's, or garbage from a user stack): the sample's own entry stays.
        scratch_.resize(1);
        break;
      }
      continue;
    }
    Key k = key_of_ip(ev, s, mode, ip);
    k.raw = ip;
    // perf marks a frame without a map with the sample's own level.
    if (k.dso == kNoDso) k.level = self.level;
    scratch_.push_back(k);
  }
  KeyHash kh;
  uint64_t h = 0x9e3779b97f4a7c15ULL ^ scratch_.size();
  for (const Key& k : scratch_) h = mix64(h ^ kh(k));
  bool fresh = false;
  uint32_t& head = chain_index_.find_or_insert(h, ~0u, &fresh);
  for (uint32_t c = head; c != ~0u; c = chains_[c].next) {
    Chain& ch = chains_[c];
    if (ch.len != scratch_.size()) continue;
    if (!std::equal(scratch_.begin(), scratch_.end(), frames_.begin() + ch.offset)) continue;
    ch.samples++;
    ch.period += period;
    return;
  }
  Chain ch;
  ch.offset = static_cast<uint32_t>(frames_.size());
  ch.len = static_cast<uint32_t>(scratch_.size());
  ch.next = head;
  ch.hash = h;
  ch.samples = 1;
  ch.period = period;
  ch.first = seq_;
  ch.thread = last_thread_;
  frames_.insert(frames_.end(), scratch_.begin(), scratch_.end());
  head = static_cast<uint32_t>(chains_.size());
  chains_.push_back(ch);
}

void ProfileAggregator::on_mmap(const SideBandRecord& r, bool mmap2) {
  const uint32_t name_at = mmap2 ? 72 : 40;
  if (r.size < name_at) return;  // too short to carry a map: ignore, as perf would fail to parse it
  const uint8_t* rec = r.record;
  int32_t pid = load<int32_t>(rec + 8);
  uint64_t start = load<uint64_t>(rec + 16), len = load<uint64_t>(rec + 24), pgoff = load<uint64_t>(rec + 32);
  std::string filename = bounded_string(rec, name_at, r.size);
  const uint8_t mode = r.misc & 7;
  const bool kernel = mode == kModeKernel || mode == kModeGuestKernel;
  const bool guest = mode == kModeGuestKernel || mode == kModeGuestUser;
  const SymbolizerOptions& o = sym_.options();
  int32_t machine = -1;
  if (guest) machine = o.guest_mount.empty() ? 0 : pid;
  uint64_t end = start + len < start ? ~0ULL : start + len;
  if (end <= start) return;
  DsoId dso = sym_.dso_for_mmap(filename, machine, kernel, pid);
  Dso& d = sym_.dso(dso);
  const bool module = d.kind == DsoKind::kModule || d.kind == DsoKind::kGuestModule;
  if (module) d.base = start - pgoff;
  Map m{start, end, pgoff, dso, module, !kernel && Symbolizer::identity_addresses(d, filename)};
  if (kernel) {
    kernel_maps_[machine].insert(m);
  } else {
    maps_of(machine, pid).insert(m);
  }
}

void ProfileAggregator::on_side_band(const SideBandRecord& r) {
  const uint8_t* rec = r.record;
  switch (r.type) {
    case kRecordMmap: on_mmap(r, false); break;
    case kRecordMmap2: on_mmap(r, true); break;
    case kRecordComm: {
      if (r.size < 17) return;
      int32_t pid = load<int32_t>(rec + 8), tid = load<int32_t>(rec + 12);
      const uint8_t mode = r.misc & 7;
      int32_t machine = -1;
      if (mode == kModeGuestKernel || mode == kModeGuestUser) machine = sym_.options().guest_mount.empty() ? 0 : pid;
      uint32_t c = intern_comm(bounded_string(rec, 16, r.size));
      Thread& t = thread(machine, pid, tid);
      t.comm = c;
      t.pid = pid;
      break;
    }
    case kRecordFork: {
      if (r.size < 24) return;
      int32_t pid = load<int32_t>(rec + 8), ppid = load<int32_t>(rec + 12);
      int32_t tid = load<int32_t>(rec + 16), ptid = load<int32_t>(rec + 20);
      uint32_t parent_comm = thread(-1, ppid, ptid).comm;
      Thread& child = thread(-1, pid, tid);
      child.comm = parent_comm;
      child.pid = pid;
      if (pid != ppid) {
        // A new process starts with its parent's maps, and only those: as
        // perf's machine__process_fork_event, which drops any thread left
        // with this pid (pids are reused; pid_max is often 32768) before it
        // clones the parent's maps. Stale maps of a dead process would name
        // the new one's addresses after the old one's DSOs.
        auto parent = procs_.find(key_of(-1, ppid));
        MapSet copy = parent != procs_.end() ? parent->second : MapSet();
        copy.last = 0;
        maps_of(-1, pid) = std::move(copy);
      }
      break;
    }
    default: break;
  }
}

ProfileSnapshot ProfileAggregator::snapshot() {
  ProfileSnapshot snap;
  std::unordered_map<std::string, int32_t> ids;
  auto str = [&](const std::string& s) -> int32_t {
    auto it = ids.find(s);
    if (it != ids.end()) return it->second;
    int32_t id = static_cast<int32_t>(snap.strings.size());
    snap.strings.push_back(s);
    ids.emplace(s, id);
    return id;
  };
  // perf's hist entry identity for comm,dso,sym: the symbol when resolved,
  // else the address.
  using MergeKey = std::tuple<uint32_t, uint32_t, uint32_t, uint64_t, int>;
  std::map<MergeKey, size_t> rows;
  std::vector<uint32_t> comm_str(comms_.size(), ~0u);
  std::vector<int32_t> dso_str(sym_.dso_count(), -1);
  // The row of one key (created with no samples when only a call chain
  // holds it); `hit` marks its DSO as hit (samples, not callers, as perf).
  auto comm_width = [&](uint32_t thread) {
    return thread < threads_.size() ? static_cast<uint32_t>(comms_[threads_[thread].comm].size()) : 0u;
  };
  auto row_of = [&](const Key& k, uint64_t first, bool hit, uint32_t thread) -> size_t {
    Resolved r;
    if (k.dso != kNoDso) {
      if (hit) sym_.dso(k.dso).hit = true;
      r = sym_.resolve(k.dso, k.addr);
    }
    // An unresolved caller is its own address in perf (a sample's entry is
    // the map-relative one).
    const uint64_t addr = !r.sym && k.raw ? k.raw : k.addr;
    uint64_t ident = r.sym ? reinterpret_cast<uintptr_t>(r.sym) : addr;
    MergeKey mk{k.event, k.comm, k.dso, ident, r.sym ? 1 : 0};
    auto it = rows.find(mk);
    if (it == rows.end()) {
      ProfileRow row;
      row.event = k.event;
      if (k.comm >= comm_str.size()) comm_str.resize(k.comm + 1, ~0u);
      if (comm_str[k.comm] == ~0u) comm_str[k.comm] = static_cast<uint32_t>(str(comms_[k.comm]));
      row.comm = comm_str[k.comm];
      if (k.dso != kNoDso) {
        if (k.dso >= dso_str.size()) dso_str.resize(k.dso + 1, -1);
        if (dso_str[k.dso] < 0) dso_str[k.dso] = str(sym_.dso(k.dso).short_name);
        row.dso = dso_str[k.dso];
      }
      row.level = k.level;
      row.addr = addr;
      row.first = first;
      row.comm_width = comm_width(thread);
      if (r.sym) {
        row.sym = str(r.table->name(*r.sym));
        row.sym_start = r.sym->start;
        row.sym_is_object = r.sym->type == kTypeObject;
      }
      it = rows.emplace(mk, snap.rows.size()).first;
      snap.rows.push_back(row);
    }
    ProfileRow& row = snap.rows[it->second];
    if (first < row.first) {
      row.first = first;
      row.addr = addr;
      row.comm_width = comm_width(thread);
    }
    return it->second;
  };
  counts_.for_each([&](const Key& k, Counts& c) {
    ProfileRow& row = snap.rows[row_of(k, c.first, true, c.thread)];
    row.samples += c.samples;
    row.period += c.period;
  });
  if (children_) {
    // Each chain's frames as rows, the rows as entries of the sort keys
    // (perf's hist_entry__cmp: a resolved symbol is its DSO and symbol, an
    // unresolved one its address, with the DSO only when sorted by it),
    // and each chain counted once per distinct entry on it.
    snap.children = true;
    // Chains share most frames: each distinct frame is resolved once.
    auto row_is_resolved = [](const ProfileRow& row) { return row.sym >= 0; };
    std::vector<uint32_t> frame_rows(frames_.size());
    FlatMap<Key, uint32_t, KeyHash> frame_row(4096);
    for (const Chain& ch : chains_)
      for (uint32_t i = 0; i < ch.len; i++) {
        const Key& k = frames_[ch.offset + i];
        bool fresh = false;
        uint32_t& r = frame_row.find_or_insert(k, 0, &fresh);
        if (fresh) {
          r = static_cast<uint32_t>(row_of(k, ch.first, false, ch.thread));
        } else {
          ProfileRow& row = snap.rows[r];
          if (ch.first < row.first) {  // as row_of: the entry keeps its earliest address
            row.first = ch.first;
            row.addr = !row_is_resolved(row) && k.raw ? k.raw : k.addr;
            row.comm_width = comm_width(ch.thread);
          }
        }
        frame_rows[ch.offset + i] = r;
      }
    using GroupKey = std::tuple<uint32_t, int64_t, int64_t, int32_t, uint64_t>;
    std::map<GroupKey, uint32_t> groups;
    const ChildrenKeys& ck = children_keys_;
    for (ProfileRow& row : snap.rows) {
      const bool resolved = row.sym >= 0;
      const bool dso_in_key = ck.dso || (ck.sym && resolved);
      GroupKey gk{row.event, ck.comm ? row.comm : -1, dso_in_key ? row.dso : -2, ck.sym ? (resolved ? row.sym : -1) : -2,
                  ck.sym ? (resolved ? row.sym_start : row.addr) : 0};
      auto it = groups.find(gk);
      if (it == groups.end()) {
        it = groups.emplace(gk, static_cast<uint32_t>(snap.groups.size())).first;
        snap.groups.emplace_back();
      }
      row.group = it->second;
    }
    std::vector<uint32_t> seen;
    for (const Chain& ch : chains_) {
      seen.clear();
      for (uint32_t i = 0; i < ch.len; i++) {
        const uint32_t g = snap.rows[frame_rows[ch.offset + i]].group;
        if (std::find(seen.begin(), seen.end(), g) != seen.end()) continue;  // recursion, or several frames in one entry
        seen.push_back(g);
        snap.groups[g].samples += ch.samples;
        snap.groups[g].period += ch.period;
      }
    }
  }
  snap.events = totals_;
  snap.lost = lost_;
  snap.lost_samples = lost_samples_;
  snap.warnings = sym_.take_warnings();
  snap.notes = sym_.take_notes();
  return snap;
}

void ProfileAggregator::reset_counts() {
  counts_ = FlatMap<Key, Counts, KeyHash>(4096);
  frames_.clear();
  chains_.clear();
  chain_index_ = FlatMap<uint64_t, uint32_t, HashHash>(1024);
  for (ProfileEventTotals& t : totals_) t = ProfileEventTotals{};
  lost_ = lost_samples_ = 0;
}

std::vector<DsoId> ProfileAggregator::hit_dsos() const {
  std::vector<DsoId> out;
  for (DsoId i = 0; i < sym_.dso_count(); i++)
    if (sym_.dso(i).hit) out.push_back(i);
  return out;
}

}  // namespace profile
}  // namespace kvmlens
