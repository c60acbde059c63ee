#include "addon/js_errors.h"

#include "core/errors.h"

namespace kvmlens_addon {

namespace {
// Held for the life of the process: the class object JS registered.
Napi::FunctionReference* g_error_class = nullptr;
}  // namespace

void set_error_class(const Napi::CallbackInfo& info) {
  if (!info[0].IsFunction()) {
    Napi::TypeError::New(info.Env(), "setErrorClass expects a class").ThrowAsJavaScriptException();
    return;
  }
  if (!g_error_class) g_error_class = new Napi::FunctionReference();
  *g_error_class = Napi::Persistent(info[0].As<Napi::Function>());
}

Napi::Error make_error(Napi::Env env, const std::string& message, const char* code,
                       int64_t offset) {
  if (!g_error_class || g_error_class->IsEmpty()) {
    Napi::Error err = Napi::Error::New(env, message);
    err.Set("code", Napi::String::New(env, code));
    return err;
  }
  Napi::Value offset_value = offset >= 0 ? Napi::Number::New(env, static_cast<double>(offset))
                                         : env.Undefined();
  Napi::Object obj = g_error_class->New(
      {Napi::String::New(env, message), Napi::String::New(env, code), offset_value});
  return Napi::Error(env, obj);
}

Napi::Error error_from(Napi::Env env, const std::exception& e) {
  if (dynamic_cast<const kvmlens::SetupError*>(&e)) return make_error(env, e.what(), "ESETUP");
  if (dynamic_cast<const kvmlens::ParseError*>(&e)) return make_error(env, e.what(), "EPARSE");
  return make_error(env, e.what(), "EINTERNAL");
}

}  // namespace kvmlens_addon
