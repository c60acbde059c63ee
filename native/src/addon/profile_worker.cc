// profileFile(path, options, onProgress) -> Promise<ProfileResult>: report /
// diff / buildid-list. Reads and aggregates off the JS thread; the rows cross
// the seam once, as typed-array columns plus one string table.
#include <napi.h>

#include <memory>
#include <string>

#include "addon/js_errors.h"
#include "addon/profile_js.h"
#include "core/errors.h"
#include "profile/profile_file.h"

namespace kvmlens_addon {

namespace {

struct Progress { uint64_t done, total; };

std::string string_option(const Napi::Object& o, const char* name) {
  Napi::Value v = o.Get(name);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
}

class ProfileWorker : public Napi::AsyncProgressQueueWorker<Progress> {
 public:
  ProfileWorker(Napi::Env env, std::string path, kvmlens::profile::SymbolizerOptions options, bool samples,
                Napi::Function on_progress)
      : Napi::AsyncProgressQueueWorker<Progress>(env, "kvmlens.profileFile"),
        path_(std::move(path)), options_(std::move(options)), samples_(samples),
        deferred_(Napi::Promise::Deferred::New(env)) {
    if (!on_progress.IsEmpty()) on_progress_ = Napi::Persistent(on_progress);
  }

  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute(const ExecutionProgress& progress) override {
    try {
      result_ = std::make_unique<kvmlens::profile::ProfileFileResult>(kvmlens::profile::profile_file(
          path_, options_, samples_, [&](uint64_t done, uint64_t total) { progress.Send(new Progress{done, total}, 1); }));
    } catch (const kvmlens::ParseError& e) {
      code_ = "EPARSE";
      message_ = e.what();
      offset_ = e.has_offset() ? static_cast<int64_t>(e.offset()) : -1;
    } catch (const std::bad_alloc&) {
      code_ = "EINTERNAL";
      message_ = "out of memory";
    } catch (const std::exception& e) {
      code_ = "EINTERNAL";
      message_ = e.what();
    }
  }

  void OnProgress(const Progress* p, size_t count) override {
    if (on_progress_.IsEmpty() || count == 0) return;
    Napi::Env env = Env();
    on_progress_.Call({Napi::Number::New(env, static_cast<double>(p[count - 1].done)),
                       Napi::Number::New(env, static_cast<double>(p[count - 1].total))});
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (!result_) {
      deferred_.Reject(make_error(env, message_, code_, offset_).Value());
      return;
    }
    deferred_.Resolve(to_js(env, *result_));
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  static Napi::Object to_js(Napi::Env env, const kvmlens::profile::ProfileFileResult& r) {
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

  std::string path_;
  kvmlens::profile::SymbolizerOptions options_;
  bool samples_;
  Napi::Promise::Deferred deferred_;
  Napi::FunctionReference on_progress_;
  std::unique_ptr<kvmlens::profile::ProfileFileResult> result_;
  const char* code_ = "EINTERNAL";
  std::string message_;
  int64_t offset_ = -1;
};

}  // namespace

// profileFile(path, {host, guest, kallsyms, vmlinux, guestKallsyms, guestModules,
//   guestVmlinux, guestMount, buildidDir, demangle, samples}, onProgress?)
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
  Napi::Function on_progress = info[2].IsFunction() ? info[2].As<Napi::Function>() : Napi::Function();
  auto* worker = new ProfileWorker(env, info[0].As<Napi::String>(), std::move(opts), samples, on_progress);
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

}  // namespace kvmlens_addon
