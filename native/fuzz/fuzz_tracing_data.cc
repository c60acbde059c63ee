// libFuzzer target: tracing data sections and tracepoint format texts.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/errors.h"
#include "trace/tracing_data.h"

using namespace kvmlens;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    parse_tracing_data(data, size, 0);
  } catch (const ParseError&) {
  }
  try {
    parse_event_format("kvm", std::string(reinterpret_cast<const char*>(data), size));
  } catch (const ParseError&) {
  }
  return 0;
}
