// startLive(options) -> session filled from the kvm tracepoints by a native
// drain thread; startRecord(options) -> recorder writing a perf.data file.
#include <napi.h>

#include "addon/js_errors.h"
#include "addon/options.h"
#include "addon/session_wrap.h"
#include "addon/stop_worker.h"
#include "live/mmap_pages.h"
#include "pipeline/session_runner.h"

#include <unistd.h>

namespace kvmlens_addon {

namespace {

kvmlens::LiveCaptureOptions capture_options(const Napi::Value& value) {
  kvmlens::LiveCaptureOptions o;
  if (!value.IsObject()) return o;
  Napi::Object obj = value.As<Napi::Object>();
  Napi::Value pages = obj.Get("mmapPages");
  if (pages.IsString() || pages.IsNumber())
    o.mmap_pages = kvmlens::parse_mmap_pages(pages.ToString().Utf8Value(),
                                             static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)));
  Napi::Value pids = obj.Get("pids");
  if (pids.IsArray()) {
    Napi::Array arr = pids.As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); i++) o.pids.push_back(arr.Get(i).As<Napi::Number>().Int32Value());
  }
  return o;
}

class RecorderWrap : public Napi::ObjectWrap<RecorderWrap> {
 public:
  static Napi::FunctionReference* constructor;
  static void Register(Napi::Env env, Napi::Object exports) {
    Napi::Function ctor = DefineClass(env, "NativeRecorder",
                                      {InstanceMethod("stop", &RecorderWrap::Stop),
                                       InstanceAccessor("running", &RecorderWrap::Running, nullptr)});
    constructor = new Napi::FunctionReference(Napi::Persistent(ctor));
    exports.Set("NativeRecorder", ctor);
  }
  explicit RecorderWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RecorderWrap>(info) {}
  std::unique_ptr<kvmlens::Recording> recording;

 private:
  Napi::Value Stop(const Napi::CallbackInfo& info) {
    return StopWorker<kvmlens::Recording>::queue(
        info.Env(), recording.get(), [](Napi::Env env, const kvmlens::Recording::Result& r) -> Napi::Value {
          Napi::Object o = Napi::Object::New(env);
          o.Set("samples", static_cast<double>(r.samples));
          o.Set("lost", static_cast<double>(r.lost));
          o.Set("bytes", static_cast<double>(r.bytes));
          return o;
        });
  }
  Napi::Value Running(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), recording && recording->running());
  }
};
Napi::FunctionReference* RecorderWrap::constructor = nullptr;

}  // namespace

Napi::Value StartLive(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    auto session = std::make_unique<kvmlens::KvmSession>();
    auto runner = kvmlens::start_live(capture_options(info[0]), analyzer_options(info[0]), session.get());
    return SessionWrap::Wrap(env, std::move(session), std::move(runner));
  } catch (const std::exception& e) {
    error_from(env, e).ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

Napi::Value StartRecord(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject() || !info[0].As<Napi::Object>().Get("output").IsString()) {
    Napi::TypeError::New(env, "startRecord({output, pids?, mmapPages?})").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  try {
    Napi::Object o = info[0].As<Napi::Object>();
    std::vector<std::string> cmdline;
    Napi::Value cmd = o.Get("cmdline");
    if (cmd.IsArray()) {
      Napi::Array arr = cmd.As<Napi::Array>();
      for (uint32_t i = 0; i < arr.Length(); i++) cmdline.push_back(arr.Get(i).ToString().Utf8Value());
    }
    auto recording = kvmlens::start_record(o.Get("output").ToString().Utf8Value(), capture_options(info[0]),
                                           std::move(cmdline));
    Napi::Object obj = RecorderWrap::constructor->New({});
    RecorderWrap::Unwrap(obj)->recording = std::move(recording);
    return obj;
  } catch (const std::exception& e) {
    error_from(env, e).ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

void RegisterLive(Napi::Env env, Napi::Object exports) {
  RecorderWrap::Register(env, exports);
  exports.Set("startLive", Napi::Function::New(env, StartLive));
  exports.Set("startRecord", Napi::Function::New(env, StartRecord));
}

}  // namespace kvmlens_addon
