#include "trace/event_printer.h"

#include <algorithm>
#include <cctype>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "trace/print_fmt.h"

namespace kvmlens {

namespace {

constexpr int kMaxDepth = 64;

// ---------------------------------------------------------------------------
// Tokens of the argument list (C, as the kernel's TP_printk wrote it).

enum class Tok { End, Number, Ident, String, Op };

struct Token {
  Tok kind = Tok::End;
  std::string text;  // strings: raw content (escapes kept), adjacent literals joined
};

std::vector<Token> tokenize(const std::string& s, size_t i) {
  std::vector<Token> out;
  static const char* const kOps[] = {"->", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||"};
  while (i < s.size()) {
    const char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      i++;
    } else if (c == '"' || c == '\'') {
      // As libtraceevent's tokenizer: the content is kept raw; a string
      // followed by another (only spaces between) is one token.
      Token t;
      t.kind = Tok::String;
      for (;;) {
        size_t j = i + 1;
        while (j < s.size() && s[j] != c) j += s[j] == '\\' ? 2 : 1;
        t.text += s.substr(i + 1, std::min(j, s.size()) - i - 1);
        i = j + 1;
        size_t k = i;
        while (k < s.size() && std::isspace(static_cast<unsigned char>(s[k]))) k++;
        if (c == '"' && k < s.size() && s[k] == '"') {
          i = k;
          continue;
        }
        break;
      }
      out.push_back(std::move(t));
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t j = i;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) j++;
      out.push_back({Tok::Number, s.substr(i, j - i)});
      i = j;
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) j++;
      out.push_back({Tok::Ident, s.substr(i, j - i)});
      i = j;
    } else {
      std::string op(1, c);
      for (const char* o : kOps)
        if (s.compare(i, 2, o) == 0) op = o;
      out.push_back({Tok::Op, op});
      i += op.size();
    }
  }
  out.push_back({Tok::End, ""});
  return out;
}

// ---------------------------------------------------------------------------
// Expression trees.

enum class Kind { Atom, Field, Cast, Unary, Binary, Ternary, Index, Symbolic, Flags, GetStr, DynArray, DynArrayLen, Hex, HexStr, IntArray };

struct FieldInfo {
  const FormatField* f = nullptr;
  bool array = false, dynamic = false, rel = false, string = false, pointer = false, is_long = false;
  uint32_t element_size = 0;
};

struct Node {
  Kind kind = Kind::Atom;
  std::string text;         // atom text, operator, cast type, flags delimiter
  uint64_t number = 0;      // atom value (strtoull of the text, as libtraceevent)
  FieldInfo field;
  std::vector<std::unique_ptr<Node>> kids;
  std::vector<std::pair<int64_t, std::string>> table;  // symbols / flags in order
};
using NodePtr = std::unique_ptr<Node>;

bool starts_with(const std::string& s, const char* p) { return s.compare(0, std::strlen(p), p) == 0; }

uint64_t eval_flag(const std::string& text) {
  if (!text.empty() && std::isdigit(static_cast<unsigned char>(text[0]))) return std::strtoull(text.c_str(), nullptr, 0);
  static const std::pair<const char*, uint64_t> kNames[] = {
      {"HI_SOFTIRQ", 0},       {"TIMER_SOFTIRQ", 1},   {"NET_TX_SOFTIRQ", 2},    {"NET_RX_SOFTIRQ", 3},
      {"BLOCK_SOFTIRQ", 4},    {"BLOCK_IOPOLL_SOFTIRQ", 5}, {"TASKLET_SOFTIRQ", 6}, {"SCHED_SOFTIRQ", 7},
      {"HRTIMER_SOFTIRQ", 8},  {"RCU_SOFTIRQ", 9},     {"HRTIMER_NORESTART", 0}, {"HRTIMER_RESTART", 1}};
  for (const auto& [name, value] : kNames)
    if (text == name) return value;
  return ~0ULL;  // -1: matches no value, and as a flag is only printed for 0
}

uint32_t base_type_size(std::string t, uint32_t long_size) {
  if (t.find('*') != std::string::npos) return long_size;
  for (const char* strip : {"__data_loc ", "__rel_loc ", "unsigned ", "signed ", "const ", "volatile "})
    while (t.find(strip) != std::string::npos) t.erase(t.find(strip), std::strlen(strip));
  const size_t b = t.find('[');
  if (b != std::string::npos) t = t.substr(0, b);
  while (!t.empty() && t.back() == ' ') t.pop_back();
  if (t == "char" || t == "u8" || t == "s8" || t == "bool" || t == "__u8" || t == "__s8") return 1;
  if (t == "short" || t == "u16" || t == "s16" || t == "__u16" || t == "__s16") return 2;
  if (t == "int" || t == "u32" || t == "s32" || t == "__u32" || t == "__s32" || t == "pid_t") return 4;
  if (t == "long long" || t == "u64" || t == "s64" || t == "__u64" || t == "__s64") return 8;
  if (t == "long") return long_size;
  return 0;
}

FieldInfo field_info(const FormatField* f, uint32_t long_size) {
  FieldInfo fi;
  fi.f = f;
  if (!f) return fi;
  const std::string& t = f->type;
  fi.array = t.find('[') != std::string::npos;
  fi.dynamic = starts_with(t, "__data_loc") || starts_with(t, "__rel_loc");
  fi.rel = starts_with(t, "__rel_loc");
  fi.string = fi.array && t.find("char") != std::string::npos;
  fi.pointer = !t.empty() && t.back() == '*';
  fi.is_long = t == "long" || t == "unsigned long";
  fi.element_size = f->size;
  if (fi.array) {
    const size_t open = t.rfind('['), close = t.rfind(']');
    const uint32_t n = static_cast<uint32_t>(std::strtoul(t.c_str() + open + 1, nullptr, 10));
    if (n > 0 && close > open + 1) fi.element_size = f->size / n;
    else fi.element_size = base_type_size(t, long_size);
  }
  return fi;
}

class Parser {
 public:
  Parser(const std::vector<Token>& toks, const EventFormat& ev, uint32_t long_size)
      : t_(toks), ev_(ev), long_size_(long_size) {}

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  bool at_end() const { return peek().kind == Tok::End; }
  bool eat_op(const char* op) {
    if (peek().kind == Tok::Op && peek().text == op) {
      pos_++;
      return true;
    }
    return false;
  }
  const Token& peek(size_t ahead = 0) const { return t_[std::min(pos_ + ahead, t_.size() - 1)]; }

  NodePtr expression(int depth = 0) { return ternary(depth); }

  void fail(const std::string& why) {
    if (error_.empty()) error_ = why + (peek().kind == Tok::End ? " at the end" : " at '" + peek().text + "'");
  }

 private:
  static int precedence(const std::string& op) {
    if (op == "||") return 2;
    if (op == "&&") return 3;
    if (op == "|") return 4;
    if (op == "^") return 5;
    if (op == "&") return 6;
    if (op == "==" || op == "!=") return 7;
    if (op == "<" || op == "<=" || op == ">" || op == ">=") return 8;
    if (op == "<<" || op == ">>") return 9;
    if (op == "+" || op == "-") return 10;
    if (op == "*" || op == "/" || op == "%") return 11;
    return -1;
  }

  NodePtr ternary(int depth) {
    if (depth > kMaxDepth) {
      fail("expression nested too deeply");
      return nullptr;
    }
    NodePtr cond = binary(0, depth);
    if (!ok()) return nullptr;
    if (!eat_op("?")) return cond;
    NodePtr a = ternary(depth + 1);
    if (!ok()) return nullptr;
    if (!eat_op(":")) {
      fail("'?' without ':'");
      return nullptr;
    }
    NodePtr b = ternary(depth + 1);
    if (!ok()) return nullptr;
    auto n = std::make_unique<Node>();
    n->kind = Kind::Ternary;
    n->kids.push_back(std::move(cond));
    n->kids.push_back(std::move(a));
    n->kids.push_back(std::move(b));
    return n;
  }

  NodePtr binary(int min_prec, int depth) {
    NodePtr left = unary(depth);
    while (ok()) {
      const Token& op = peek();
      if (op.kind != Tok::Op) break;
      const int p = precedence(op.text);
      if (p < 0 || p < min_prec) break;
      std::string text = op.text;
      pos_++;
      NodePtr right = binary(p + 1, depth + 1);
      if (!ok()) return nullptr;
      auto n = std::make_unique<Node>();
      n->kind = Kind::Binary;
      n->text = text;
      n->kids.push_back(std::move(left));
      n->kids.push_back(std::move(right));
      left = std::move(n);
    }
    return ok() ? std::move(left) : nullptr;
  }

  NodePtr unary(int depth) {
    if (depth > kMaxDepth) {
      fail("expression nested too deeply");
      return nullptr;
    }
    const Token& t = peek();
    if (t.kind == Tok::Op && (t.text == "-" || t.text == "!" || t.text == "~" || t.text == "+")) {
      std::string op = t.text;
      pos_++;
      NodePtr operand = unary(depth + 1);
      if (!ok()) return nullptr;
      if (op == "+") return operand;
      auto n = std::make_unique<Node>();
      n->kind = Kind::Unary;
      n->text = op;
      n->kids.push_back(std::move(operand));
      return n;
    }
    if (t.kind == Tok::Op && t.text == "(" && type_in_parens() && is_sign_after_type()) {
      // "(unsigned long)-4095": libtraceevent takes a type followed by an
      // operator for a parenthesized atom (worth 0) and the operator for a
      // binary one: (0) - 4095.
      pos_++;
      std::string type;
      while (!(peek().kind == Tok::Op && peek().text == ")")) {
        if (!type.empty()) type += ' ';
        type += peek().text;
        pos_++;
      }
      pos_++;
      return atom(type);
    }
    if (t.kind == Tok::Op && t.text == "(" && is_cast()) {
      pos_++;
      std::string type;
      while (!(peek().kind == Tok::Op && peek().text == ")")) {
        if (!type.empty()) type += ' ';
        type += peek().text;
        pos_++;
      }
      pos_++;
      NodePtr operand = unary(depth + 1);
      if (!ok()) return nullptr;
      auto n = std::make_unique<Node>();
      n->kind = Kind::Cast;
      n->text = type;
      n->kids.push_back(std::move(operand));
      return n;
    }
    return postfix(depth);
  }

  // Index of the ')' closing "(type words" at pos_, or 0.
  size_t type_in_parens() const {
    size_t i = 1;
    bool any = false;
    for (;; i++) {
      const Token& k = peek(i);
      if (k.kind == Tok::Ident && k.text != "REC") {
        any = true;
        continue;
      }
      if (k.kind == Tok::Op && k.text == "*" && any) continue;
      break;
    }
    if (!any || !(peek(i).kind == Tok::Op && peek(i).text == ")")) return 0;
    if (i == 2 && peek(2).kind == Tok::Op && peek(2).text == "(") return 0;
    return i;
  }
  bool is_sign_after_type() const {
    const size_t i = type_in_parens();
    const Token& next = peek(i + 1);
    return i && next.kind == Tok::Op && (next.text == "-" || next.text == "+");
  }

  // "(unsigned long)x", "(char *)x": type words then ')' then an operand.
  bool is_cast() const {
    size_t i = 1;
    bool any = false;
    for (;; i++) {
      const Token& k = peek(i);
      if (k.kind == Tok::Ident && k.text != "REC") {
        any = true;
        continue;
      }
      if (k.kind == Tok::Op && k.text == "*" && any) continue;
      break;
    }
    if (!any || !(peek(i).kind == Tok::Op && peek(i).text == ")")) return false;
    // A lone identifier in parentheses followed by a function call is a call.
    if (i == 2 && peek(2).kind == Tok::Op && peek(2).text == "(") return false;
    const Token& next = peek(i + 1);
    return next.kind == Tok::Number || next.kind == Tok::Ident || next.kind == Tok::String ||
           (next.kind == Tok::Op && (next.text == "(" || next.text == "!" || next.text == "~"));
  }

  NodePtr postfix(int depth) {
    NodePtr base = primary(depth);
    while (ok() && eat_op("[")) {
      NodePtr index = expression(depth + 1);
      if (!ok()) return nullptr;
      if (!eat_op("]")) {
        fail("'[' without ']'");
        return nullptr;
      }
      auto n = std::make_unique<Node>();
      n->kind = Kind::Index;
      n->kids.push_back(std::move(base));
      n->kids.push_back(std::move(index));
      base = std::move(n);
    }
    return ok() ? std::move(base) : nullptr;
  }

  NodePtr atom(const std::string& text) {
    auto n = std::make_unique<Node>();
    n->kind = Kind::Atom;
    n->text = text;
    n->number = std::strtoull(text.c_str(), nullptr, 0);
    return n;
  }

  NodePtr field_node(Kind kind, const std::string& name) {
    auto n = std::make_unique<Node>();
    n->kind = kind;
    n->text = name;
    n->field = field_info(ev_.field(name), long_size_);
    return n;
  }

  // A field name given to __get_str() and friends: "name" or "REC->name".
  std::string field_name_arg() {
    if (peek().kind == Tok::Ident && peek().text == "REC" && peek(1).text == "->") pos_ += 2;
    if (peek().kind != Tok::Ident) {
      fail("expected a field name");
      return "";
    }
    return t_[pos_++].text;
  }

  bool expect(const char* op) {
    if (eat_op(op)) return true;
    fail(std::string("expected '") + op + "'");
    return false;
  }

  // { value, "name" }, ... up to the closing ')'.
  void table(Node* n) {
    while (ok() && eat_op(",")) {
      if (!expect("{")) return;
      NodePtr value = expression();
      if (!ok() || !expect(",")) return;
      // The name is any expression to libtraceevent (the table's end marker
      // is { 0, ((void *)0) } in some formats); it keeps an atom's text (a
      // cast's type text, which shares the field).
      NodePtr name_node = expression();
      if (!ok() || !expect("}")) return;
      std::string name = name_node->kind == Kind::Atom || name_node->kind == Kind::Cast ? name_node->text : "";
      // libtraceevent (perf 6.1) keeps an atom's text and evaluates any
      // other value to "%lld"; eval_flag() then reads text that starts with
      // a digit with strtoull, a few softirq / hrtimer names from a table,
      // and anything else (an enum name, a negative number) as -1.
      std::string text;
      const Node* v = value.get();
      while (v->kind == Kind::Cast) v = v->kids[0].get();
      if (v->kind == Kind::Atom) {
        text = v->text;
      } else {
        int64_t num = 0;
        if (!constant(value.get(), &num)) {
          fail("symbol value is not a constant");
          return;
        }
        text = std::to_string(num);
      }
      n->table.emplace_back(static_cast<int64_t>(eval_flag(text)), std::move(name));
    }
  }

  static bool constant(const Node* n, int64_t* out) {
    if (!n) return false;
    int64_t a, b;
    switch (n->kind) {
      case Kind::Atom:
        // arg_num_eval: strtoll of the text (names are 0).
        *out = std::strtoll(n->text.c_str(), nullptr, 0);
        return true;
      case Kind::Unary:
        if (!constant(n->kids[0].get(), &a)) return false;
        *out = n->text == "-" ? -a : n->text == "~" ? ~a : !a;
        return true;
      case Kind::Binary: {
        if (!constant(n->kids[0].get(), &a) || !constant(n->kids[1].get(), &b)) return false;
        const std::string& op = n->text;
        const uint64_t ua = static_cast<uint64_t>(a), ub = static_cast<uint64_t>(b);
        if (op == "+") *out = static_cast<int64_t>(ua + ub);
        else if (op == "-") *out = static_cast<int64_t>(ua - ub);
        else if (op == "*") *out = static_cast<int64_t>(ua * ub);
        else if (op == "/") { if (b == 0) return false; *out = a / b; }
        else if (op == "%") { if (b == 0) return false; *out = a % b; }
        else if (op == "<<") *out = static_cast<int64_t>(ua << (ub & 63));
        else if (op == ">>") *out = a >> (ub & 63);
        else if (op == "&") *out = a & b;
        else if (op == "|") *out = a | b;
        else if (op == "^") *out = a ^ b;
        else if (op == "==") *out = a == b;
        else if (op == "!=") *out = a != b;
        else if (op == "<") *out = a < b;
        else if (op == ">") *out = a > b;
        else if (op == "<=") *out = a <= b;
        else if (op == ">=") *out = a >= b;
        else if (op == "&&") *out = a && b;
        else if (op == "||") *out = a || b;
        else return false;
        return true;
      }
      case Kind::Cast:
        return constant(n->kids[0].get(), out);
      default:
        return false;
    }
  }

  NodePtr call(const std::string& name, int depth) {
    pos_++;  // '('
    auto n = std::make_unique<Node>();
    if (name == "__print_symbolic" || name == "__print_symbolic_u64") {
      n->kind = Kind::Symbolic;
      n->kids.push_back(expression(depth + 1));
      table(n.get());
    } else if (name == "__print_flags" || name == "__print_flags_u64") {
      n->kind = Kind::Flags;
      n->kids.push_back(expression(depth + 1));
      if (!ok() || !expect(",")) return nullptr;
      if (peek().kind != Tok::String) {
        fail("__print_flags without a delimiter string");
        return nullptr;
      }
      n->text = t_[pos_++].text;
      table(n.get());
    } else if (name == "__builtin_expect") {
      // libtraceevent keeps the condition and ignores the expectation.
      NodePtr cond = expression(depth + 1);
      if (!ok() || !expect(",")) return nullptr;
      (void)expression(depth + 1);
      if (!ok() || !expect(")")) return nullptr;
      return cond;
    } else if (name == "__get_str" || name == "__get_rel_str") {
      n = field_node(Kind::GetStr, field_name_arg());
    } else if (name == "__get_dynamic_array" || name == "__get_rel_dynamic_array") {
      n = field_node(Kind::DynArray, field_name_arg());
    } else if (name == "__get_dynamic_array_len" || name == "__get_rel_dynamic_array_len") {
      n = field_node(Kind::DynArrayLen, field_name_arg());
    } else if (name == "__print_hex" || name == "__print_hex_str") {
      n->kind = name == "__print_hex" ? Kind::Hex : Kind::HexStr;
      n->kids.push_back(expression(depth + 1));
      if (!ok() || !expect(",")) return nullptr;
      n->kids.push_back(expression(depth + 1));
    } else if (name == "__print_array") {
      n->kind = Kind::IntArray;
      n->kids.push_back(expression(depth + 1));
      for (int i = 0; i < 2 && ok(); i++) {
        if (!expect(",")) return nullptr;
        n->kids.push_back(expression(depth + 1));
      }
    } else {
      fail("function " + name + "() is not known");
      return nullptr;
    }
    if (!ok() || !expect(")")) return nullptr;
    if (n->kind == Kind::Hex || n->kind == Kind::HexStr || n->kind == Kind::IntArray) {
      const Node* a = n->kids[0].get();
      while (a->kind == Kind::Cast) a = a->kids[0].get();
      if (a->kind != Kind::Field && a->kind != Kind::DynArray) {
        fail(name + "() of something other than a field");
        return nullptr;
      }
    }
    return n;
  }

  NodePtr primary(int depth) {
    const Token& t = peek();
    switch (t.kind) {
      case Tok::Number:
      case Tok::String: {
        pos_++;
        return atom(t_[pos_ - 1].text);
      }
      case Tok::Ident: {
        if (t.text == "REC") {
          if (peek(1).kind != Tok::Op || peek(1).text != "->" || peek(2).kind != Tok::Ident) {
            fail("REC without ->field");
            return nullptr;
          }
          pos_ += 3;
          return field_node(Kind::Field, t_[pos_ - 1].text);
        }
        std::string name = t.text;
        pos_++;
        if (peek().kind == Tok::Op && peek().text == "(") return call(name, depth);
        return atom(name);  // an enum name the kernel left unconverted: 0, printed as its name
      }
      case Tok::Op:
        if (t.text == "(") {
          pos_++;
          NodePtr inner = expression(depth + 1);
          if (!ok() || !expect(")")) return nullptr;
          return inner;
        }
        fail("unexpected '" + t.text + "'");
        return nullptr;
      case Tok::End:
        fail("the argument list ends early");
        return nullptr;
    }
    return nullptr;
  }

  const std::vector<Token>& t_;
  const EventFormat& ev_;
  uint32_t long_size_;
  size_t pos_ = 0;
  std::string error_;
};

// ---------------------------------------------------------------------------
// The format string, split into literal text and conversions.

enum class Conv { Text, Number, String, Pointer };

struct Piece {
  Conv kind = Conv::Text;
  std::string text;     // literal text, or the conversion ("%-16s", "0x%08lx" minus the 0x)
  int ls = 0;           // length modifier: -2 hh, -1 h, 0, 1 l, 2 ll
  char pointer_kind = 0;  // the letter after %p ('S', 'M', ...), 0 for a plain %p
  const Node* arg = nullptr;
  const Node* len_arg = nullptr;  // '*'
};

void appendf(std::string* out, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void appendf(std::string* out, const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (static_cast<size_t>(n) < sizeof buf) {
    out->append(buf, static_cast<size_t>(n));
    return;
  }
  std::vector<char> big(static_cast<size_t>(n) + 1);
  va_start(ap, fmt);
  std::vsnprintf(big.data(), big.size(), fmt, ap);
  va_end(ap);
  out->append(big.data(), static_cast<size_t>(n));
}

// The conversion text is the format's own, so -Wformat-nonliteral is silenced
// for these two wrappers only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wformat-security"
template <class T>
void append_conv(std::string* out, const std::string& conv, int len_arg, T value) {
  char buf[512];
  int n = len_arg >= 0 ? std::snprintf(buf, sizeof buf, conv.c_str(), len_arg, value)
                       : std::snprintf(buf, sizeof buf, conv.c_str(), value);
  if (n < 0) return;
  if (static_cast<size_t>(n) < sizeof buf) {
    out->append(buf, static_cast<size_t>(n));
    return;
  }
  std::vector<char> big(static_cast<size_t>(n) + 1);
  if (len_arg >= 0) std::snprintf(big.data(), big.size(), conv.c_str(), len_arg, value);
  else std::snprintf(big.data(), big.size(), conv.c_str(), value);
  out->append(big.data(), static_cast<size_t>(n));
}
#pragma GCC diagnostic pop

}  // namespace

struct EventPrinter::Impl {
  const std::map<uint64_t, std::string>* printk = nullptr;
  FunctionResolver resolver;
  EventFormat ev;
  uint32_t long_size = 8;
  std::vector<NodePtr> args;
  std::vector<Piece> pieces;
  std::string error;
  bool reads_common = false;
  uint32_t common_size = 0;

  void compile();
  void print(const uint8_t* d, uint32_t size, std::string* out) const;
  uint64_t eval(const Node* n, const uint8_t* d, uint32_t size, int depth = 0) const;
  void print_str(const Node* n, const std::string& conv, int len_arg, const uint8_t* d, uint32_t size,
                 std::string* out, int depth = 0) const;
  void print_fields(const uint8_t* d, uint32_t size, std::string* out) const;
  bool dynamic(const FieldInfo& f, const uint8_t* d, uint32_t size, uint32_t* offset, uint32_t* len) const;
  uint64_t read(const uint8_t* d, uint32_t size, uint64_t offset, uint32_t bytes) const {
    if (offset + bytes > size) return 0;
    const uint8_t* p = d + offset;
    switch (bytes) {
      case 1: return p[0];
      case 2: { uint16_t v; std::memcpy(&v, p, 2); return v; }
      case 4: { uint32_t v; std::memcpy(&v, p, 4); return v; }
      case 8: { uint64_t v; std::memcpy(&v, p, 8); return v; }
      default: return 0;
    }
  }
};

void EventPrinter::Impl::compile() {
  for (const FormatField& f : ev.fields)
    if (starts_with(f.name, "common_")) common_size = std::max(common_size, f.offset + f.size);
  const std::string& pf = ev.print_fmt;
  size_t i = 0;
  while (i < pf.size() && std::isspace(static_cast<unsigned char>(pf[i]))) i++;
  if (i >= pf.size() || pf[i] != '"') {
    error = "the print fmt does not start with a string";
    return;
  }
  std::vector<Token> toks = tokenize(pf, i);
  const std::string fmt = toks[0].text;
  // Arguments: "," expr ...
  // The arguments follow the format token.
  std::vector<Token> rest(toks.begin() + 1, toks.end());
  Parser q(rest, ev, long_size);
  while (q.ok() && !q.at_end()) {
    if (!q.eat_op(",")) {
      q.fail("expected ',' between arguments");
      break;
    }
    NodePtr a = q.expression();
    if (!q.ok()) break;
    args.push_back(std::move(a));
  }
  if (!q.ok()) {
    error = q.error();
    return;
  }
  for (const Token& t : rest)
    if (t.kind == Tok::Ident && starts_with(t.text, "common_")) reads_common = true;

  size_t next_arg = 0;
  auto take = [&]() -> const Node* { return next_arg < args.size() ? args[next_arg++].get() : nullptr; };
  std::string lit;
  auto flush = [&]() {
    if (lit.empty()) return;
    Piece pc;
    pc.text = lit;
    pieces.push_back(pc);
    lit.clear();
  };
  for (size_t k = 0; k < fmt.size(); k++) {
    const char c = fmt[k];
    if (c == '\\' && k + 1 < fmt.size()) {
      const char e = fmt[++k];
      lit += e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
      continue;
    }
    if (c != '%') {
      lit += c;
      continue;
    }
    if (k + 1 < fmt.size() && fmt[k + 1] == '%') {
      lit += '%';
      k++;
      continue;
    }
    flush();
    const size_t start = k;
    Piece pc;
    bool done = false;
    for (k++; k < fmt.size() && !done; k++) {
      const char f = fmt[k];
      switch (f) {
        case '#': case '.': case '-': case '+':
        case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8': case '9':
          break;
        case 'h': pc.ls--; break;
        case 'l': pc.ls++; break;
        case 'L': pc.ls = 2; break;
        case 'z': case 'Z': pc.ls = 1; break;
        case '*':
          if (!(pc.len_arg = take())) error = "no argument for '*'";
          break;
        case 'p': {
          pc.kind = Conv::Pointer;
          const char x = k + 1 < fmt.size() ? fmt[k + 1] : 0;
          size_t extra = 0;
          if (std::strchr("FSfs", x) && x) extra = 1;
          else if (x && std::strchr("Mm", x)) extra = 1 + (k + 2 < fmt.size() && std::strchr("RF", fmt[k + 2]) && fmt[k + 2]);
          else if (x == 'U') extra = 1 + (k + 2 < fmt.size() && fmt[k + 2] && std::strchr("LlBb", fmt[k + 2]));
          else if (x == 'h') extra = 1 + (k + 2 < fmt.size() && fmt[k + 2] && std::strchr("CDN", fmt[k + 2]));
          else if (x == 'I' || x == 'i') {
            error = "%pI (IP address) conversions are not supported";
          }
          pc.pointer_kind = extra ? x : 0;
          k += extra;
          done = true;
          break;
        }
        case 'c': case 'd': case 'u': case 'i': case 'x': case 'X': case 'o':
          pc.kind = Conv::Number;
          done = true;
          break;
        case 's':
          pc.kind = Conv::String;
          done = true;
          break;
        default:
          // libtraceevent prints an unknown conversion as ">c<".
          lit = std::string(">") + f + "<";
          flush();
          pc.kind = Conv::Text;
          done = true;
          break;
      }
      if (done) break;
    }
    if (pc.kind == Conv::Text) continue;
    if (!done) {
      error = "the format ends inside a conversion";
      break;
    }
    pc.text = fmt.substr(start, k + 1 - start);
    if (pc.ls < -2 || pc.ls > 2) error = "bad length modifier in " + pc.text;
    if (!(pc.arg = take())) error = "no argument for " + pc.text;
    if (!error.empty()) break;
    pieces.push_back(pc);
  }
  flush();
}

bool EventPrinter::Impl::dynamic(const FieldInfo& f, const uint8_t* d, uint32_t size, uint32_t* offset,
                                 uint32_t* len) const {
  if (!f.f) return false;
  const uint64_t v = read(d, size, f.f->offset, 4);
  uint64_t off = v & 0xffff;
  const uint32_t l = static_cast<uint32_t>(v >> 16);
  if (f.rel) off += f.f->offset + f.f->size;
  if (off > size) return false;
  *offset = static_cast<uint32_t>(off);
  *len = static_cast<uint32_t>(std::min<uint64_t>(l, size - off));
  return true;
}

static uint64_t cast_value(uint64_t v, std::string type, bool pointer) {
  if (type.size() < 2) return v;
  if (pointer) {
    if (type.back() != '*') return v;
    type = type.substr(0, type.size() - 2);
  }
  if (type.back() == '*' || starts_with(type, "struct")) return v;
  if (type == "u8" || type == "s8") return v & 0xff;
  if (type == "u16" || type == "s16") return v & 0xffff;
  if (type == "u32" || type == "s32") return v & 0xffffffff;
  if (starts_with(type, "unsigned ")) type = type.substr(9);
  if (type == "char") return v & 0xff;
  if (type == "short") return v & 0xffff;
  if (type == "int") return v & 0xffffffff;
  return v;
}

uint64_t EventPrinter::Impl::eval(const Node* n, const uint8_t* d, uint32_t size, int depth) const {
  if (!n || depth > kMaxDepth) return 0;
  switch (n->kind) {
    case Kind::Atom:
      return n->number;
    case Kind::Field:
      if (!n->field.f) return 0;
      return read(d, size, n->field.f->offset, n->field.f->size);
    case Kind::Cast:
      return cast_value(eval(n->kids[0].get(), d, size, depth + 1), n->text, false);
    case Kind::Unary: {
      const uint64_t v = eval(n->kids[0].get(), d, size, depth + 1);
      if (n->text == "-") return 0 - v;
      if (n->text == "!") return !v;
      return ~v;
    }
    case Kind::Ternary:
      return eval(n->kids[0].get(), d, size, depth + 1) ? eval(n->kids[1].get(), d, size, depth + 1)
                                                         : eval(n->kids[2].get(), d, size, depth + 1);
    case Kind::Binary: {
      const uint64_t a = eval(n->kids[0].get(), d, size, depth + 1);
      const uint64_t b = eval(n->kids[1].get(), d, size, depth + 1);
      const std::string& op = n->text;
      switch (op[0]) {
        case '+': return a + b;
        case '-': return a - b;
        case '*': return a * b;
        case '/': return b ? a / b : 0;
        case '%': return b ? a % b : 0;
        case '^': return a ^ b;
        case '|': return op.size() > 1 ? (a || b) : a | b;
        case '&': return op.size() > 1 ? (a && b) : a & b;
        case '=': return a == b;
        case '!': return a != b;
        case '<':
          if (op == "<<") return b < 64 ? a << b : 0;
          return op == "<=" ? a <= b : a < b;
        case '>':
          if (op == ">>") return b < 64 ? a >> b : 0;
          return op == ">=" ? a >= b : a > b;
      }
      return 0;
    }
    case Kind::Index: {
      const uint64_t idx = eval(n->kids[1].get(), d, size, depth + 1);
      const Node* base = n->kids[0].get();
      const Node* cast = nullptr;
      while (base->kind == Kind::Cast) {
        if (!cast) cast = base;
        base = base->kids[0].get();
      }
      uint64_t offset;
      uint32_t bytes = long_size;
      if (base->kind == Kind::DynArray) {
        uint32_t off, len;
        if (!dynamic(base->field, d, size, &off, &len)) return 0;
        offset = off + idx;
        if (base->field.element_size) bytes = base->field.element_size;
      } else if (base->kind == Kind::Field && base->field.f) {
        bytes = base->field.element_size;
        offset = base->field.f->offset + idx * base->field.element_size;
      } else {
        return 0;
      }
      const uint64_t v = read(d, size, offset, bytes);
      return cast ? cast_value(v, cast->text, true) : v;
    }
    case Kind::DynArrayLen: {
      uint32_t off, len;
      return dynamic(n->field, d, size, &off, &len) ? len : 0;
    }
    default:
      return 0;
  }
}

void EventPrinter::Impl::print_str(const Node* n, const std::string& conv, int len_arg, const uint8_t* d,
                                   uint32_t size, std::string* out, int depth) const {
  if (!n || depth > kMaxDepth) return;
  switch (n->kind) {
    case Kind::Atom:
      append_conv(out, conv, len_arg, n->text.c_str());
      return;
    case Kind::Field: {
      const FieldInfo& f = n->field;
      if (!f.f) return;
      if (!f.array && f.f->size == long_size) {
        // A pointer: a printk string of the recording, else its value.
        const uint64_t addr = read(d, size, f.f->offset, long_size);
        auto it = printk ? printk->find(addr) : decltype(printk->end()){};
        if (printk && it != printk->end()) out->append(it->second);
        else appendf(out, "%llx", static_cast<unsigned long long>(addr));
        return;
      }
      uint64_t len = f.f->size ? f.f->size : (size > f.f->offset ? size - f.f->offset : 0);
      if (f.f->offset + len > size) len = size > f.f->offset ? size - f.f->offset : 0;
      std::string s(reinterpret_cast<const char*>(d + std::min<uint64_t>(f.f->offset, size)), len);
      append_conv(out, conv, len_arg, s.c_str());
      return;
    }
    case Kind::Flags: {
      uint64_t v = eval(n->kids[0].get(), d, size, depth + 1);
      bool printed = false;
      for (const auto& [fv, name] : n->table) {
        const uint64_t f = static_cast<uint64_t>(fv);
        if (!v && fv < 0) {
          append_conv(out, conv, len_arg, name.c_str());
          break;
        }
        if (fv > 0 && (v & f) == f) {
          if (printed) out->append(n->text);
          append_conv(out, conv, len_arg, name.c_str());
          printed = true;
          v &= ~f;
        }
      }
      if (v) {
        if (printed) out->append(n->text);
        appendf(out, "0x%llx", static_cast<unsigned long long>(v));
      }
      return;
    }
    case Kind::Symbolic: {
      const uint64_t v = eval(n->kids[0].get(), d, size, depth + 1);
      for (const auto& [fv, name] : n->table)
        if (static_cast<uint64_t>(fv) == v) {
          append_conv(out, conv, len_arg, name.c_str());
          return;
        }
      appendf(out, "0x%llx", static_cast<unsigned long long>(v));
      return;
    }
    case Kind::Hex:
    case Kind::HexStr:
    case Kind::IntArray: {
      const Node* a = n->kids[0].get();
      while (a->kind == Kind::Cast) a = a->kids[0].get();
      uint32_t off = 0, dlen = 0;
      if (a->kind == Kind::DynArray) {
        if (!dynamic(a->field, d, size, &off, &dlen)) return;
      } else {
        if (!a->field.f) return;
        off = a->field.f->offset;
      }
      const uint64_t count = eval(n->kids[1].get(), d, size, depth + 1);
      if (n->kind != Kind::IntArray) {
        for (uint64_t i = 0; i < count && off + i < size; i++) {
          if (i && n->kind == Kind::Hex) out->push_back(' ');
          appendf(out, "%02x", d[off + i]);
        }
        return;
      }
      uint64_t el = eval(n->kids[2].get(), d, size, depth + 1);
      out->push_back('{');
      uint64_t at = off;
      for (uint64_t i = 0; i < count; i++) {
        if (i) out->push_back(',');
        if (el == 1 || el == 2 || el == 4 || el == 8) {
          if (at + el > size) break;
          appendf(out, el == 8 ? "0x%llx" : "0x%llx", static_cast<unsigned long long>(read(d, size, at, static_cast<uint32_t>(el))));
        } else {
          appendf(out, "BAD SIZE:%d 0x%x", static_cast<int>(el), at < size ? d[at] : 0);
          el = 1;
        }
        at += el;
      }
      out->push_back('}');
      return;
    }
    case Kind::GetStr: {
      uint32_t off, len;
      if (!dynamic(n->field, d, size, &off, &len) || len == 0) return;
      // The kernel stores the terminating NUL; stop at the payload's end if not.
      const void* nul = std::memchr(d + off, 0, size - off);
      std::string s(reinterpret_cast<const char*>(d + off),
                    nul ? static_cast<const uint8_t*>(nul) - (d + off) : size - off);
      append_conv(out, conv, len_arg, s.c_str());
      return;
    }
    case Kind::Ternary:
      print_str(eval(n->kids[0].get(), d, size, depth + 1) ? n->kids[1].get() : n->kids[2].get(), conv, len_arg,
                d, size, out, depth + 1);
      return;
    default:
      return;  // libtraceevent prints nothing for other operations under %s
  }
}

void EventPrinter::Impl::print_fields(const uint8_t* d, uint32_t size, std::string* out) const {
  for (const FormatField& f : ev.fields) {
    if (starts_with(f.name, "common_")) continue;
    FieldInfo fi = field_info(&f, long_size);
    appendf(out, " %s=", f.name.c_str());
    if (fi.array) {
      uint32_t off = f.offset, len = f.size;
      if (fi.dynamic && !dynamic(fi, d, size, &off, &len)) continue;
      if (off + len > size) len = off < size ? size - off : 0;
      bool printable = true;
      for (uint32_t i = 0; i < len && d[off + i]; i++)
        if (!std::isprint(d[off + i])) printable = false;
      if (fi.string && printable) {
        const void* nul = std::memchr(d + off, 0, size - off);
        out->append(reinterpret_cast<const char*>(d + off),
                    nul ? static_cast<const uint8_t*>(nul) - (d + off) : size - off);
      } else {
        out->append("ARRAY[");
        for (uint32_t i = 0; i < len; i++) appendf(out, i ? ", %02x" : "%02x", d[off + i]);
        out->push_back(']');
      }
      continue;
    }
    const unsigned long long v = read(d, size, f.offset, f.size);
    if (fi.pointer) appendf(out, "0x%llx", v);
    else if (f.is_signed) {
      switch (f.size) {
        case 4: if (fi.is_long) appendf(out, "0x%x", static_cast<int>(v)); else appendf(out, "%d", static_cast<int>(v)); break;
        case 2: appendf(out, "%2d", static_cast<short>(v)); break;
        case 1: appendf(out, "%1d", static_cast<signed char>(v)); break;
        default: appendf(out, "%lld", static_cast<long long>(v));
      }
    } else if (fi.is_long) appendf(out, "0x%llx", v);
    else appendf(out, "%llu", v);
  }
}

void EventPrinter::Impl::print(const uint8_t* d, uint32_t size, std::string* out) const {
  if (!error.empty()) {
    out->append("[FAILED TO PARSE]");
    print_fields(d, size, out);
    return;
  }
  for (const Piece& pc : pieces) {
    const int len_arg = pc.len_arg ? static_cast<int>(eval(pc.len_arg, d, size)) : -1;
    switch (pc.kind) {
      case Conv::Text:
        out->append(pc.text);
        break;
      case Conv::String:
        print_str(pc.arg, pc.text, len_arg, d, size, out);
        break;
      case Conv::Number: {
        const uint64_t v = eval(pc.arg, d, size);
        switch (pc.ls) {
          case -2: append_conv(out, pc.text, len_arg, static_cast<int>(static_cast<signed char>(v))); break;
          case -1: append_conv(out, pc.text, len_arg, static_cast<int>(static_cast<short>(v))); break;
          case 0: append_conv(out, pc.text, len_arg, static_cast<int>(v)); break;
          case 1: append_conv(out, pc.text, len_arg, static_cast<long>(v)); break;
          default: append_conv(out, pc.text, len_arg, static_cast<long long>(v)); break;
        }
        break;
      }
      case Conv::Pointer: {
        const uint64_t v = eval(pc.arg, d, size);
        const char k = pc.pointer_kind;
        if (k == 'F' || k == 'f' || k == 'S' || k == 's') {
          // perf report resolves these with the host kernel's symbols;
          // unknown addresses print as libtraceevent prints them.
          std::string name;
          uint64_t start = 0;
          if (resolver && resolver(v, &name, &start)) {
            out->append(name);
            if (k == 'F' || k == 'S') appendf(out, "+0x%llx", static_cast<unsigned long long>(v - start));
          } else {
            appendf(out, "0x%llx", static_cast<unsigned long long>(long_size == 4 ? v & 0xffffffff : v));
          }
        } else if ((k == 'M' || k == 'm') && pc.arg->kind == Kind::Field && pc.arg->field.f) {
          const FormatField* f = pc.arg->field.f;
          if (f->size != 6 || f->offset + 6 > size) {
            out->append("INVALIDMAC");
          } else {
            const uint8_t* b = d + f->offset;
            appendf(out, k == 'M' ? "%.2x:%.2x:%.2x:%.2x:%.2x:%.2x" : "%.2x%.2x%.2x%.2x%.2x%.2x", b[0], b[1], b[2],
                    b[3], b[4], b[5]);
          }
        } else {
          appendf(out, "%p", reinterpret_cast<void*>(static_cast<uintptr_t>(v)));
        }
        break;
      }
    }
  }
}

EventPrinter::EventPrinter(const EventFormat& format, uint32_t long_size) : impl_(std::make_unique<Impl>()) {
  impl_->ev = format;
  impl_->long_size = long_size ? long_size : 8;
  impl_->compile();
  if (!impl_->error.empty()) {
    impl_->pieces.clear();
    impl_->args.clear();
  }
}
EventPrinter::~EventPrinter() = default;
EventPrinter::EventPrinter(EventPrinter&&) noexcept = default;
EventPrinter& EventPrinter::operator=(EventPrinter&&) noexcept = default;

void EventPrinter::print(const uint8_t* data, uint32_t size, std::string* out) const { impl_->print(data, size, out); }
void EventPrinter::set_printk(const std::map<uint64_t, std::string>* printk) { impl_->printk = printk; }
void EventPrinter::set_function_resolver(FunctionResolver resolver) { impl_->resolver = std::move(resolver); }
bool EventPrinter::parsed() const { return impl_->error.empty(); }
const std::string& EventPrinter::error() const { return impl_->error; }
bool EventPrinter::reads_common_fields() const { return impl_->reads_common || !impl_->error.empty(); }
uint32_t EventPrinter::common_size() const { return impl_->common_size; }

}  // namespace kvmlens
