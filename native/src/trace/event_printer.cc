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

enum class Tok { End, Number, Ident, String, Char, Op };

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
      t.kind = c == '"' ? Tok::String : Tok::Char;
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

enum class Kind { Null, Atom, Field, Cast, Unary, Binary, Ternary, Index, Symbolic, Flags, GetStr, DynArray, DynArrayLen, Hex, HexStr, IntArray };

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
  int prio = 0;             // libtraceevent's op priority (0: single operator, ?, [)
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

// libtraceevent's eval_type: a cast masks to the type's size (it never sign-extends).
uint64_t cast_value(uint64_t v, std::string type, bool pointer) {
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

// libtraceevent's parser (perf 6.1's copy), reproduced for its results, not
// C's: it reads an operand, then an operator and one more operand, and
// rotates the two when the operand is itself an operation of lower
// precedence, even a parenthesized one. So `REC->flags & (A | B)` reads as
// `(REC->flags & A) | B`, and perf prints what that evaluates to; so must we.
class Parser {
 public:
  Parser(const std::vector<Token>& toks, const EventFormat& ev, uint32_t long_size)
      : t_(toks), ev_(ev), long_size_(long_size) {}

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  bool at_end() const { return cur().kind == Tok::End; }
  bool eat_delim(const char* d) {
    if (is_delim(d)) {
      pos_++;
      return true;
    }
    return false;
  }

  // One print argument: an operand and its operators.
  NodePtr expression(int depth = 0) {
    NodePtr arg;
    process_arg(arg, depth);
    if (ok() && is_op()) process_op(arg, depth);
    return ok() ? std::move(arg) : nullptr;
  }

  void fail(const std::string& why) {
    if (error_.empty()) error_ = why + (cur().kind == Tok::End ? " at the end" : " at '" + cur().text + "'");
  }

 private:
  const Token& cur() const { return t_[std::min(pos_, t_.size() - 1)]; }
  // DELIM tokens are ( ) , ; everything else that is not a word or a string is an OP.
  bool is_delim(const char* d = nullptr) const {
    const Token& t = cur();
    if (t.kind != Tok::Op || (t.text != "(" && t.text != ")" && t.text != ",")) return false;
    return !d || t.text == d;
  }
  bool is_op(const char* o = nullptr) const {
    const Token& t = cur();
    if (t.kind != Tok::Op || is_delim()) return false;
    return !o || t.text == o;
  }
  bool is_item() const { return cur().kind == Tok::Number || cur().kind == Tok::Ident; }

  static int op_prio(const std::string& op) {
    if (op.size() == 1) {
      switch (op[0]) {
        case '~': case '!': return 4;
        case '*': case '/': case '%': return 6;
        case '+': case '-': return 7;
        case '<': case '>': return 9;
        case '&': return 11;
        case '^': return 12;
        case '|': return 13;
        case '?': return 16;
        default: return -1;
      }
    }
    if (op == "++" || op == "--") return 3;
    if (op == ">>" || op == "<<") return 8;
    if (op == ">=" || op == "<=") return 9;
    if (op == "==" || op == "!=") return 10;
    if (op == "&&") return 14;
    if (op == "||") return 15;
    return -1;
  }

  bool deep(int depth) {
    if (depth > kMaxDepth) {
      fail("expression nested too deeply");
      return true;
    }
    return false;
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

  void process_arg(NodePtr& arg, int depth) {
    if (deep(depth)) return;
    const Token t = cur();
    switch (t.kind) {
      case Tok::Ident:
      case Tok::Number: {
        pos_++;
        if (t.text == "REC") {
          if (!is_op("->")) return fail("REC without ->");
          pos_++;
          if (!is_item()) return fail("REC-> without a field");
          arg = field_node(Kind::Field, cur().text);
          pos_++;
          return;
        }
        if (is_delim("(")) {
          pos_++;
          return process_function(arg, t.text, depth + 1);
        }
        std::string text = t.text;  // atoms can be several words: "unsigned long"
        while (is_item()) text += " " + t_[pos_++].text;
        arg = atom(text);
        return;
      }
      case Tok::String:
        pos_++;
        arg = atom(t.text);
        return;
      case Tok::Char:
        pos_++;
        arg = atom(std::to_string(static_cast<int>(static_cast<signed char>(t.text.empty() ? 0 : t.text[0]))));
        return;
      case Tok::Op:
        if (t.text == "(") {
          pos_++;
          return process_paren(arg, depth + 1);
        }
        {
          // A single operator: - ! ~ + with an empty left side.
          if (t.text.size() != 1 || !std::strchr("~!+-", t.text[0])) return fail("unexpected '" + t.text + "'");
          pos_++;
          auto n = std::make_unique<Node>();
          n->kind = Kind::Binary;
          n->text = t.text;
          n->kids.push_back(std::make_unique<Node>());  // Null
          n->kids[0]->kind = Kind::Null;
          n->kids.emplace_back();
          process_arg(n->kids[1], depth + 1);
          if (!ok()) return;
          arg = std::move(n);
          return continue_ops(arg, arg->kids[1], depth);
        }
      case Tok::End:
        return fail("the argument list ends early");
    }
  }

  // After an operation: a following operator of lower precedence takes
  // the whole as its left side, one of higher precedence the right operand.
  void continue_ops(NodePtr& arg, NodePtr& right, int depth) {
    if (!ok() || !is_op() || cur().text == ":") return;
    if (op_prio(cur().text) > arg->prio) return process_op(arg, depth + 1);
    return process_op(right, depth + 1);
  }

  // cur() is an operator; `arg` its left side.
  void process_op(NodePtr& arg, int depth) {
    if (deep(depth)) return;
    const std::string op = cur().text;
    if (op == "?") {
      pos_++;
      auto n = std::make_unique<Node>();
      n->kind = Kind::Ternary;
      n->kids.push_back(std::move(arg));
      n->kids.emplace_back();
      n->kids.emplace_back();
      process_arg(n->kids[1], depth + 1);
      while (ok() && is_op() && cur().text != ":") process_op(n->kids[1], depth + 1);
      if (!ok()) return;
      if (!is_op(":")) return fail("'?' without ':'");
      pos_++;
      process_arg(n->kids[2], depth + 1);
      if (!ok()) return;
      arg = std::move(n);
      if (is_op() && cur().text != ":" && op_prio(cur().text) <= 0) return fail("unknown operator");
      return continue_ops(arg, arg, depth);
    }
    if (op == "[") {
      pos_++;
      auto n = std::make_unique<Node>();
      n->kind = Kind::Index;
      n->kids.push_back(std::move(arg));
      n->kids.emplace_back();
      process_arg(n->kids[1], depth + 1);
      if (!ok()) return;
      if (!is_op("]")) return fail("'[' without ']'");
      pos_++;
      arg = std::move(n);
      if (is_op() && cur().text != ":" && op_prio(cur().text) <= 0) return fail("unknown operator");
      return continue_ops(arg, arg, depth);
    }
    static const char* const kBinary[] = {">>", "<<", "&", "|", "&&", "||", "-", "+", "*", "^", "/", "%", "<", ">", "<=", ">=", "==", "!="};
    bool binary = false;
    for (const char* b : kBinary) binary = binary || op == b;
    if (!binary) return fail("unknown operator '" + op + "'");
    auto n = std::make_unique<Node>();
    n->kind = Kind::Binary;
    n->text = op;
    n->prio = arg->kind == Kind::Null ? 0 : op_prio(op);
    n->kids.push_back(std::move(arg));
    n->kids.emplace_back();
    pos_++;
    if (op == "*" && is_delim(")")) {
      // "char *)": a pointer type, part of the atom.
      if (n->kids[0]->kind != Kind::Atom) return fail("bad pointer type");
      arg = std::move(n->kids[0]);
      arg->text += " *";
      return;
    }
    NodePtr right;
    process_arg(right, depth + 1);
    if (!ok()) return;
    // The right operand's operator, ? and [ included (a ternary rotates too).
    const std::string right_op = right->kind == Kind::Binary    ? right->text
                                 : right->kind == Kind::Ternary ? "?"
                                 : right->kind == Kind::Index   ? "["
                                                                : "";
    if (!right_op.empty() && op_prio(op) < op_prio(right_op)) {
      // Rotate: (left op right.left) right.op right.right.
      NodePtr inner = std::move(n);
      inner->kids[1] = std::move(right->kids[0]);
      right->kids[0] = std::move(inner);
      arg = std::move(right);
      return continue_ops(arg, arg->kids[0], depth);
    }
    n->kids[1] = std::move(right);
    arg = std::move(n);
    return continue_ops(arg, arg->kids[1], depth);
  }

  // After "(": an argument, then ")"; a word in parentheses followed by an
  // operand is a cast.
  void process_paren(NodePtr& arg, int depth) {
    process_arg(arg, depth + 1);
    if (ok() && is_op()) process_op(arg, depth + 1);
    if (!ok()) return;
    if (!eat_delim(")")) return fail("'(' without ')'");
    if (is_item() || cur().kind == Tok::String || cur().kind == Tok::Char || is_delim("(")) {
      if (arg->kind != Kind::Atom) return fail("a cast of something other than a type");
      auto n = std::make_unique<Node>();
      n->kind = Kind::Cast;
      n->text = arg->text;
      n->kids.emplace_back();
      process_arg(n->kids[0], depth + 1);
      if (!ok()) return;
      arg = std::move(n);
    }
  }

  bool expect_delim(const char* d) {
    if (eat_delim(d)) return true;
    fail(std::string("expected '") + d + "'");
    return false;
  }

  // An argument of __print_flags / __print_symbolic / __print_hex ...: an
  // operand and all its operators.
  NodePtr field_arg(int depth) {
    NodePtr a;
    process_arg(a, depth + 1);
    while (ok() && is_op()) process_op(a, depth + 1);
    return ok() ? std::move(a) : nullptr;
  }

  std::string field_name() {
    if (!is_item()) {
      fail("expected a field name");
      return "";
    }
    return t_[pos_++].text;
  }

  // { value, name }, ... ; cur() is the ',' before the first.
  void process_fields(Node* n, int depth) {
    while (ok() && is_delim(",")) {
      pos_++;
      if (!is_op("{")) break;
      pos_++;
      NodePtr value;
      process_arg(value, depth + 1);
      if (ok() && is_op()) process_op(value, depth + 1);
      if (!ok() || !expect_delim(",")) return;
      std::string value_text;
      if (!arg_eval(value.get(), &value_text)) return fail("a symbol value that is not a constant");
      NodePtr name;
      process_arg(name, depth + 1);
      if (!ok()) return;
      if (!is_op("}")) return fail("expected '}'");
      pos_++;
      std::string name_text;
      if (!arg_eval(name.get(), &name_text)) return fail("a symbol name that is not a constant");
      n->table.emplace_back(static_cast<int64_t>(eval_flag(value_text)), std::move(name_text));
    }
  }

  // libtraceevent's arg_eval: an atom's text, else the constant as "%lld".
  static bool arg_eval(const Node* n, std::string* out) {
    if (n->kind == Kind::Atom) {
      *out = n->text;
      return true;
    }
    if (n->kind == Kind::Cast) return arg_eval(n->kids[0].get(), out);
    int64_t v;
    if (n->kind != Kind::Binary || !arg_num_eval(n, &v)) return false;
    *out = std::to_string(v);
    return true;
  }

  static bool arg_num_eval(const Node* n, int64_t* out) {
    switch (n->kind) {
      case Kind::Atom:
        *out = std::strtoll(n->text.c_str(), nullptr, 0);
        return true;
      case Kind::Cast: {
        if (!arg_num_eval(n->kids[0].get(), out)) return false;
        *out = static_cast<int64_t>(cast_value(static_cast<uint64_t>(*out), n->text, false));
        return true;
      }
      case Kind::Binary: {
        const std::string& op = n->text;
        int64_t a = 0, b = 0;
        const bool unary_ok = op == "-" || op == "+";
        if (op == "~") {
          if (!arg_num_eval(n->kids[1].get(), &b)) return false;
          *out = ~b;
          return true;
        }
        if (!(n->kids[0]->kind == Kind::Null && unary_ok) && !arg_num_eval(n->kids[0].get(), &a)) return false;
        if (!arg_num_eval(n->kids[1].get(), &b)) return false;
        const uint64_t ua = static_cast<uint64_t>(a), ub = static_cast<uint64_t>(b);
        if (op == "|") *out = a | b;
        else if (op == "||") *out = a || b;
        else if (op == "&") *out = a & b;
        else if (op == "&&") *out = a && b;
        else if (op == "<") *out = a < b;
        else if (op == "<<") *out = static_cast<int64_t>(ua << (ub & 63));
        else if (op == "<=") *out = a <= b;
        else if (op == ">") *out = a > b;
        else if (op == ">>") *out = a >> (ub & 63);
        else if (op == ">=") *out = a >= b;
        else if (op == "==") *out = a == b;
        else if (op == "!=") *out = a != b;
        else if (op == "-") *out = static_cast<int64_t>(ua - ub);
        else if (op == "+") *out = static_cast<int64_t>(ua + ub);
        else return false;
        return true;
      }
      default:
        return false;
    }
  }

  void process_function(NodePtr& arg, const std::string& name, int depth) {
    auto n = std::make_unique<Node>();
    if (name == "__print_symbolic" || name == "__print_symbolic_u64") {
      n->kind = Kind::Symbolic;
      n->kids.push_back(field_arg(depth));
      if (!ok()) return;
      if (!is_delim(",")) return fail("expected ','");
      process_fields(n.get(), depth);
    } else if (name == "__print_flags" || name == "__print_flags_u64") {
      n->kind = Kind::Flags;
      n->kids.push_back(field_arg(depth));
      if (!ok() || !expect_delim(",")) return;
      NodePtr delim;
      process_arg(delim, depth + 1);
      if (!ok()) return;
      if (delim->kind == Kind::Atom) n->text = delim->text;
      if (!is_delim(",")) return fail("expected ','");
      process_fields(n.get(), depth);
    } else if (name == "__get_str" || name == "__get_rel_str") {
      n = field_node(Kind::GetStr, field_name());
    } else if (name == "__get_dynamic_array" || name == "__get_rel_dynamic_array") {
      n = field_node(Kind::DynArray, field_name());
    } else if (name == "__get_dynamic_array_len" || name == "__get_rel_dynamic_array_len") {
      n = field_node(Kind::DynArrayLen, field_name());
    } else if (name == "__builtin_expect") {
      // The condition; the expectation is ignored.
      process_arg(arg, depth + 1);
      if (!ok() || !expect_delim(",")) return;
      if (!is_item()) return fail("__builtin_expect without a value");
      pos_++;
      if (!expect_delim(")")) return;
      return;
    } else if (name == "__print_hex" || name == "__print_hex_str" || name == "__print_array") {
      n->kind = name == "__print_hex" ? Kind::Hex : name == "__print_hex_str" ? Kind::HexStr : Kind::IntArray;
      const int count = n->kind == Kind::IntArray ? 3 : 2;
      for (int i = 0; i < count && ok(); i++) {
        if (i && !expect_delim(",")) return;
        n->kids.push_back(field_arg(depth));
      }
      if (!ok()) return;
      const Node* a = n->kids[0].get();
      while (a->kind == Kind::Cast) a = a->kids[0].get();
      if (a->kind != Kind::Field && a->kind != Kind::DynArray) return fail(name + "() of something other than a field");
    } else {
      return fail("function " + name + "() is not known");
    }
    if (!ok() || !expect_delim(")")) return;
    arg = std::move(n);
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
  char pointer_kind = 0;  // the letter after %p ('S', 'M', 'I', ...), 0 for a plain %p
  char ip_version = 0;    // %pI: '4', '6' or 'S' (a sockaddr)
  bool ip_compressed = false, ip_port = false, ip_reverse = false;
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
  void print_ip(const Piece& pc, char i, const uint8_t* d, uint32_t size, std::string* out) const;
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
    if (!q.eat_delim(",")) {
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
            // %pI4 %pi4 %pI6 %pi6 %pI6c %pIS[p][c], then [hnbl] for 4 and S.
            const char v = k + 2 < fmt.size() ? fmt[k + 2] : 0;
            size_t at = k + 3;
            if (v == '4' || v == '6' || v == 'S') {
              pc.ip_version = v;
              if (v == '6' && x == 'I' && at < fmt.size() && fmt[at] == 'c') pc.ip_compressed = true, at++;
              if (v == 'S' && x == 'I') {
                if (at < fmt.size() && fmt[at] == 'p') pc.ip_port = true, at++;
                if (at < fmt.size() && fmt[at] == 'c') pc.ip_compressed = true, at++;
              }
              if ((v == '4' || v == 'S') && at < fmt.size() && fmt[at] && std::strchr("hnbl", fmt[at])) {
                pc.ip_reverse = fmt[at] == 'h' || fmt[at] == 'l';  // host / little-endian order, on this little-endian host
                at++;
              }
              extra = at - (k + 1);
            }
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
        case '!': return op.size() > 1 ? a != b : !b;
        case '~': return ~b;
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


namespace {

void ip4(std::string* out, char i, bool reverse, const uint8_t* b) {
  const char* f = i == 'i' ? "%03d.%03d.%03d.%03d" : "%d.%d.%d.%d";
  if (reverse) appendf(out, f, b[3], b[2], b[1], b[0]);
  else appendf(out, f, b[0], b[1], b[2], b[3]);
}

void ip6(std::string* out, char i, const uint8_t* b) {
  for (int j = 0; j < 16; j += 2) {
    appendf(out, "%02x%02x", b[j], b[j + 1]);
    if (i == 'I' && j < 14) out->push_back(':');
  }
}

// RFC 5952 style as the kernel's (and libtraceevent's) %pI6c: the longest
// run of zero words (more than one) as "::", v4-mapped / ISATAP tails dotted.
void ip6c(std::string* out, const uint8_t* b) {
  uint16_t w[8];
  for (int k = 0; k < 8; k++) w[k] = static_cast<uint16_t>(b[2 * k] << 8 | b[2 * k + 1]);
  const bool v4mapped = w[0] == 0 && w[1] == 0 && w[2] == 0 && w[3] == 0 && w[4] == 0 && w[5] == 0xffff;
  const bool isatap = (w[4] | 0x0200) == 0x0200 && w[5] == 0x5efe;
  const bool use_v4 = v4mapped || isatap;
  const int range = use_v4 ? 6 : 8;
  int longest = 1, colonpos = -1;
  for (int k = 0; k < range; k++) {
    int len = 0;
    for (int j = k; j < range && w[j] == 0; j++) len++;
    if (len > longest) longest = len, colonpos = k;
  }
  bool needcolon = false;
  for (int k = 0; k < range; k++) {
    if (k == colonpos) {
      if (needcolon || k == 0) out->push_back(':');
      out->push_back(':');
      needcolon = false;
      k += longest - 1;
      continue;
    }
    if (needcolon) out->push_back(':');
    const unsigned hi = w[k] >> 8, lo = w[k] & 0xff;
    if (hi) appendf(out, "%x%02x", hi, lo);
    else appendf(out, "%x", lo);
    needcolon = true;
  }
  if (use_v4) {
    if (needcolon) out->push_back(':');
    ip4(out, 'I', false, b + 12);
  }
}

}  // namespace

void EventPrinter::Impl::print_ip(const Piece& pc, char i, const uint8_t* d, uint32_t size, std::string* out) const {
  const Node* a = pc.arg;
  while (a->kind == Kind::Cast) a = a->kids[0].get();
  uint32_t off = 0, len = 0;
  if (a->kind == Kind::Field && a->field.f) {
    off = a->field.f->offset;
    len = a->field.f->size;
  } else if (a->kind == Kind::DynArray && pc.ip_version == 'S') {
    if (!dynamic(a->field, d, size, &off, &len)) return;
  } else {
    return;
  }
  if (static_cast<uint64_t>(off) + len > size) return;
  const uint8_t* b = d + off;
  if (pc.ip_version == '4') {
    if (len != 4) return void(out->append("INVALIDIPv4"));
    return ip4(out, i, pc.ip_reverse, b);
  }
  if (pc.ip_version == '6') {
    if (len != 16) return void(out->append("INVALIDIPv6"));
    return pc.ip_compressed ? ip6c(out, b) : ip6(out, i, b);
  }
  if (len < 2) return;
  uint16_t family;
  std::memcpy(&family, b, 2);
  const unsigned port = len >= 4 ? static_cast<unsigned>(b[2] << 8 | b[3]) : 0;
  if (family == 2) {  // AF_INET: sockaddr_in
    if (len < 16) return void(out->append("INVALIDIPv4"));
    ip4(out, i, pc.ip_reverse, b + 4);
    if (pc.ip_port) appendf(out, ":%u", port);
  } else if (family == 10) {  // AF_INET6: sockaddr_in6
    if (len < 28) return void(out->append("INVALIDIPv6"));
    if (pc.ip_port) out->push_back('[');
    if (pc.ip_compressed) ip6c(out, b + 8);
    else ip6(out, i, b + 8);
    if (pc.ip_port) appendf(out, "]:%u", port);
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
        } else if (k == 'I' || k == 'i') {
          print_ip(pc, k, d, size, out);
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
