#include "addon/options.h"

#include <cmath>

namespace kvmlens_addon {

double number_option(const Napi::Object& obj, const char* name, double fallback) {
  Napi::Value v = obj.Get(name);
  if (!v.IsNumber()) return fallback;
  double d = v.As<Napi::Number>().DoubleValue();
  return std::isfinite(d) ? d : fallback;
}

kvmlens::AnalyzerOptions analyzer_options(const Napi::Value& value) {
  kvmlens::AnalyzerOptions options;
  if (!value.IsObject()) return options;
  double threshold = number_option(value.As<Napi::Object>(), "longThresholdNs", 0);
  options.long_threshold_ns = threshold > 0 ? static_cast<uint64_t>(threshold) : 0;
  Napi::Value moments = value.As<Napi::Object>().Get("moments");
  if (moments.IsBoolean()) options.moments = moments.As<Napi::Boolean>().Value();
  return options;
}

}  // namespace kvmlens_addon
