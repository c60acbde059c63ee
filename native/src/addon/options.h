// JS option objects -> core option structs, validated once at the seam.
#pragma once
#include <napi.h>

#include "kvm/kvm_analyzer.h"

namespace kvmlens_addon {

// {longThresholdNs?: number}
kvmlens::AnalyzerOptions analyzer_options(const Napi::Value& value);

// Reads a finite number property, or `fallback` when absent.
double number_option(const Napi::Object& obj, const char* name, double fallback);

}  // namespace kvmlens_addon
