// Reads the value->name tables out of a tracepoint's print fmt: every
// __print_symbolic / __print_flags call (and their _u64 variants), with the
// field it reads and the ternary branch it sits in. The print fmt is C the
// kernel wrote for its own printf; we understand only the parts we need and
// skip everything else, so this never throws.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "trace/event_format.h"

namespace kvmlens {

// `print_fmt` is the text after "print fmt:" ("\"fmt\", args...").
std::vector<SymbolTable> find_symbol_tables(const std::string& print_fmt);

// Evaluates an integer constant expression as found in symbol tables:
// literals (decimal, 0x hex, 0 octal, U/L suffixes), parentheses, unary - ~ !,
// and binary * / % + - << >> & ^ |, in C precedence with 64-bit wrap-around.
// Returns false for anything else (identifiers, casts, division by zero).
bool eval_int_expr(const std::string& expr, int64_t* out);

}  // namespace kvmlens
