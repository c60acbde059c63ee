// analyzeFile(path, onProgress) -> Promise<NativeSession>: reads a perf.data
// file off the JS thread; progress is reported every few MB, never per event.
#include <napi.h>

#include <memory>
#include <string>

#include "addon/file_job_worker.h"
#include "addon/options.h"
#include "addon/session_wrap.h"
#include "pipeline/session.h"

namespace kvmlens_addon {

Napi::Value AnalyzeFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) {
    Napi::TypeError::New(env, "analyzeFile(path, onProgress?, options?) needs a path").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Function on_progress = info[1].IsFunction() ? info[1].As<Napi::Function>() : Napi::Function();
  std::string path = info[0].As<Napi::String>();
  kvmlens::AnalyzerOptions options = analyzer_options(info[2]);
  return FileJobWorker<kvmlens::KvmSession>::queue(
      env, "kvmlens.analyzeFile", on_progress,
      [path, options](const FileJobWorker<kvmlens::KvmSession>::Report& report) {
        return kvmlens::analyze_file(path, options, report);
      },
      [](Napi::Env env, std::unique_ptr<kvmlens::KvmSession> session) {
        return SessionWrap::Wrap(env, std::move(session));
      });
}

}  // namespace kvmlens_addon
