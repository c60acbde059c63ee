// The one error type that crosses the seam. JS hands its KvmlensError class
// to the addon once (setErrorClass); C++ constructs it with a message, a
// machine-readable code and, for parse errors, the byte offset.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

namespace kvmlens_addon {

void set_error_class(const Napi::CallbackInfo& info);

// code: "EPARSE" (bad input file), "ESETUP" (environment), "EARG", "EINTERNAL".
Napi::Error make_error(Napi::Env env, const std::string& message, const char* code,
                       int64_t offset = -1);

}  // namespace kvmlens_addon
