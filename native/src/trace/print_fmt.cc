#include "trace/print_fmt.h"

#include <cctype>
#include <cstring>

namespace kvmlens {

namespace {

// Hostile or absurd print fmts ("((((((...") must not exhaust the stack.
constexpr int kMaxDepth = 64;

bool is_ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// ---------------------------------------------------------------------------
// Integer constant expressions: a small recursive-descent evaluator.

class ExprEvaluator {
 public:
  explicit ExprEvaluator(const std::string& s) : s_(s) {}

  bool evaluate(int64_t* out) {
    uint64_t v;
    if (!bit_or(&v, 0)) return false;
    skip_spaces();
    if (i_ != s_.size()) return false;  // trailing junk: not a constant
    *out = static_cast<int64_t>(v);
    return true;
  }

 private:
  void skip_spaces() {
    while (i_ < s_.size() && is_space(s_[i_])) i_++;
  }
  // Consumes `op` unless it is the start of a longer operator (`&` vs `&&`).
  bool eat(const char* op) {
    skip_spaces();
    const size_t n = std::strlen(op);
    if (s_.compare(i_, n, op) != 0) return false;
    if (n == 1 && i_ + 1 < s_.size()) {
      const char next = s_[i_ + 1];
      if ((op[0] == '&' && next == '&') || (op[0] == '|' && next == '|') || (op[0] == '<' && next == '<') ||
          (op[0] == '>' && next == '>') || next == '=')
        return false;
    }
    i_ += n;
    return true;
  }

  bool bit_or(uint64_t* v, int depth) {
    if (!bit_xor(v, depth)) return false;
    uint64_t r;
    while (eat("|")) {
      if (!bit_xor(&r, depth)) return false;
      *v |= r;
    }
    return true;
  }
  bool bit_xor(uint64_t* v, int depth) {
    if (!bit_and(v, depth)) return false;
    uint64_t r;
    while (eat("^")) {
      if (!bit_and(&r, depth)) return false;
      *v ^= r;
    }
    return true;
  }
  bool bit_and(uint64_t* v, int depth) {
    if (!shift(v, depth)) return false;
    uint64_t r;
    while (eat("&")) {
      if (!shift(&r, depth)) return false;
      *v &= r;
    }
    return true;
  }
  bool shift(uint64_t* v, int depth) {
    if (!additive(v, depth)) return false;
    uint64_t r;
    for (;;) {
      const bool left = eat("<<");
      if (!left && !eat(">>")) return true;
      if (!additive(&r, depth) || r >= 64) return false;
      *v = left ? *v << r : *v >> r;
    }
  }
  bool additive(uint64_t* v, int depth) {
    if (!multiplicative(v, depth)) return false;
    uint64_t r;
    for (;;) {
      const bool plus = eat("+");
      if (!plus && !eat("-")) return true;
      if (!multiplicative(&r, depth)) return false;
      *v = plus ? *v + r : *v - r;  // unsigned: wraps instead of overflowing
    }
  }
  bool multiplicative(uint64_t* v, int depth) {
    if (!unary(v, depth)) return false;
    uint64_t r;
    for (;;) {
      char op = 0;
      if (eat("*")) op = '*';
      else if (eat("/")) op = '/';
      else if (eat("%")) op = '%';
      else return true;
      if (!unary(&r, depth)) return false;
      if (op == '*') {
        *v *= r;
        continue;
      }
      const int64_t a = static_cast<int64_t>(*v), b = static_cast<int64_t>(r);
      if (b == 0 || (b == -1 && a == INT64_MIN)) return false;
      *v = static_cast<uint64_t>(op == '/' ? a / b : a % b);
    }
  }
  bool unary(uint64_t* v, int depth) {
    if (depth > kMaxDepth) return false;
    if (eat("-")) {
      if (!unary(v, depth + 1)) return false;
      *v = 0 - *v;
      return true;
    }
    if (eat("+")) return unary(v, depth + 1);
    if (eat("~")) {
      if (!unary(v, depth + 1)) return false;
      *v = ~*v;
      return true;
    }
    if (eat("!")) {
      if (!unary(v, depth + 1)) return false;
      *v = *v == 0;
      return true;
    }
    return primary(v, depth);
  }
  bool primary(uint64_t* v, int depth) {
    skip_spaces();
    if (eat("(")) {
      if (!bit_or(v, depth + 1)) return false;
      return eat(")");
    }
    return number(v);
  }
  bool number(uint64_t* v) {
    skip_spaces();
    if (i_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[i_]))) return false;
    unsigned base = 10;
    if (s_[i_] == '0' && i_ + 1 < s_.size() && (s_[i_ + 1] == 'x' || s_[i_ + 1] == 'X')) {
      base = 16;
      i_ += 2;
    } else if (s_[i_] == '0') {
      base = 8;
    }
    uint64_t value = 0;
    size_t digits = 0;
    for (; i_ < s_.size(); i_++, digits++) {
      const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(s_[i_])));
      unsigned d;
      if (c >= '0' && c <= '9') d = static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') d = static_cast<unsigned>(c - 'a' + 10);
      else break;
      if (d >= base) return false;  // "09", "0x1g"
      value = value * base + d;
    }
    if (digits == 0) return false;
    while (i_ < s_.size() && std::strchr("uUlL", s_[i_])) i_++;
    if (i_ < s_.size() && is_ident_char(s_[i_])) return false;
    *v = value;
    return true;
  }

  const std::string& s_;
  size_t i_ = 0;
};

// ---------------------------------------------------------------------------
// Print fmt scanning over [begin, end) ranges of one string, so nothing is
// copied until a table is recorded.

class SymbolScanner {
 public:
  SymbolScanner(const std::string& s, std::vector<SymbolTable>* out) : s_(s), out_(out) {}

  void scan_arguments() {
    size_t i = skip_spaces(0, s_.size());
    // The format string (adjacent literals concatenate), then ", args".
    if (i < s_.size() && s_[i] == '"') {
      while (i < s_.size() && s_[i] == '"') i = skip_spaces(skip_literal(i, s_.size()), s_.size());
      if (i >= s_.size() || s_[i] != ',') return;  // no arguments
      i++;
    }
    scan_list(i, s_.size(), "", 0);
  }

 private:
  struct Range {
    size_t b, e;
  };

  size_t skip_spaces(size_t i, size_t end) const {
    while (i < end && is_space(s_[i])) i++;
    return i;
  }
  Range trim(size_t b, size_t e) const {
    while (b < e && is_space(s_[b])) b++;
    while (e > b && is_space(s_[e - 1])) e--;
    return {b, e};
  }
  std::string text(Range r) const { return s_.substr(r.b, r.e - r.b); }

  // s_[i] is a quote; returns the index after the closing quote, or `end`
  // (with *closed false) when the literal is unterminated.
  size_t skip_literal(size_t i, size_t end, bool* closed = nullptr) const {
    const char quote = s_[i];
    for (i++; i < end; i++) {
      if (s_[i] == '\\') {
        i++;
        continue;
      }
      if (s_[i] == quote) {
        if (closed) *closed = true;
        return i + 1;
      }
    }
    if (closed) *closed = false;
    return end;
  }
  static bool is_open(char c) { return c == '(' || c == '{' || c == '['; }
  static bool is_close(char c) { return c == ')' || c == '}' || c == ']'; }

  // Index of the bracket closing the one at s_[open], or `end` if unbalanced.
  size_t match_close(size_t open, size_t end) const {
    int depth = 0;
    for (size_t i = open; i < end;) {
      const char c = s_[i];
      if (c == '"' || c == '\'') {
        i = skip_literal(i, end);
        continue;
      }
      if (is_open(c)) depth++;
      else if (is_close(c) && --depth == 0) return i;
      i++;
    }
    return end;
  }

  // Splits [b, e) at commas outside brackets and literals.
  std::vector<Range> split(size_t b, size_t e) const {
    std::vector<Range> parts;
    size_t start = b;
    for (size_t i = b; i < e;) {
      const char c = s_[i];
      if (c == '"' || c == '\'') {
        i = skip_literal(i, e);
        continue;
      }
      if (is_open(c)) {
        i = match_close(i, e) + 1;
        continue;
      }
      if (c == ',') {
        parts.push_back(trim(start, i));
        start = i + 1;
      }
      i++;
    }
    Range last = trim(start, e);
    if (last.b < last.e || !parts.empty()) parts.push_back(last);
    return parts;
  }

  // Removes parentheses that wrap the whole range: "((a == 1))" -> "a == 1".
  // At most kMaxDepth layers: each costs a scan of the range, and a hostile
  // format of many thousand nested parentheses must not cost their square.
  Range strip_parens(Range r) const {
    r = trim(r.b, r.e);
    for (int layer = 0; layer < kMaxDepth && r.e - r.b >= 2 && s_[r.b] == '(' && match_close(r.b, r.e) == r.e - 1;
         layer++)
      r = trim(r.b + 1, r.e - 1);
    return r;
  }

  static std::string both(const std::string& guard, const std::string& cond) {
    return guard.empty() ? cond : guard + " && " + cond;
  }
  // "!REC->isa == 1" keeps the form consumers match on; compound conditions
  // get parentheses so the negation covers all of them.
  static std::string negate(const std::string& cond) {
    if (cond.find("&&") != std::string::npos || cond.find("||") != std::string::npos ||
        cond.find('?') != std::string::npos)
      return "!(" + cond + ")";
    return "!" + cond;
  }

  void scan_list(size_t b, size_t e, const std::string& guard, int depth) {
    for (Range r : split(b, e)) scan(r.b, r.e, guard, depth);
  }

  // One expression: a ternary splits into guarded branches; otherwise walk it
  // for symbol calls and bracketed sub-expressions.
  void scan(size_t b, size_t e, const std::string& guard, int depth) {
    if (depth > kMaxDepth) return;
    size_t question = e, colon = e;
    find_ternary(b, e, &question, &colon);
    if (colon < e) {
      const std::string cond = text(strip_parens({b, question}));
      scan(b, question, guard, depth + 1);
      scan(question + 1, colon, both(guard, cond), depth + 1);
      scan(colon + 1, e, both(guard, negate(cond)), depth + 1);
      return;
    }
    for (size_t i = b; i < e;) {
      const char c = s_[i];
      if (c == '"' || c == '\'') {
        i = skip_literal(i, e);
      } else if (is_ident_start(c)) {
        size_t j = i;
        while (j < e && is_ident_char(s_[j])) j++;
        const std::string ident = s_.substr(i, j - i);
        const size_t open = skip_spaces(j, e);
        const bool symbolic = ident == "__print_symbolic" || ident == "__print_symbolic_u64";
        const bool flags = ident == "__print_flags" || ident == "__print_flags_u64";
        if ((symbolic || flags) && open < e && s_[open] == '(') {
          const size_t close = match_close(open, e);
          if (close >= e) return;  // unbalanced: nothing reliable follows
          record_call(flags, open + 1, close, guard);
          i = close + 1;
        } else {
          i = j;
        }
      } else if (is_open(c)) {
        const size_t close = match_close(i, e);
        scan_list(i + 1, close, guard, depth + 1);
        i = close + 1;
      } else {
        i++;
      }
    }
  }

  // Top-level `?` of [b, e) and the `:` that pairs with it (nested ternaries
  // without parentheses count). Leaves *colon at e when there is none.
  void find_ternary(size_t b, size_t e, size_t* question, size_t* colon) const {
    int pending = 0;
    for (size_t i = b; i < e;) {
      const char c = s_[i];
      if (c == '"' || c == '\'') {
        i = skip_literal(i, e);
        continue;
      }
      if (is_open(c)) {
        i = match_close(i, e) + 1;
        continue;
      }
      if (c == '?') {
        if (pending++ == 0) *question = i;
      } else if (c == ':' && pending > 0 && --pending == 0) {
        *colon = i;
        return;
      }
      i++;
    }
  }

  // The body of __print_symbolic(expr, {v, "n"}...) or
  // __print_flags(expr, "sep", {v, "n"}...).
  void record_call(bool flags, size_t b, size_t e, const std::string& guard) {
    std::vector<Range> args = split(b, e);
    if (args.empty() || args[0].b == args[0].e) return;
    SymbolTable table;
    table.is_flags = flags;
    table.expr = text(args[0]);
    table.field = field_of(table.expr);
    table.guard = guard;
    for (size_t a = flags ? 2 : 1; a < args.size(); a++) add_entry(args[a], &table);
    out_->push_back(std::move(table));
  }

  void add_entry(Range r, SymbolTable* table) const {
    if (r.e - r.b < 2 || s_[r.b] != '{' || match_close(r.b, r.e) != r.e - 1) return;
    std::vector<Range> kv = split(r.b + 1, r.e - 1);
    if (kv.size() != 2) return;
    int64_t value;
    std::string name;
    if (!eval_int_expr(text(kv[0]), &value) || !string_literal(kv[1], &name)) return;
    // The kernel's printer takes the first matching entry, so keep the first.
    table->entries.emplace(value, std::move(name));
  }

  // "a" or "a" "b" with C escapes; false if the range is anything else.
  bool string_literal(Range r, std::string* out) const {
    size_t i = r.b;
    bool any = false;
    while (i < r.e && s_[i] == '"') {
      bool closed = false;
      const size_t after = skip_literal(i, r.e, &closed);
      if (!closed) return false;
      for (size_t k = i + 1; k + 1 < after; k++) {
        char c = s_[k];
        if (c == '\\' && k + 2 < after) {
          c = s_[++k];
          if (c == 'n') c = '\n';
          else if (c == 't') c = '\t';
        }
        *out += c;
      }
      any = true;
      i = skip_spaces(after, r.e);
    }
    return any && i == r.e;
  }

  // "REC->exit_reason & 0xffff" -> "exit_reason"; "" when no field is read.
  static std::string field_of(const std::string& expr) {
    size_t p = expr.find("REC->");
    if (p == std::string::npos) return "";
    p += 5;
    size_t e = p;
    while (e < expr.size() && is_ident_char(expr[e])) e++;
    return expr.substr(p, e - p);
  }

  const std::string& s_;
  std::vector<SymbolTable>* out_;
};

}  // namespace

bool eval_int_expr(const std::string& expr, int64_t* out) { return ExprEvaluator(expr).evaluate(out); }

std::vector<SymbolTable> find_symbol_tables(const std::string& print_fmt) {
  std::vector<SymbolTable> tables;
  SymbolScanner(print_fmt, &tables).scan_arguments();
  return tables;
}

}  // namespace kvmlens
