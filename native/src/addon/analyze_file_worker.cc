// analyzeFile(path, onProgress) -> Promise<NativeSession>: reads a perf.data
// file off the JS thread; progress is reported every few MB, never per event.
#include <napi.h>

#include <memory>
#include <string>

#include "addon/js_errors.h"
#include "addon/options.h"
#include "addon/session_wrap.h"
#include "core/errors.h"
#include "pipeline/session.h"

namespace kvmlens_addon {

namespace {

struct Progress { uint64_t done, total; };

class AnalyzeFileWorker : public Napi::AsyncProgressQueueWorker<Progress> {
 public:
  AnalyzeFileWorker(Napi::Env env, std::string path, Napi::Function on_progress,
                    kvmlens::AnalyzerOptions options)
      : Napi::AsyncProgressQueueWorker<Progress>(env, "kvmlens.analyzeFile"),
        path_(std::move(path)),
        options_(std::move(options)),
        deferred_(Napi::Promise::Deferred::New(env)) {
    if (!on_progress.IsEmpty()) on_progress_ = Napi::Persistent(on_progress);
  }

  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute(const ExecutionProgress& progress) override {
    try {
      session_ = kvmlens::analyze_file(path_, options_,
                                       [&](uint64_t done, uint64_t total) {
                                         progress.Send(new Progress{done, total}, 1);
                                       });
    } catch (const kvmlens::ParseError& e) {
      code_ = "EPARSE";
      message_ = e.what();
      offset_ = e.has_offset() ? static_cast<int64_t>(e.offset()) : -1;
    } catch (const kvmlens::SetupError& e) {
      code_ = "ESETUP";
      message_ = e.what();
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
    if (!session_) {
      deferred_.Reject(make_error(env, message_, code_, offset_).Value());
      return;
    }
    deferred_.Resolve(SessionWrap::Wrap(env, std::move(session_)));
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  std::string path_;
  kvmlens::AnalyzerOptions options_;
  Napi::Promise::Deferred deferred_;
  Napi::FunctionReference on_progress_;
  std::unique_ptr<kvmlens::KvmSession> session_;
  const char* code_ = "EINTERNAL";
  std::string message_;
  int64_t offset_ = -1;
};

}  // namespace

Napi::Value AnalyzeFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) {
    Napi::TypeError::New(env, "analyzeFile(path, onProgress?, options?) needs a path").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Function on_progress = info[1].IsFunction() ? info[1].As<Napi::Function>() : Napi::Function();
  auto* worker = new AnalyzeFileWorker(env, info[0].As<Napi::String>(), on_progress,
                                       analyzer_options(info[2]));
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

}  // namespace kvmlens_addon
