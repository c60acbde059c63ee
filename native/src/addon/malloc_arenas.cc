// limitMallocArenas(n): at most n glibc malloc arenas for the process. glibc
// gives threads that allocate at once arenas of their own (up to 8 per
// core), and each keeps what was freed in it. Called first thing by the
// exporter command (bin/kvmlens.js), before libuv's pool threads exist: a
// limit set later leaves the threads already running on arenas of their own.
// A MALLOC_ARENA_MAX set by the user wins. Returns whether the limit was set.
#include <malloc.h>
#include <napi.h>

#include <cstdlib>

namespace kvmlens_addon {

Napi::Value LimitMallocArenas(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "limitMallocArenas(n) needs a number").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const int n = info[0].As<Napi::Number>().Int32Value();
  if (n < 1 || std::getenv("MALLOC_ARENA_MAX")) return Napi::Boolean::New(env, false);
  return Napi::Boolean::New(env, mallopt(M_ARENA_MAX, n) == 1);
}

}  // namespace kvmlens_addon
