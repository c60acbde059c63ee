// libFuzzer target: HEADER_TRACING_DATA sections, tracepoint format texts
// and print fmt constant expressions. Anything but ParseError escaping, a
// crash, or a sanitizer report is a bug. Seed it with the tracing sections
// of test/fixtures/*.data for depth (see native/test/trace_test.cc).
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/errors.h"
#include "trace/event_format.h"
#include "trace/print_fmt.h"
#include "trace/tracing_data.h"

using namespace kvmlens;

// Reads every field of every event from the input bytes, as the decoder would.
static void read_all_fields(const TracingData& td, const uint8_t* data, size_t size) {
  uint64_t u;
  int64_t i;
  for (const EventFormat& e : td.events)
    for (const FormatField& f : e.fields) {
      read_field_u64(f, data, static_cast<uint32_t>(size), &u);
      read_field_i64(f, data, static_cast<uint32_t>(size), &i);
    }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    TracingData td = parse_tracing_data(data, size, 0);
    read_all_fields(td, data, size);
  } catch (const ParseError&) {
  }
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    EventFormat e = parse_event_format("kvm", text);
    TracingData td;
    td.events.push_back(std::move(e));
    read_all_fields(td, data, size);
  } catch (const ParseError&) {
  }
  find_symbol_tables(text);  // never throws
  int64_t value;
  eval_int_expr(text, &value);
  return 0;
}
