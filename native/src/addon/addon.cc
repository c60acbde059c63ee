// Module entry: the native core's whole JS surface.
#include <napi.h>

#include "addon/render_worker.h"

#include "addon/js_errors.h"
#include "addon/session_wrap.h"

namespace kvmlens_addon {
Napi::Value AnalyzeFile(const Napi::CallbackInfo& info);
Napi::Value StartReplay(const Napi::CallbackInfo& info);
Napi::Value ProfileFile(const Napi::CallbackInfo& info);
void RegisterLive(Napi::Env env, Napi::Object exports);
void RegisterProfile(Napi::Env env, Napi::Object exports);
Napi::Value WriteHistogramFamily(const Napi::CallbackInfo& info);
Napi::Value ReleaseHistogramFamilies(const Napi::CallbackInfo& info);
Napi::Value RecordDurations(const Napi::CallbackInfo& info);
Napi::Value LimitMallocArenas(const Napi::CallbackInfo& info);
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("setErrorClass", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                kvmlens_addon::set_error_class(info);
              }));
  exports.Set("analyzeFile", Napi::Function::New(env, kvmlens_addon::AnalyzeFile));
  exports.Set("startReplay", Napi::Function::New(env, kvmlens_addon::StartReplay));
  exports.Set("profileFile", Napi::Function::New(env, kvmlens_addon::ProfileFile));
  exports.Set("recordDurations", Napi::Function::New(env, kvmlens_addon::RecordDurations));
  exports.Set("writeHistogramFamily", Napi::Function::New(env, kvmlens_addon::WriteHistogramFamily));
  exports.Set("releaseHistogramFamilies", Napi::Function::New(env, kvmlens_addon::ReleaseHistogramFamilies));
  exports.Set("limitMallocArenas", Napi::Function::New(env, kvmlens_addon::LimitMallocArenas));
  exports.Set("jsNumberText", Napi::Function::New(env, kvmlens_addon::JsNumberText));
  kvmlens_addon::SessionWrap::Register(env, exports);
  kvmlens_addon::RegisterLive(env, exports);
  kvmlens_addon::RegisterProfile(env, exports);
  return exports;
}

NODE_API_MODULE(kvmlens, Init)
