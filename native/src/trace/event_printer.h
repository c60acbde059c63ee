// Formats a trace entry by its event's print fmt, as libtraceevent's
// tep_print_event(..., TEP_PRINT_INFO) does for `perf script` and perf
// report's `trace` sort key. The print fmt is compiled once into literal
// pieces and conversions with expression trees (REC->field, casts, C
// operators, ternaries, __print_symbolic/__print_flags, __get_str,
// __get_dynamic_array[_len], __print_hex[_str], __print_array); each
// conversion is then done by the C library's printf with the conversion text
// and argument type perf's parser uses, so widths, padding and signedness
// come out as perf prints them.
//
// A print fmt this does not understand (an unknown function, say) compiles
// to "[FAILED TO PARSE]" followed by every field as `name=value`, which is
// what libtraceevent prints for events it cannot parse.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "trace/event_format.h"

namespace kvmlens {

class EventPrinter {
 public:
  // `long_size` is the recording's (TracingData::long_size).
  EventPrinter(const EventFormat& format, uint32_t long_size);
  ~EventPrinter();
  EventPrinter(EventPrinter&&) noexcept;
  EventPrinter& operator=(EventPrinter&&) noexcept;

  // What perf's tep knows besides the format: the recording's printk
  // strings (TracingData::printk; a `%s` of a pointer field that points at
  // one prints it) and kernel symbols for %pS/%ps/%pF/%pf (perf report
  // resolves them with the host kernel's symbols). Both optional; the
  // resolver returns false for an unknown address, else the name and start.
  using FunctionResolver = std::function<bool(uint64_t addr, std::string* name, uint64_t* start)>;
  void set_printk(const std::map<uint64_t, std::string>* printk);
  void set_function_resolver(FunctionResolver resolver);

  // Appends the formatted entry (`data` is the raw payload, `size` bytes).
  void print(const uint8_t* data, uint32_t size, std::string* out) const;
  std::string print(const uint8_t* data, uint32_t size) const {
    std::string s;
    print(data, size, &s);
    return s;
  }

  bool parsed() const;            // false: prints "[FAILED TO PARSE]" and the fields
  const std::string& error() const;  // why not, when !parsed()
  // True when the output can depend on the common_* header (common_pid,
  // flags, preempt count): callers that group payloads may ignore those
  // bytes otherwise.
  bool reads_common_fields() const;
  // Bytes at the start of an entry that hold common_* fields.
  uint32_t common_size() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace kvmlens
