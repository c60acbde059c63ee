#include "addon/profile_js.h"

namespace kvmlens_addon {

Napi::Array string_array(Napi::Env env, const std::vector<std::string>& strings) {
  Napi::Array a = Napi::Array::New(env, strings.size());
  for (size_t i = 0; i < strings.size(); i++) a.Set(static_cast<uint32_t>(i), strings[i]);
  return a;
}

Napi::Object profile_snapshot_to_js(Napi::Env env, const kvmlens::profile::ProfileSnapshot& snap,
                                    const std::vector<kvmlens::EventAttr>& attrs, uint64_t lost) {
  const size_t n = snap.rows.size();
  Napi::Object out = Napi::Object::New(env);
  out.Set("strings", string_array(env, snap.strings));
  auto event = Napi::Uint32Array::New(env, n);
  auto comm = Napi::Uint32Array::New(env, n);
  auto dso = Napi::Int32Array::New(env, n);
  auto sym = Napi::Int32Array::New(env, n);
  auto level = Napi::Uint8Array::New(env, n);
  auto object = Napi::Uint8Array::New(env, n);
  auto addr = Napi::BigUint64Array::New(env, n);
  auto sym_start = Napi::BigUint64Array::New(env, n);
  auto samples = Napi::Float64Array::New(env, n);
  auto period = Napi::Float64Array::New(env, n);
  auto first = Napi::Float64Array::New(env, n);
  auto comm_width = Napi::Uint32Array::New(env, n);
  for (size_t i = 0; i < n; i++) {
    const auto& r = snap.rows[i];
    event[i] = r.event;
    comm[i] = r.comm;
    dso[i] = r.dso;
    sym[i] = r.sym;
    level[i] = static_cast<uint8_t>(r.level);
    object[i] = r.sym_is_object;
    addr[i] = r.addr;
    sym_start[i] = r.sym_start;
    samples[i] = static_cast<double>(r.samples);
    period[i] = static_cast<double>(r.period);
    first[i] = static_cast<double>(r.first);
    comm_width[i] = r.comm_width;
  }
  Napi::Object rows = Napi::Object::New(env);
  rows.Set("length", static_cast<double>(n));
  rows.Set("event", event);
  rows.Set("comm", comm);
  rows.Set("dso", dso);
  rows.Set("sym", sym);
  rows.Set("level", level);
  rows.Set("symIsObject", object);
  rows.Set("addr", addr);
  rows.Set("symStart", sym_start);
  rows.Set("samples", samples);
  rows.Set("period", period);
  rows.Set("first", first);
  rows.Set("commWidth", comm_width);
  if (snap.children) {
    // perf report's children mode: each row's entry, and per entry the
    // samples and period of the stacks that hold it.
    auto group = Napi::Uint32Array::New(env, n);
    for (size_t i = 0; i < n; i++) group[i] = snap.rows[i].group;
    rows.Set("group", group);
    const size_t g = snap.groups.size();
    auto cs = Napi::Float64Array::New(env, g);
    auto cp = Napi::Float64Array::New(env, g);
    for (size_t i = 0; i < g; i++) {
      cs[i] = static_cast<double>(snap.groups[i].samples);
      cp[i] = static_cast<double>(snap.groups[i].period);
    }
    Napi::Object children = Napi::Object::New(env);
    children.Set("samples", cs);
    children.Set("period", cp);
    out.Set("children", children);
  }
  out.Set("rows", rows);
  Napi::Array events = Napi::Array::New(env, attrs.size());
  for (size_t i = 0; i < attrs.size(); i++) {
    kvmlens::profile::ProfileEventTotals t;
    if (i < snap.events.size()) t = snap.events[i];
    Napi::Object e = Napi::Object::New(env);
    e.Set("name", attrs[i].name);
    e.Set("type", static_cast<double>(attrs[i].type));
    e.Set("config", static_cast<double>(attrs[i].config));
    e.Set("samples", static_cast<double>(t.samples));
    e.Set("period", static_cast<double>(t.period));
    e.Set("filteredSamples", static_cast<double>(t.filtered_samples));
    e.Set("filteredPeriod", static_cast<double>(t.filtered_period));
    events.Set(static_cast<uint32_t>(i), e);
  }
  out.Set("events", events);
  out.Set("lost", static_cast<double>(lost));
  out.Set("lostSamples", static_cast<double>(snap.lost_samples));
  out.Set("warnings", string_array(env, snap.warnings));
  out.Set("notes", string_array(env, snap.notes));
  return out;
}

}  // namespace kvmlens_addon
