// startProfileRecord(options) -> a recorder sampling cycles/cpu-clock into
// a perf.data file (kvmlens record); stop() resolves with what was written.
#include <napi.h>
#include <unistd.h>

#include "addon/js_errors.h"
#include "addon/stop_worker.h"
#include "addon/profile_js.h"
#include "live/mmap_pages.h"
#include "live/profile_live.h"
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
  static Napi::Value stop_result_to_js(Napi::Env env, const kvmlens::ProfileRecording::Result& r) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("samples", static_cast<double>(r.samples));
    o.Set("lost", static_cast<double>(r.lost));
    o.Set("bytes", static_cast<double>(r.bytes));
    Napi::Array ids = Napi::Array::New(env, r.build_ids.size());
    for (size_t i = 0; i < r.build_ids.size(); i++) {
      Napi::Object e = Napi::Object::New(env);
      e.Set("buildId", r.build_ids[i].first);
      e.Set("name", r.build_ids[i].second);
      ids.Set(static_cast<uint32_t>(i), e);
    }
    o.Set("buildIds", ids);
    o.Set("warnings", string_array(env, r.warnings));
    o.Set("cacheProblems", string_array(env, r.cache_problems));
    return o;
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    return StopWorker<kvmlens::ProfileRecording>::queue(info.Env(), recording.get(), stop_result_to_js);
  }
  Napi::Value Running(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), recording && recording->running());
  }
  Napi::Value EventName(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), recording ? recording->event_name() : "");
  }
  Napi::Value SetupWarnings(const Napi::CallbackInfo& info) {
    return recording ? string_array(info.Env(), recording->setup_warnings()) : Napi::Array::New(info.Env());
  }
};
Napi::FunctionReference* ProfileRecorderWrap::constructor = nullptr;


class ProfileLiveWrap : public Napi::ObjectWrap<ProfileLiveWrap> {
 public:
  static Napi::FunctionReference* constructor;
  static void Register(Napi::Env env) {
    Napi::Function ctor = DefineClass(env, "NativeProfileLive",
                                      {InstanceMethod("snapshot", &ProfileLiveWrap::Snapshot),
                                       InstanceMethod("stop", &ProfileLiveWrap::Stop),
                                       InstanceAccessor("running", &ProfileLiveWrap::Running, nullptr),
                                       InstanceAccessor("eventName", &ProfileLiveWrap::EventName, nullptr),
                                       InstanceAccessor("setupWarnings", &ProfileLiveWrap::SetupWarnings, nullptr)});
    constructor = new Napi::FunctionReference(Napi::Persistent(ctor));
  }
  explicit ProfileLiveWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ProfileLiveWrap>(info) {}
  std::unique_ptr<kvmlens::ProfileLive> live;
  uint64_t lost_seen = 0;

 private:
  // snapshot(reset): the interval's rows; lost counts events since the last call.
  Napi::Value Snapshot(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    bool reset = info.Length() > 0 && info[0].ToBoolean().Value();
    try {
      kvmlens::profile::ProfileSnapshot snap = live->snapshot(reset);
      uint64_t lost = live->lost();
      uint64_t delta = lost - lost_seen;
      if (reset) lost_seen = lost;
      Napi::Object out = profile_snapshot_to_js(env, snap, live->attrs(), delta);
      out.Set("buildIds", Napi::Array::New(env));
      return out;
    } catch (const std::exception& e) {
      error_from(env, e).ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }
  Napi::Value Stop(const Napi::CallbackInfo& info) {
    using Worker = StopWorker<kvmlens::ProfileLive>;
    return Worker::queue(info.Env(), live.get(), [](Napi::Env env, const Worker::Result&) { return env.Undefined(); });
  }
  Napi::Value Running(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), live->running()); }
  Napi::Value EventName(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), live->event_name()); }
  Napi::Value SetupWarnings(const Napi::CallbackInfo& info) { return string_array(info.Env(), live->setup_warnings()); }
};
Napi::FunctionReference* ProfileLiveWrap::constructor = nullptr;

kvmlens::ProfileTarget target_from(const Napi::Object& o) {
  kvmlens::ProfileTarget t;
  t.sampling.system_wide = flag(o, "systemWide", true);
  t.sampling.tids = ints(o, "tids");
  t.sampling.exclude_host = flag(o, "excludeHost", false);
  t.sampling.exclude_guest = flag(o, "excludeGuest", false);
  t.sampling.enable_on_exec = flag(o, "enableOnExec", false);
  t.sampling.try_hardware = flag(o, "hardware", true);
  t.sampling.callchain = flag(o, "callchain", false);
  Napi::Value events = o.Get("events");
  if (events.IsArray()) {
    Napi::Array a = events.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) t.sampling.events.push_back(a.Get(i).ToString().Utf8Value());
  }
  Napi::Value freq = o.Get("freq"), period = o.Get("period"), pages = o.Get("mmapPages");
  if (freq.IsNumber()) t.sampling.freq = static_cast<uint64_t>(freq.As<Napi::Number>().Int64Value());
  t.sampling.freq_given = flag(o, "freqGiven", false);
  if (period.IsNumber()) t.sampling.period = static_cast<uint64_t>(period.As<Napi::Number>().Int64Value());
  if (pages.IsString() || pages.IsNumber())
    t.sampling.mmap_pages = kvmlens::parse_mmap_pages(pages.ToString().Utf8Value(),
                                                      static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)));
  t.guestmount = str(o, "guestmount");
  t.guestkallsyms = str(o, "guestkallsyms");
  t.guestmodules = str(o, "guestmodules");
  t.guestvmlinux = str(o, "guestvmlinux");
  t.buildid_dir = str(o, "buildidDir");
  return t;
}

}  // namespace

// Options: output, systemWide, tids, synthPids, freq, period, excludeHost,
// excludeGuest, enableOnExec, mmapPages, cmdline, guestmount, guestkallsyms,
// guestmodules, guestvmlinux, hardware (false: cpu-clock straight away),
// events (perf's -e strings; none: cycles, else cpu-clock), freqGiven (-F on
// the command line: tracepoints take it instead of period 1), callchain
// (perf record -g: PERF_SAMPLE_CALLCHAIN, frame pointers).
Napi::Value StartProfileRecord(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject() || !info[0].As<Napi::Object>().Get("output").IsString()) {
    Napi::TypeError::New(env, "startProfileRecord({output, ...})").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  try {
    Napi::Object o = info[0].As<Napi::Object>();
    kvmlens::ProfileTarget t = target_from(o);
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
    error_from(env, e).ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

// startProfileLive(options): record's target options, plus the symbol
// sources of report (host, guest, kallsyms, vmlinux) and synthPids.
Napi::Value StartProfileLive(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) {
    Napi::TypeError::New(env, "startProfileLive(options)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  try {
    Napi::Object o = info[0].As<Napi::Object>();
    kvmlens::ProfileLiveOptions lo;
    lo.target = target_from(o);
    lo.synth_pids = ints(o, "synthPids");
    lo.symbols.host = flag(o, "host", true);
    lo.symbols.guest = flag(o, "guest", false);
    lo.symbols.kallsyms = str(o, "kallsyms");
    lo.symbols.vmlinux = str(o, "vmlinux");
    lo.symbols.guest_kallsyms = lo.target.guestkallsyms;
    lo.symbols.guest_modules = lo.target.guestmodules;
    lo.symbols.guest_vmlinux = lo.target.guestvmlinux;
    lo.symbols.guest_mount = lo.target.guestmount;
    auto live = std::make_unique<kvmlens::ProfileLive>(lo);
    Napi::Object obj = ProfileLiveWrap::constructor->New({});
    ProfileLiveWrap::Unwrap(obj)->live = std::move(live);
    return obj;
  } catch (const std::exception& e) {
    error_from(env, e).ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

void RegisterProfile(Napi::Env env, Napi::Object exports) {
  ProfileLiveWrap::Register(env);
  exports.Set("startProfileLive", Napi::Function::New(env, StartProfileLive));
  ProfileRecorderWrap::Register(env, exports);
  exports.Set("startProfileRecord", Napi::Function::New(env, StartProfileRecord));
}

}  // namespace kvmlens_addon
