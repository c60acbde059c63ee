// The one error type that crosses the seam. JS hands its KvmlensError class
// to the addon once (setErrorClass); C++ constructs it with a message, a
// machine-readable code and, for parse errors, the byte offset.
#pragma once
#include <napi.h>

#include <cstdint>
#include <exception>
#include <string>

namespace kvmlens_addon {

void set_error_class(const Napi::CallbackInfo& info);

// code: "EPARSE" (bad input file), "ESETUP" (environment), "EARG", "EINTERNAL".
Napi::Error make_error(Napi::Env env, const std::string& message, const char* code,
                       int64_t offset = -1);

// A caught exception as that error: SetupError "ESETUP", ParseError "EPARSE", else "EINTERNAL".
Napi::Error error_from(Napi::Env env, const std::exception& e);

}  // namespace kvmlens_addon
