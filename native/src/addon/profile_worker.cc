// profileFile(path, options, onProgress) -> Promise<ProfileResult>: report /
// diff / buildid-list. Reads and aggregates off the JS thread; the rows cross
// the seam once, as typed-array columns plus one string table.
#include <napi.h>

#include <memory>
#include <string>

#include "addon/file_job_worker.h"
#include "addon/profile_js.h"
#include "profile/profile_file.h"

namespace kvmlens_addon {

namespace {

std::string string_option(const Napi::Object& o, const char* name) {
  Napi::Value v = o.Get(name);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
}

Napi::Object profile_result_to_js(Napi::Env env, const kvmlens::profile::ProfileFileResult& r) {
  const auto& snap = r.snapshot;
  Napi::Object out = profile_snapshot_to_js(env, snap, r.info.attrs, snap.lost);
  Napi::Array bids = Napi::Array::New(env, r.build_ids.size());
  for (size_t i = 0; i < r.build_ids.size(); i++) {
    Napi::Object b = Napi::Object::New(env);
    b.Set("buildId", Napi::String::New(env, r.build_ids[i].build_id));
    b.Set("filename", Napi::String::New(env, r.build_ids[i].filename));
    b.Set("misc", Napi::Number::New(env, r.build_ids[i].misc));
    b.Set("pid", Napi::Number::New(env, r.build_ids[i].pid));
    b.Set("hit", Napi::Boolean::New(env, r.build_ids[i].hit));
    b.Set("fromHeader", Napi::Boolean::New(env, r.build_ids[i].from_header));
    bids.Set(i, b);
  }
  out.Set("buildIds", bids);
  if (r.trace_sorted) {
    // perf report's `trace` sort entries: columns, as the rows are.
    const size_t n = r.trace_rows.size();
    Napi::Object t = Napi::Object::New(env);
    Napi::Uint32Array event = Napi::Uint32Array::New(env, n);
    Napi::Float64Array samples = Napi::Float64Array::New(env, n);
    Napi::Float64Array period = Napi::Float64Array::New(env, n);
    Napi::Array text = Napi::Array::New(env, n);
    for (size_t i = 0; i < n; i++) {
      event[i] = r.trace_rows[i].event;
      samples[i] = static_cast<double>(r.trace_rows[i].samples);
      period[i] = static_cast<double>(r.trace_rows[i].period);
      text.Set(i, Napi::String::New(env, r.trace_rows[i].text));
    }
    t.Set("length", Napi::Number::New(env, static_cast<double>(n)));
    t.Set("event", event);
    t.Set("samples", samples);
    t.Set("period", period);
    t.Set("text", text);
    t.Set("warnings", string_array(env, r.trace_warnings));
    out.Set("trace", t);
  }
  Napi::Object info = Napi::Object::New(env);
  info.Set("hostname", Napi::String::New(env, r.info.hostname));
  info.Set("osrelease", Napi::String::New(env, r.info.osrelease));
  info.Set("perfVersion", Napi::String::New(env, r.info.perf_version));
  info.Set("arch", Napi::String::New(env, r.info.arch));
  info.Set("pipe", Napi::Boolean::New(env, r.info.pipe));
  info.Set("cmdline", string_array(env, r.info.cmdline));
  out.Set("info", info);
  Napi::Object stats = Napi::Object::New(env);
  stats.Set("records", Napi::Number::New(env, static_cast<double>(r.stats.records)));
  stats.Set("samples", Napi::Number::New(env, static_cast<double>(r.stats.samples)));
  stats.Set("lost", Napi::Number::New(env, static_cast<double>(r.stats.lost)));
  stats.Set("bytes", Napi::Number::New(env, static_cast<double>(r.stats.bytes)));
  out.Set("readStats", stats);
  if (r.data_error) {
    Napi::Object e = Napi::Object::New(env);
    e.Set("message", Napi::String::New(env, r.data_error_message));
    if (r.data_error_offset >= 0) e.Set("offset", Napi::Number::New(env, static_cast<double>(r.data_error_offset)));
    out.Set("dataError", e);
  }
  return out;
}

}  // namespace

// profileFile(path, {host, guest, kallsyms, vmlinux, guestKallsyms, guestModules,
//   guestVmlinux, guestMount, buildidDir, demangle, samples, children}, onProgress?)
Napi::Value ProfileFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString() || !info[1].IsObject()) {
    Napi::TypeError::New(env, "profileFile(path, options, onProgress?) needs a path and options").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object o = info[1].As<Napi::Object>();
  kvmlens::profile::SymbolizerOptions opts;
  if (o.Has("host")) opts.host = o.Get("host").ToBoolean();
  if (o.Has("guest")) opts.guest = o.Get("guest").ToBoolean();
  opts.kallsyms = string_option(o, "kallsyms");
  opts.vmlinux = string_option(o, "vmlinux");
  opts.guest_kallsyms = string_option(o, "guestKallsyms");
  opts.guest_modules = string_option(o, "guestModules");
  opts.guest_vmlinux = string_option(o, "guestVmlinux");
  opts.guest_mount = string_option(o, "guestMount");
  opts.buildid_dir = string_option(o, "buildidDir");
  if (o.Get("demangle").IsBoolean()) opts.demangle = o.Get("demangle").As<Napi::Boolean>().Value();
  bool samples = !o.Has("samples") || o.Get("samples").ToBoolean();
  // trace: 'also' counts by tracepoint payload too, 'only' that alone, 'auto'
  // that alone when every event is a tracepoint (perf report's default).
  const std::string trace_mode = string_option(o, "trace");
  using kvmlens::profile::TraceSort;
  const TraceSort trace = trace_mode == "only"   ? TraceSort::kOnly
                          : trace_mode == "auto" ? TraceSort::kAuto
                          : trace_mode == "also" ? TraceSort::kAlso
                                                 : TraceSort::kNone;
  // children: {comm, dso, sym} (the sort keys) for perf report's children mode.
  bool children = false;
  kvmlens::profile::ChildrenKeys keys;
  if (o.Get("children").IsObject()) {
    Napi::Object c = o.Get("children").As<Napi::Object>();
    children = true;
    keys.comm = c.Get("comm").ToBoolean();
    keys.dso = c.Get("dso").ToBoolean();
    keys.sym = c.Get("sym").ToBoolean();
  }
  Napi::Function on_progress = info[2].IsFunction() ? info[2].As<Napi::Function>() : Napi::Function();
  std::string path = info[0].As<Napi::String>();
  using Worker = FileJobWorker<kvmlens::profile::ProfileFileResult>;
  return Worker::queue(
      env, "kvmlens.profileFile", on_progress,
      [path, opts = std::move(opts), samples, trace, children, keys](const Worker::Report& report) {
        return std::make_unique<kvmlens::profile::ProfileFileResult>(
            kvmlens::profile::profile_file(path, opts, samples, report, trace, children ? &keys : nullptr));
      },
      [](Napi::Env env, std::unique_ptr<kvmlens::profile::ProfileFileResult> r) { return profile_result_to_js(env, *r); });
}

}  // namespace kvmlens_addon
