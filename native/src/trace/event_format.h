// A tracepoint's format as the kernel describes it (tracefs `format` file or
// the copy perf stores in HEADER_TRACING_DATA): field layout and the
// value->name tables of its print fmt (__print_symbolic / __print_flags).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace kvmlens {

struct FormatField {
  std::string name;       // "exit_reason"
  std::string type;       // "unsigned int"
  uint32_t offset = 0;    // from the start of the trace entry
  uint32_t size = 0;
  bool is_signed = false;
};

// One __print_symbolic(expr, {v, "name"}, ...) or __print_flags(expr, sep, ...)
// found in the print fmt.
struct SymbolTable {
  std::string field;      // field the expression reads: "exit_reason"
  std::string expr;       // the expression as written: "REC->exit_reason & 0xffff"
  std::string guard;      // condition of an enclosing `(cond) ? a : b`, with
                          // "!" prefixed for the else branch; "" if none.
                          // e.g. "REC->isa == 1" or "!REC->isa == 1".
                          // Conditions are as written minus outer parentheses;
                          // nested ternaries join with " && ", and a compound
                          // condition is negated as "!(a && b)".
  bool is_flags = false;
  // In value order; the first entry wins for duplicate values (as the
  // kernel's printer). Values are as written: SVM's { -1, "invalid_guest_state" }
  // is key -1, which a u32 exit_reason of 0xffffffff does not equal (perf's
  // own exit-reason lookup does not match it either).
  std::map<int64_t, std::string> entries;
};

struct EventFormat {
  uint32_t id = 0;
  std::string system;     // "kvm"
  std::string name;       // "kvm_exit"
  std::vector<FormatField> fields;  // common_* fields included
  std::string print_fmt;
  std::vector<SymbolTable> symbols;

  const FormatField* field(const std::string& field_name) const;
  std::string full_name() const { return system + ":" + name; }
};

// Parses the text of one format file. Throws ParseError (offset into `text`)
// when the name or a field line is missing or malformed; the print fmt is
// best effort (tables it cannot read are skipped, never an error).
EventFormat parse_event_format(const std::string& system, const std::string& text);

// Reads a field of a trace entry as an unsigned / sign-extended integer.
// Returns false if the field lies outside `size` bytes.
bool read_field_u64(const FormatField& f, const uint8_t* entry, uint32_t size, uint64_t* out);
bool read_field_i64(const FormatField& f, const uint8_t* entry, uint32_t size, int64_t* out);

}  // namespace kvmlens
