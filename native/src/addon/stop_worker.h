// Stops a recording off the JS thread: joining its drain thread and writing
// the file's last records and header can take a while. The promise resolves
// with what `to_js` makes of the recording's result, or rejects with ESETUP.
#pragma once
#include <napi.h>

#include <exception>
#include <type_traits>
#include <utility>

#include "addon/js_errors.h"

namespace kvmlens_addon {

template <class Recording>
class StopWorker : public Napi::AsyncWorker {
 public:
  struct Nothing {};
  using Stopped = decltype(std::declval<Recording&>().stop());
  using Result = std::conditional_t<std::is_void_v<Stopped>, Nothing, Stopped>;
  using ToJs = Napi::Value (*)(Napi::Env, const Result&);

  static Napi::Promise queue(Napi::Env env, Recording* recording, ToJs to_js) {
    auto* w = new StopWorker(env, recording, to_js);
    Napi::Promise p = w->deferred_.Promise();
    w->Queue();
    return p;
  }

 private:
  StopWorker(Napi::Env env, Recording* r, ToJs to_js)
      : Napi::AsyncWorker(env), r_(r), to_js_(to_js), deferred_(Napi::Promise::Deferred::New(env)) {}

  void Execute() override {
    try {
      if constexpr (std::is_void_v<Stopped>) r_->stop();
      else result_ = r_->stop();
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(to_js_(Env(), result_)); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(make_error(Env(), e.Message(), "ESETUP").Value()); }

  Recording* r_;
  ToJs to_js_;
  Napi::Promise::Deferred deferred_;
  Result result_{};
};

}  // namespace kvmlens_addon
