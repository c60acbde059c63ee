// For bench/exporter.bench.ts: the native aggregation step alone, fed the
// same in-memory events that prom-client's Histogram.observe() is fed, so
// the two are compared like for like. Per event: find the series' histogram
// by key in an open-addressing map (as KvmAnalyzer finds its row) and record
// the duration into the log-linear histogram through the analyzer's own
// RecordBatch (pairs in batches of 128, statistics and counters prefetched
// first); mode "noMoments": the same without perf's running mean and
// variance (AnalyzerOptions::moments = false); "oneByOne":
// LatencyHistogram::record per event. Times
// itself with steady_clock around the loop only.
#include <napi.h>

#include <chrono>
#include <string>
#include <vector>

#include "addon/js_errors.h"
#include "core/flat_map.h"
#include "stats/histogram.h"
#include "stats/record_batch.h"

namespace kvmlens_addon {

namespace {
struct KeyHash {
  size_t operator()(uint32_t k) const { return static_cast<size_t>(k * 0x9E3779B97F4A7C15ULL >> 17); }
};
}  // namespace

// recordDurations(keys: Uint32Array, durationsNs: Float64Array, mode?: 'batched' | 'noMoments' | 'oneByOne') -> { ns, count, sum }
Napi::Value RecordDurations(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsTypedArray() || !info[1].IsTypedArray()) {
    make_error(env, "recordDurations(keys: Uint32Array, durationsNs: Float64Array)", "EARG").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Uint32Array keys = info[0].As<Napi::Uint32Array>();
  Napi::Float64Array ns = info[1].As<Napi::Float64Array>();
  const size_t n = keys.ElementLength();
  if (ns.ElementLength() != n) {
    make_error(env, "recordDurations: keys and durations differ in length", "EARG").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const uint32_t* k = keys.Data();
  const double* d = ns.Data();
  kvmlens::FlatMap<uint32_t, uint32_t, KeyHash> index;
  std::vector<kvmlens::LatencyHistogram> hists;
  hists.reserve(1024);
  const std::string mode = info.Length() > 2 && info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "batched";
  const bool one_by_one = mode == "oneByOne", moments = mode != "noMoments";
  kvmlens::RecordBatch batch;
  const auto hist_of = [&hists](uint32_t row) -> kvmlens::LatencyHistogram& { return hists[row]; };
  const auto t0 = std::chrono::steady_clock::now();
  if (one_by_one) {
    for (size_t i = 0; i < n; i++) {
      bool inserted = false;
      const uint32_t at = index.find_or_insert(k[i], static_cast<uint32_t>(hists.size()), &inserted);
      if (inserted) hists.emplace_back();
      hists[at].record(static_cast<uint64_t>(d[i]));
    }
  } else {
    for (size_t i = 0; i < n; i++) {
      bool inserted = false;
      const uint32_t at = index.find_or_insert(k[i], static_cast<uint32_t>(hists.size()), &inserted);
      if (inserted) hists.emplace_back();
      if (batch.full()) batch.flush(hist_of, moments);
      batch.push(at, static_cast<uint64_t>(d[i]));
    }
    batch.flush(hist_of, moments);
  }
  const auto t1 = std::chrono::steady_clock::now();
  uint64_t count = 0, sum = 0;
  for (const auto& h : hists) count += h.count(), sum += h.sum();
  Napi::Object o = Napi::Object::New(env);
  o.Set("ns", static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()));
  o.Set("count", static_cast<double>(count));
  o.Set("sum", static_cast<double>(sum));
  return o;
}

}  // namespace kvmlens_addon
