// startReplay(path, {speed, loop, longThresholdNs}) -> session that keeps
// filling while the file is replayed at its recorded pace on a native thread.
#include <napi.h>

#include "addon/js_errors.h"
#include "addon/options.h"
#include "addon/session_wrap.h"
#include "core/errors.h"
#include "pipeline/session_runner.h"

namespace kvmlens_addon {

Napi::Value StartReplay(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) {
    Napi::TypeError::New(env, "startReplay(path, options) needs a path").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string path = info[0].As<Napi::String>();
  kvmlens::ReplayOptions replay;
  if (info[1].IsObject()) {
    Napi::Object o = info[1].As<Napi::Object>();
    replay.speed = number_option(o, "speed", 1.0);
    replay.loop = o.Get("loop").ToBoolean();
  }
  auto session = std::make_unique<kvmlens::KvmSession>();
  try {
    auto runner = kvmlens::start_replay(path, replay, analyzer_options(info[1]), session.get());
    return SessionWrap::Wrap(env, std::move(session), std::move(runner));
  } catch (const kvmlens::ParseError& e) {
    make_error(env, e.what(), "EPARSE", e.has_offset() ? static_cast<int64_t>(e.offset()) : -1)
        .ThrowAsJavaScriptException();
  } catch (const std::exception& e) {
    make_error(env, e.what(), "EINTERNAL").ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

}  // namespace kvmlens_addon
