#include "profile/trace_counter.h"

#include <algorithm>
#include <cstring>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "core/flat_map.h"
#include "trace/event_printer.h"
#include "trace/tracing_data.h"

namespace kvmlens {
namespace profile {

namespace {

constexpr uint32_t kPerfTypeTracepoint = 2;

uint64_t hash_bytes(const uint8_t* p, uint32_t n, uint64_t seed) {
  uint64_t h = seed ^ (0x9e3779b97f4a7c15ULL * (n + 1));
  uint32_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = mix64(h ^ w) + 0x9e3779b97f4a7c15ULL;
  }
  if (i < n) {
    uint64_t w = 0;
    std::memcpy(&w, p + i, n - i);
    h = mix64(h ^ w ^ 0xff);
  }
  return h;
}

}  // namespace

TraceCounter::TraceCounter(const std::vector<EventAttr>& attrs, const TracingData* tracing, FunctionResolver resolve) {
  events_.resize(attrs.size() + 1);
  for (size_t i = 0; i < attrs.size(); i++) {
    if (attrs[i].type != kPerfTypeTracepoint || !tracing) continue;
    const EventFormat* f = tracing->find(static_cast<uint32_t>(attrs[i].config));
    if (!f) continue;
    events_[i].printer = std::make_unique<EventPrinter>(*f, tracing->long_size);
    events_[i].name = f->full_name();
    events_[i].printer->set_printk(&tracing->printk);
    if (resolve) events_[i].printer->set_function_resolver(resolve);
    if (!events_[i].printer->reads_common_fields()) events_[i].skip = events_[i].printer->common_size();
  }
  slots_.resize(1024);
}

TraceCounter::~TraceCounter() = default;

void TraceCounter::add(uint16_t event, const uint8_t* raw, uint32_t raw_size, uint64_t period) {
  if (event >= events_.size()) event = 0;
  EventInfo& info = events_[event];
  info.hit = true;
  if (!info.printer || !raw) raw_size = 0;  // one "N/A" slot per event
  const uint32_t skip = raw_size > info.skip ? info.skip : raw_size;
  const uint8_t* key = raw ? raw + skip : nullptr;
  const uint32_t key_size = raw_size - skip;
  const uint64_t h = hash_bytes(key, key_size, event);
  if ((used_ + 1) * 4 > slots_.size() * 3) grow();
  const size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    Slot& s = slots_[i];
    if (!s.used) {
      s.used = true;
      s.hash = h;
      s.event = event;
      s.offset = static_cast<uint32_t>(arena_.size());
      s.size = raw_size;
      if (raw_size) arena_.insert(arena_.end(), raw, raw + raw_size);
      s.samples = 1;
      s.period = period;
      used_++;
      return;
    }
    if (s.hash == h && s.event == event && s.size - std::min(s.size, info.skip) == key_size &&
        (key_size == 0 || std::memcmp(arena_.data() + s.offset + (s.size - key_size), key, key_size) == 0)) {
      s.samples++;
      s.period += period;
      return;
    }
  }
}

void TraceCounter::grow() {
  std::vector<Slot> old;
  old.swap(slots_);
  slots_.resize(old.size() * 2);
  const size_t mask = slots_.size() - 1;
  for (const Slot& s : old) {
    if (!s.used) continue;
    size_t i = s.hash & mask;
    while (slots_[i].used) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

std::vector<TraceRow> TraceCounter::snapshot() const {
  // Format each distinct payload once; merge equal texts of an event (one
  // hash lookup each); then perf's order: event, period descending, text
  // in strcmp order (sort__trace_cmp).
  std::vector<TraceRow> rows;
  rows.reserve(used_);  // no reallocation: the index below points into the texts
  std::vector<std::unordered_map<std::string_view, size_t>> index(events_.size());
  {
    std::vector<size_t> per_event(events_.size());
    for (const Slot& s : slots_)
      if (s.used) per_event[s.event]++;
    for (size_t e = 0; e < events_.size(); e++) index[e].reserve(per_event[e]);
  }
  std::string text;
  for (const Slot& s : slots_) {
    if (!s.used) continue;
    text.clear();
    const EventInfo& info = events_[s.event];
    if (info.printer && s.size) info.printer->print(arena_.data() + s.offset, s.size, &text);
    else text = "N/A";
    auto& idx = index[s.event];
    auto it = idx.find(text);
    if (it == idx.end()) {
      rows.push_back(TraceRow{s.event, text, s.samples, s.period});
      idx.emplace(std::string_view(rows.back().text), rows.size() - 1);
    } else {
      rows[it->second].samples += s.samples;
      rows[it->second].period += s.period;
    }
  }
  std::sort(rows.begin(), rows.end(), [](const TraceRow& a, const TraceRow& b) {
    if (a.event != b.event) return a.event < b.event;
    if (a.period != b.period) return a.period > b.period;
    return std::strcmp(a.text.c_str(), b.text.c_str()) < 0;
  });
  return rows;
}

void TraceCounter::reset() {
  slots_.assign(1024, Slot{});
  used_ = 0;
  arena_.clear();
}

std::vector<std::string> TraceCounter::warnings() const {
  std::vector<std::string> out;
  for (const EventInfo& e : events_)
    if (e.hit && e.printer && !e.printer->parsed())
      out.push_back(e.name + ": cannot read its print fmt (" + e.printer->error() + "); printed as [FAILED TO PARSE] and its fields, as perf does for formats it cannot read");
  return out;
}

}  // namespace profile
}  // namespace kvmlens
