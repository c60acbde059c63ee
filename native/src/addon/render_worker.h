// session.render(spec): the exporter's scrape rendered on libuv's thread
// pool (snapshot, classic slots per planned child, text, gzip); see
// render_worker.cc.
#pragma once
#include <napi.h>

#include "pipeline/session.h"

namespace kvmlens_addon {

// Queues the render; returns its Promise (or throws on a malformed spec).
// The session's JS object (info.This()) is held until the render is done.
Napi::Value StartRender(const Napi::CallbackInfo& info, kvmlens::KvmSession* session);

// jsNumberText(values: Float64Array) -> the values as the render prints them
// (JavaScript's Number#toString, prom-client's NaN/Inf), joined by '\n': for tests.
Napi::Value JsNumberText(const Napi::CallbackInfo& info);

}  // namespace kvmlens_addon
