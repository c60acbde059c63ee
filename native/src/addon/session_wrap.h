// JS handle over a KvmSession: info(), readStats(), query(options). A query
// returns whole columns as typed arrays: one crossing per report or scrape.
#pragma once
#include <napi.h>

#include <memory>

#include "pipeline/session.h"

namespace kvmlens_addon {

class SessionWrap : public Napi::ObjectWrap<SessionWrap> {
 public:
  static void Register(Napi::Env env, Napi::Object exports);
  static Napi::Object Wrap(Napi::Env env, std::unique_ptr<kvmlens::KvmSession> analysis);
  explicit SessionWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value ReadStats(const Napi::CallbackInfo& info);
  Napi::Value Query(const Napi::CallbackInfo& info);

  std::unique_ptr<kvmlens::KvmSession> analysis_;
};

}  // namespace kvmlens_addon
