// JS handle over a KvmSession: info(), readStats(), query(options). A query
// returns whole columns as typed arrays: one crossing per report or scrape.
#pragma once
#include <napi.h>

#include <memory>

#include "pipeline/session.h"
#include "pipeline/session_runner.h"

namespace kvmlens_addon {

class SessionWrap : public Napi::ObjectWrap<SessionWrap> {
 public:
  static void Register(Napi::Env env, Napi::Object exports);
  static Napi::Object Wrap(Napi::Env env, std::unique_ptr<kvmlens::KvmSession> analysis,
                           std::unique_ptr<kvmlens::SessionRunner> runner = nullptr);
  ~SessionWrap() override;
  explicit SessionWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value ReadStats(const Napi::CallbackInfo& info);
  Napi::Value Query(const Napi::CallbackInfo& info);
  Napi::Value Render(const Napi::CallbackInfo& info);
  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value ResetStats(const Napi::CallbackInfo& info);
  Napi::Value ForgetPids(const Napi::CallbackInfo& info);
  Napi::Value TakeLongEvents(const Napi::CallbackInfo& info);
  Napi::Value Running(const Napi::CallbackInfo& info);
  Napi::Value LostPerCpu(const Napi::CallbackInfo& info);
  Napi::Value SourceError(const Napi::CallbackInfo& info);

  // Declared before the runner so the runner (which feeds the session) is
  // destroyed, and its thread joined, first.
  std::unique_ptr<kvmlens::KvmSession> analysis_;
  std::unique_ptr<kvmlens::SessionRunner> runner_;
};

}  // namespace kvmlens_addon
