// startProfileRecord(options) -> a recorder sampling cycles/cpu-clock into
// a perf.data file (kvmlens record); stop() resolves with what was written.
#include <napi.h>
#include <unistd.h>

#include "addon/js_errors.h"
#include "core/errors.h"
#include "live/mmap_pages.h"
#include "live/profile_record.h"

namespace kvmlens_addon {

namespace {

std::string str(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
}

bool flag(const Napi::Object& o, const char* key, bool dflt) {
  Napi::Value v = o.Get(key);
  return v.IsBoolean() ? v.As<Napi::Boolean>().Value() : dflt;
}

std::vector<int32_t> ints(const Napi::Object& o, const char* key) {
  std::vector<int32_t> out;
  Napi::Value v = o.Get(key);
  if (!v.IsArray()) return out;
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) out.push_back(a.Get(i).As<Napi::Number>().Int32Value());
  return out;
}

Napi::Error to_js(Napi::Env env, const std::exception& e) {
  if (dynamic_cast<const kvmlens::SetupError*>(&e)) return make_error(env, e.what(), "ESETUP");
  if (dynamic_cast<const kvmlens::ParseError*>(&e)) return make_error(env, e.what(), "EPARSE");
  return make_error(env, e.what(), "EINTERNAL");
}

class ProfileRecorderWrap : public Napi::ObjectWrap<ProfileRecorderWrap> {
 public:
  static Napi::FunctionReference* constructor;
  static void Register(Napi::Env env, Napi::Object exports) {
    Napi::Function ctor =
        DefineClass(env, "NativeProfileRecorder",
                    {InstanceMethod("stop", &ProfileRecorderWrap::Stop),
                     InstanceAccessor("running", &ProfileRecorderWrap::Running, nullptr),
                     InstanceAccessor("eventName", &ProfileRecorderWrap::EventName, nullptr),
                     InstanceAccessor("setupWarnings", &ProfileRecorderWrap::SetupWarnings, nullptr)});
    constructor = new Napi::FunctionReference(Napi::Persistent(ctor));
  }
  explicit ProfileRecorderWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ProfileRecorderWrap>(info) {}
  std::unique_ptr<kvmlens::ProfileRecording> recording;

 private:
  class StopWorker : public Napi::AsyncWorker {
   public:
    StopWorker(Napi::Env env, kvmlens::ProfileRecording* r)
        : Napi::AsyncWorker(env), r_(r), deferred_(Napi::Promise::Deferred::New(env)) {}
    Napi::Promise promise() { return deferred_.Promise(); }
    void Execute() override {
      try {
        result_ = r_->stop();
      } catch (const std::exception& e) {
        SetError(e.what());
      }
    }
    void OnOK() override {
      Napi::Env env = Env();
      Napi::Object o = Napi::Object::New(env);
      o.Set("samples", static_cast<double>(result_.samples));
      o.Set("lost", static_cast<double>(result_.lost));
      o.Set("bytes", static_cast<double>(result_.bytes));
      Napi::Array ids = Napi::Array::New(env, result_.build_ids.size());
      for (size_t i = 0; i < result_.build_ids.size(); i++) {
        Napi::Object e = Napi::Object::New(env);
        e.Set("buildId", result_.build_ids[i].first);
        e.Set("name", result_.build_ids[i].second);
        ids.Set(static_cast<uint32_t>(i), e);
      }
      o.Set("buildIds", ids);
      Napi::Array w = Napi::Array::New(env, result_.warnings.size());
      for (size_t i = 0; i < result_.warnings.size(); i++) w.Set(static_cast<uint32_t>(i), result_.warnings[i]);
      o.Set("warnings", w);
      deferred_.Resolve(o);
    }
    void OnError(const Napi::Error& e) override {
      deferred_.Reject(make_error(Env(), e.Message(), "ESETUP").Value());
    }

   private:
    kvmlens::ProfileRecording* r_;
    Napi::Promise::Deferred deferred_;
    kvmlens::ProfileRecording::Result result_;
  };

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    auto* w = new StopWorker(info.Env(), recording.get());
    Napi::Promise p = w->promise();
    w->Queue();
    return p;
  }
  Napi::Value Running(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), recording && recording->running());
  }
  Napi::Value EventName(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), recording ? recording->event_name() : "");
  }
  Napi::Value SetupWarnings(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array a = Napi::Array::New(env);
    if (recording)
      for (const std::string& w : recording->setup_warnings()) a.Set(a.Length(), w);
    return a;
  }
};
Napi::FunctionReference* ProfileRecorderWrap::constructor = nullptr;

}  // namespace

// Options: output, systemWide, tids, synthPids, freq, period, excludeHost,
// excludeGuest, enableOnExec, mmapPages, cmdline, guestmount, guestkallsyms,
// guestmodules, guestvmlinux, hardware (false: cpu-clock straight away).
Napi::Value StartProfileRecord(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject() || !info[0].As<Napi::Object>().Get("output").IsString()) {
    Napi::TypeError::New(env, "startProfileRecord({output, ...})").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  try {
    Napi::Object o = info[0].As<Napi::Object>();
    kvmlens::ProfileTarget t;
    t.sampling.system_wide = flag(o, "systemWide", true);
    t.sampling.tids = ints(o, "tids");
    t.sampling.exclude_host = flag(o, "excludeHost", false);
    t.sampling.exclude_guest = flag(o, "excludeGuest", false);
    t.sampling.enable_on_exec = flag(o, "enableOnExec", false);
    t.sampling.try_hardware = flag(o, "hardware", true);
    Napi::Value freq = o.Get("freq"), period = o.Get("period"), pages = o.Get("mmapPages");
    if (freq.IsNumber()) t.sampling.freq = static_cast<uint64_t>(freq.As<Napi::Number>().Int64Value());
    if (period.IsNumber()) t.sampling.period = static_cast<uint64_t>(period.As<Napi::Number>().Int64Value());
    if (pages.IsString() || pages.IsNumber())
      t.sampling.mmap_pages = kvmlens::parse_mmap_pages(pages.ToString().Utf8Value(),
                                                        static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)));
    t.guestmount = str(o, "guestmount");
    t.guestkallsyms = str(o, "guestkallsyms");
    t.guestmodules = str(o, "guestmodules");
    t.guestvmlinux = str(o, "guestvmlinux");
    std::vector<std::string> cmdline;
    Napi::Value cmd = o.Get("cmdline");
    if (cmd.IsArray()) {
      Napi::Array arr = cmd.As<Napi::Array>();
      for (uint32_t i = 0; i < arr.Length(); i++) cmdline.push_back(arr.Get(i).ToString().Utf8Value());
    }
    auto recording = kvmlens::start_profile_record(str(o, "output"), t, ints(o, "synthPids"), std::move(cmdline));
    Napi::Object obj = ProfileRecorderWrap::constructor->New({});
    ProfileRecorderWrap::Unwrap(obj)->recording = std::move(recording);
    return obj;
  } catch (const std::exception& e) {
    to_js(env, e).ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

void RegisterProfile(Napi::Env env, Napi::Object exports) {
  ProfileRecorderWrap::Register(env, exports);
  exports.Set("startProfileRecord", Napi::Function::New(env, StartProfileRecord));
}

}  // namespace kvmlens_addon
