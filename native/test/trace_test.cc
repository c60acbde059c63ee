// Tracepoint formats and HEADER_TRACING_DATA: real sections perf recorded
// (6.1 in the VM fixture, this machine's kernel in the others), literal
// formats of older kernels, print fmt corner cases, field reads, the blob
// rebuilt from tracefs, and hostile input (every truncation, absurd sizes,
// flipped bytes, deep nesting) that must give a ParseError, never a crash.
#include <dirent.h>
#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "check.h"
#include "core/errors.h"
#include "trace/event_format.h"
#include "trace/print_fmt.h"
#include "trace/tracing_blob.h"
#include "trace/tracing_data.h"

using namespace kvmlens;

namespace {

std::vector<uint8_t> slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

template <class T>
T load(const std::vector<uint8_t>& b, size_t at) {
  T v{};
  if (at + sizeof v <= b.size()) std::memcpy(&v, b.data() + at, sizeof v);
  return v;
}

// The parts of a perf.data file this test needs, found independently of
// src/perf: the HEADER_TRACING_DATA section and the tracepoint ids of the attrs.
struct PerfFile {
  std::vector<uint8_t> bytes;
  uint64_t tracing_offset = 0, tracing_size = 0;
  std::vector<uint64_t> tracepoint_ids;  // config of every PERF_TYPE_TRACEPOINT attr
  bool ok() const { return tracing_size > 0; }
  const uint8_t* tracing() const { return bytes.data() + tracing_offset; }
};

PerfFile open_perf_file(const std::string& path) {
  PerfFile pf;
  pf.bytes = slurp(path);
  const auto& b = pf.bytes;
  if (b.size() < 104 || std::memcmp(b.data(), "PERFILE2", 8) != 0) return pf;
  const uint64_t attr_size = load<uint64_t>(b, 16);
  const uint64_t attrs_off = load<uint64_t>(b, 24), attrs_size = load<uint64_t>(b, 32);
  const uint64_t data_off = load<uint64_t>(b, 40), data_size = load<uint64_t>(b, 48);
  for (uint64_t at = attrs_off; attr_size && at + attr_size <= attrs_off + attrs_size; at += attr_size)
    if (load<uint32_t>(b, at) == 2 /* PERF_TYPE_TRACEPOINT */) pf.tracepoint_ids.push_back(load<uint64_t>(b, at + 8));
  // Feature table: one {offset, size} per set bit of the bitmap, in bit order.
  uint64_t entry = data_off + data_size;
  for (int bit = 0; bit < 256; bit++) {
    if (!((load<uint64_t>(b, 72 + 8 * (bit / 64)) >> (bit % 64)) & 1)) continue;
    if (bit == 1 /* HEADER_TRACING_DATA */) {
      pf.tracing_offset = load<uint64_t>(b, entry);
      pf.tracing_size = load<uint64_t>(b, entry + 8);
      if (pf.tracing_offset + pf.tracing_size > b.size()) pf.tracing_size = 0;
    }
    entry += 16;
  }
  return pf;
}

bool parses(const uint8_t* data, uint64_t size, uint64_t base, TracingData* out = nullptr, std::string* error = nullptr,
            uint64_t* error_offset = nullptr) {
  try {
    TracingData td = parse_tracing_data(data, size, base);
    if (out) *out = std::move(td);
    return true;
  } catch (const ParseError& e) {
    if (error) *error = e.what();
    if (error_offset) *error_offset = e.offset();
    return false;
  }
}

const SymbolTable* table_with_guard(const EventFormat& ev, const std::string& guard, bool flags = false) {
  for (const SymbolTable& t : ev.symbols)
    if (t.guard == guard && t.is_flags == flags) return &t;
  return nullptr;
}

std::string name_of(const SymbolTable* t, int64_t value) {
  if (!t) return "<no table>";
  auto it = t->entries.find(value);
  return it == t->entries.end() ? "<none>" : it->second;
}

bool is_dir(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::vector<std::string> subdirs(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.' && is_dir(dir + "/" + e->d_name)) out.push_back(e->d_name);
    ::closedir(d);
  }
  return out;
}

std::string read_text(const std::string& path) {
  std::vector<uint8_t> b = slurp(path);
  return std::string(b.begin(), b.end());
}

// Where kallsyms starts in a well-formed section: everything before it comes
// from format files; printk formats and saved cmdlines after it change as
// modules load and processes run.
size_t formats_end(const std::vector<uint8_t>& b) {
  size_t p = 10;
  p += std::strlen(reinterpret_cast<const char*>(b.data() + p)) + 1 + 2 + 4;
  for (int i = 0; i < 2; i++) p += std::strlen(reinterpret_cast<const char*>(b.data() + p)) + 1, p += 8 + load<uint64_t>(b, p);
  for (uint32_t n = load<uint32_t>(b, p), i = (p += 4, 0); i < n; i++) p += 8 + load<uint64_t>(b, p);
  for (uint32_t s = load<uint32_t>(b, p), i = (p += 4, 0); i < s; i++) {
    p += std::strlen(reinterpret_cast<const char*>(b.data() + p)) + 1;
    for (uint32_t n = load<uint32_t>(b, p), j = (p += 4, 0); j < n; j++) p += 8 + load<uint64_t>(b, p);
  }
  return p;
}

// --- literal formats of older kernels -----------------------------------

// kvm_exit and kvm_entry as Linux 5.4 printed them: no vcpu_id, no
// intr_info/error_code, kvm_entry with vcpu_id only.
const char* const kExit54 =
    "name: kvm_exit\n"
    "ID: 1034\n"
    "format:\n"
    "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
    "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
    "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
    "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n"
    "\n"
    "\tfield:unsigned int exit_reason;\toffset:8;\tsize:4;\tsigned:0;\n"
    "\tfield:unsigned long guest_rip;\toffset:16;\tsize:8;\tsigned:0;\n"
    "\tfield:u32 isa;\toffset:24;\tsize:4;\tsigned:0;\n"
    "\tfield:u64 info1;\toffset:32;\tsize:8;\tsigned:0;\n"
    "\tfield:u64 info2;\toffset:40;\tsize:8;\tsigned:0;\n"
    "\n"
    "print fmt: \"reason %s rip 0x%lx info %llx %llx\", (REC->isa == 1) ? "
    "__print_symbolic(REC->exit_reason, { 0, \"EXCEPTION_NMI\" }, { 1, \"EXTERNAL_INTERRUPT\" }, "
    "{ 12, \"HLT\" }, { 30, \"IO_INSTRUCTION\" }, { 48, \"EPT_VIOLATION\" }) : "
    "__print_symbolic(REC->exit_reason, { 0x000, \"read_cr0\" }, { 0x040 + 14, \"PF excp\" }, "
    "{ 0x060, \"interrupt\" }, { 0x078, \"hlt\" }, { 0x07b, \"io\" }, { 0x400, \"npf\" }, "
    "{ -1, \"invalid_guest_state\" }), REC->guest_rip, REC->info1, REC->info2\n";

const char* const kEntry54 =
    "name: kvm_entry\n"
    "ID: 1035\n"
    "format:\n"
    "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
    "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
    "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
    "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n"
    "\n"
    "\tfield:unsigned int vcpu_id;\toffset:8;\tsize:4;\tsigned:0;\n"
    "\n"
    "print fmt: \"vcpu %u\", REC->vcpu_id\n";

// 2.6-era layout: no "signed:" attribute, an extra common field, arrays.
const char* const kAncient =
    "name: sched_switch\n"
    "ID: 57\n"
    "format:\n"
    "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\n"
    "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\n"
    "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\n"
    "\tfield:int common_pid;\toffset:4;\tsize:4;\n"
    "\tfield:int common_lock_depth;\toffset:8;\tsize:4;\n"
    "\n"
    "\tfield:char prev_comm[TASK_COMM_LEN];\toffset:12;\tsize:16;\n"
    "\tfield:__data_loc char[] reason;\toffset:28;\tsize:4;\n"
    "\tfield:const char * ptr;\toffset:32;\tsize:8;\n"
    "\n"
    "print fmt: \"prev_comm=%s\", REC->prev_comm\n";

std::string format_with_print_fmt(const std::string& print_fmt) {
  return "name: test\nID: 7\nformat:\n"
         "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
         "\tfield:int x;\toffset:8;\tsize:4;\tsigned:1;\n\n"
         "print fmt: " +
         print_fmt + "\n";
}

void check_literal_formats() {
  EventFormat exit = parse_event_format("kvm", kExit54);
  CHECK(exit.name == "kvm_exit" && exit.id == 1034 && exit.full_name() == "kvm:kvm_exit");
  CHECK(exit.fields.size() == 9);
  CHECK(exit.field("vcpu_id") == nullptr);  // nothing may be assumed
  CHECK(exit.field("requests") == nullptr);
  const FormatField* reason = exit.field("exit_reason");
  CHECK(reason && reason->offset == 8 && reason->size == 4 && !reason->is_signed && reason->type == "unsigned int");
  CHECK(exit.field("common_pid") && exit.field("common_pid")->is_signed);
  CHECK(exit.symbols.size() == 2);
  const SymbolTable* vmx = table_with_guard(exit, "REC->isa == 1");
  const SymbolTable* svm = table_with_guard(exit, "!REC->isa == 1");
  CHECK(name_of(vmx, 12) == "HLT" && name_of(vmx, 48) == "EPT_VIOLATION");
  CHECK(vmx && vmx->field == "exit_reason" && vmx->expr == "REC->exit_reason");
  CHECK(name_of(svm, 0x4e) == "PF excp" && name_of(svm, 0x7b) == "io" && name_of(svm, -1) == "invalid_guest_state");
  CHECK(svm && svm->entries.size() == 7);

  EventFormat entry = parse_event_format("kvm", kEntry54);
  CHECK(entry.fields.size() == 5 && entry.field("vcpu_id") && entry.field("vcpu_id")->offset == 8);
  CHECK(entry.field("rip") == nullptr && entry.symbols.empty());

  EventFormat old = parse_event_format("sched", kAncient);
  CHECK(old.fields.size() == 8);
  const FormatField* comm = old.field("prev_comm");
  CHECK(comm && comm->offset == 12 && comm->size == 16 && comm->type == "char[TASK_COMM_LEN]" && !comm->is_signed);
  const FormatField* reason_loc = old.field("reason");
  CHECK(reason_loc && reason_loc->type == "__data_loc char[]" && reason_loc->offset == 28);
  const FormatField* ptr = old.field("ptr");
  CHECK(ptr && ptr->type == "const char *" && ptr->size == 8);
}

void check_print_fmt_corners() {
  // String literals with commas, parentheses, braces, question marks and
  // escaped quotes must not confuse argument splitting.
  EventFormat e = parse_event_format(
      "t", format_with_print_fmt(
               "\"a, (b) {c} ? d : \\\"e\\\" %s %s\", REC->x ? \"(, ?:\" : \"\\\")\", "
               "__print_symbolic(REC->x, { 1, \"one, (1)\" }, { 2, \"two \\\"2\\\"\" }, { 3, \"DE excp\" })"));
  CHECK(e.symbols.size() == 1);
  if (e.symbols.size() == 1) {
    CHECK(e.symbols[0].guard.empty() && e.symbols[0].field == "x" && !e.symbols[0].is_flags);
    CHECK(name_of(&e.symbols[0], 1) == "one, (1)");
    CHECK(name_of(&e.symbols[0], 2) == "two \"2\"");
    CHECK(name_of(&e.symbols[0], 3) == "DE excp");
  }

  // Nested ternaries: guards combine; the else branch of a compound guard
  // is parenthesised. Unknown macros are looked through, not trusted.
  e = parse_event_format(
      "t", format_with_print_fmt(
               "\"%s %s\", (REC->a == 1) ? ((REC->b) ? __print_symbolic(REC->x & 0xff, { 1, \"A\" }) : "
               "__print_symbolic(REC->x, { 2, \"B\" })) : __print_flags(REC->x, \"|\", { 0x1, \"F1\" }, { 0x2 | 0x4, "
               "\"F6\" }, { 1 << 3, \"F8\" }), __get_str(name), __print_hex(__get_dynamic_array(buf), 4), "
               "SOME_MACRO(REC->y, (REC->z > 2) ? __print_symbolic_u64(REC->z, { 5, \"five\" }) : \"-\")"));
  CHECK(e.symbols.size() == 4);
  const SymbolTable* a = table_with_guard(e, "REC->a == 1 && REC->b");
  const SymbolTable* b = table_with_guard(e, "REC->a == 1 && !REC->b");
  const SymbolTable* f = table_with_guard(e, "!REC->a == 1", true);
  const SymbolTable* z = table_with_guard(e, "REC->z > 2");
  CHECK(name_of(a, 1) == "A" && a && a->expr == "REC->x & 0xff");
  CHECK(name_of(b, 2) == "B");
  CHECK(name_of(f, 1) == "F1" && name_of(f, 6) == "F6" && name_of(f, 8) == "F8");
  CHECK(name_of(z, 5) == "five" && z && z->field == "z");

  // Entries we cannot evaluate are skipped; the rest of the table stays.
  e = parse_event_format("t", format_with_print_fmt("\"%s\", __print_symbolic(REC->x, { SOME_ENUM, \"X\" }, "
                                                    "{ (u64)1, \"Y\" }, { 4, \"Z\" }, { 5 }, garbage, { 6, noquote })"));
  CHECK(e.symbols.size() == 1 && e.symbols[0].entries.size() == 1 && name_of(&e.symbols[0], 4) == "Z");

  // First entry wins for duplicate values, as in the kernel's printer.
  e = parse_event_format("t", format_with_print_fmt("\"%s\", __print_symbolic(REC->x, { 1, \"first\" }, { 1, \"second\" })"));
  CHECK(e.symbols.size() == 1 && name_of(&e.symbols[0], 1) == "first");

  // Nonsense print fmts parse as "no tables", never throw.
  for (const char* pf : {"", "\"", "\"unterminated", "\"%s\", __print_symbolic(", "\"%s\", __print_symbolic(REC->x, {",
                         "\"%s\", ) ) ) ( ( (", "\"%s\", a ? b", "\"%s\", a ? : : ? ?", "\"\", __print_flags()",
                         "no quotes at all, __print_symbolic(REC->q, { 1, \"one\" })", "\"\\\\\", '\"', \"x\""}) {
    try {
      parse_event_format("t", format_with_print_fmt(pf));
    } catch (const ParseError&) {
      CHECK(!"a print fmt made the parser throw");
    }
  }
  e = parse_event_format("t", format_with_print_fmt("no quotes at all, __print_symbolic(REC->q, { 1, \"one\" })"));
  CHECK(e.symbols.size() == 1);

  // Deep nesting must not exhaust the stack.
  std::string deep = "\"%s\", " + std::string(200000, '(') + "__print_symbolic(REC->x, { 1, \"a\" })" +
                     std::string(200000, ')');
  parse_event_format("t", format_with_print_fmt(deep));
  std::string ternaries = "\"%s\", ";
  for (int i = 0; i < 5000; i++) ternaries += "REC->a ? 1 : ";
  parse_event_format("t", format_with_print_fmt(ternaries + "0"));
  // A ternary whose condition is wrapped in 100,000 parentheses: stripping
  // them one layer per scan would be quadratic (minutes); it must stay linear.
  std::string wrapped = "\"%s\", " + std::string(100000, '(') + "REC->a == 1" + std::string(100000, ')') +
                        " ? __print_symbolic(REC->x, { 1, \"a\" }) : 0";
  e = parse_event_format("t", format_with_print_fmt(wrapped));
  CHECK(e.symbols.size() == 1);

  // Constant expressions.
  int64_t v = 0;
  CHECK(eval_int_expr("0x040 + 14", &v) && v == 0x4e);
  CHECK(eval_int_expr("-1", &v) && v == -1);
  CHECK(eval_int_expr(" 0x80000000 ", &v) && v == 0x80000000LL);
  CHECK(eval_int_expr("0x8000fffd", &v) && v == 0x8000fffdLL);
  CHECK(eval_int_expr("1 - 2 - 3", &v) && v == -4);
  CHECK(eval_int_expr("-(1 + 2)", &v) && v == -3);
  CHECK(eval_int_expr("(1UL << 4) | 0x3", &v) && v == 19);
  CHECK(eval_int_expr("2 * 3 + 4 * 5", &v) && v == 26);
  CHECK(eval_int_expr("~0xffffULL & 0xffffffff", &v) && v == 0xffff0000LL);
  CHECK(eval_int_expr("010", &v) && v == 8);
  CHECK(eval_int_expr("0xffffffffffffffff", &v) && v == -1);
  CHECK(!eval_int_expr("", &v));
  CHECK(!eval_int_expr("FOO", &v));
  CHECK(!eval_int_expr("1 +", &v));
  CHECK(!eval_int_expr("(1", &v));
  CHECK(!eval_int_expr("1 / 0", &v));
  CHECK(!eval_int_expr("1 << 64", &v));
  CHECK(!eval_int_expr("1 && 2", &v));
  CHECK(!eval_int_expr("1 == 1", &v));
  CHECK(!eval_int_expr("09", &v));
  CHECK(!eval_int_expr("12abc", &v));
  CHECK(!eval_int_expr(std::string(100000, '-') + "1", &v));
  CHECK(!eval_int_expr(std::string(100000, '(') + "1", &v));
}

void check_field_errors() {
  const char* bad[] = {
      "",                                                     // nothing
      "ID: 3\nformat:\n\tfield:int x;\toffset:8;\tsize:4;\n",  // no name
      "name: a\nID: 3\nformat:\n",                             // no fields
      "name: a\nformat:\n\tfield:int x;\tsize:4;\n",           // no offset
      "name: a\nformat:\n\tfield:int x;\toffset:8;\n",         // no size
      "name: a\nformat:\n\tfield:int x;\toffset:-8;\tsize:4;\n",
      "name: a\nformat:\n\tfield:int x;\toffset:99999999999;\tsize:4;\n",
      "name: a\nformat:\n\tfield:;\toffset:0;\tsize:4;\n",
      "name: a\nformat:\n\tfield:int x[;\toffset:0;\tsize:4;\n",
      "name: a\nID: x\nformat:\n\tfield:int x;\toffset:0;\tsize:4;\n",
  };
  for (const char* text : bad) {
    bool threw = false;
    try {
      parse_event_format("s", text);
    } catch (const ParseError&) {
      threw = true;
    }
    CHECK(threw);
  }
  // Without a print fmt: fine, no tables.
  EventFormat ok = parse_event_format("s", "name: a\nformat:\n\tfield:int x;\toffset:8;\tsize:4;\tsigned:1;");
  CHECK(ok.fields.size() == 1 && ok.id == 0 && ok.print_fmt.empty() && ok.symbols.empty());
}

void check_field_reads() {
  const uint8_t entry[16] = {0x01, 0x80, 0xff, 0xff, 0xfe, 0xff, 0xff, 0xff, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x91};
  FormatField f;
  uint64_t u = 0;
  int64_t i = 0;
  f.offset = 1, f.size = 1, f.is_signed = true;
  CHECK(read_field_u64(f, entry, 16, &u) && u == 0x80);
  CHECK(read_field_i64(f, entry, 16, &i) && i == -128);
  f.offset = 2, f.size = 2;
  CHECK(read_field_i64(f, entry, 16, &i) && i == -1);
  f.is_signed = false;
  CHECK(read_field_i64(f, entry, 16, &i) && i == 0xffff);
  f.offset = 4, f.size = 4, f.is_signed = true;
  CHECK(read_field_i64(f, entry, 16, &i) && i == -2);
  CHECK(read_field_u64(f, entry, 16, &u) && u == 0xfffffffe);
  f.offset = 8, f.size = 8, f.is_signed = false;
  CHECK(read_field_u64(f, entry, 16, &u) && u == 0x9122334455667788ULL);
  CHECK(read_field_i64(f, entry, 16, &i) && i == static_cast<int64_t>(0x9122334455667788ULL));
  CHECK(!read_field_u64(f, entry, 15, &u));  // one byte short
  f.offset = 0xfffffffc, f.size = 8;         // offset + size overflows 32 bits
  CHECK(!read_field_u64(f, entry, 16, &u));
  f.offset = 0, f.size = 3;  // no such integer width
  CHECK(!read_field_u64(f, entry, 16, &u) && !read_field_i64(f, entry, 16, &i));
  f.size = 0;
  CHECK(!read_field_u64(f, entry, 16, &u));
}

// A real section: the five kvm events with the attrs' ids and the layout of
// the kernel that recorded them.
void check_recorded_section(const std::string& path, bool expect_vcpu_in_exit) {
  PerfFile pf = open_perf_file(path);
  CHECK(pf.ok());
  if (!pf.ok()) return;
  TracingData td;
  std::string error;
  CHECK(parses(pf.tracing(), pf.tracing_size, pf.tracing_offset, &td, &error));
  if (!error.empty()) std::fprintf(stderr, "  %s: %s\n", path.c_str(), error.c_str());
  CHECK(td.version == "0.6" && !td.big_endian && td.long_size == 8 && td.page_size == 4096);
  std::set<std::string> names;
  for (const EventFormat& e : td.events) names.insert(e.full_name());
  CHECK((names == std::set<std::string>{"kvm:kvm_entry", "kvm:kvm_exit", "kvm:kvm_mmio", "kvm:kvm_pio", "kvm:kvm_msr"}));
  CHECK(pf.tracepoint_ids.size() == 5);
  for (uint64_t id : pf.tracepoint_ids) CHECK(td.find(static_cast<uint32_t>(id)) != nullptr);
  const EventFormat* exit = td.find("kvm", "kvm_exit");
  CHECK(exit && exit->field("exit_reason") && exit->field("exit_reason")->offset == 8);
  CHECK(exit && exit->field("isa") && exit->field("isa")->offset == 24);
  CHECK(exit && (exit->field("vcpu_id") != nullptr) == expect_vcpu_in_exit);
  if (exit) {
    CHECK(name_of(table_with_guard(*exit, "REC->isa == 1"), 30) == "IO_INSTRUCTION");
    CHECK(name_of(table_with_guard(*exit, "!REC->isa == 1"), 0x7b) == "io");
    CHECK(name_of(table_with_guard(*exit, "!REC->isa == 1"), 0x40 + 14) == "PF excp");
    CHECK(name_of(table_with_guard(*exit, "REC->isa == 1", true), 0x80000000LL) == "FAILED_VMENTRY");
  }
  const EventFormat* mmio = td.find("kvm", "kvm_mmio");
  CHECK(mmio && mmio->symbols.size() == 1 && name_of(&mmio->symbols[0], 2) == "write");
  const EventFormat* pio = td.find("kvm", "kvm_pio");
  CHECK(pio && pio->field("port") && pio->field("rw"));
  CHECK(td.find(0xffffffffu) == nullptr && td.find("kvm", "nope") == nullptr);
}

// Damaged copies of a real section: ParseError with an offset inside the
// section, never a crash (run this under -fsanitize=address,undefined).
void check_hostile_sections(const std::string& path) {
  PerfFile pf = open_perf_file(path);
  if (!pf.ok()) return;
  const std::vector<uint8_t> section(pf.tracing(), pf.tracing() + pf.tracing_size);
  const uint64_t base = 1000000;

  // Every truncation fails (each part is mandatory), inside the section.
  int wrong = 0;
  for (size_t n = 0; n < section.size(); n++) {
    std::vector<uint8_t> cut(section.begin(), section.begin() + n);  // exact-size buffer for ASan
    uint64_t at = 0;
    if (parses(cut.data(), cut.size(), base, nullptr, nullptr, &at) || at < base || at > base + n) wrong++;
  }
  CHECK(wrong == 0);

  // An absurd event format size names itself and where it sits.
  const size_t fmt_size_at = [&] {
    size_t p = 10;
    p += std::strlen(reinterpret_cast<const char*>(section.data() + p)) + 1 + 2 + 4;
    for (int i = 0; i < 2; i++) p += std::strlen(reinterpret_cast<const char*>(section.data() + p)) + 1, p += 8 + load<uint64_t>(section, p);
    for (uint32_t n = load<uint32_t>(section, p), i = (p += 4, 0); i < n; i++) p += 8 + load<uint64_t>(section, p);
    p += 4;                                                                       // system count
    p += std::strlen(reinterpret_cast<const char*>(section.data() + p)) + 1 + 4;  // name, event count
    return p;
  }();
  for (uint64_t absurd : std::vector<uint64_t>{0xffffffffULL, ~0ULL, section.size()}) {
    std::vector<uint8_t> bad = section;
    std::memcpy(bad.data() + fmt_size_at, &absurd, 8);
    std::string error;
    uint64_t at = 0;
    CHECK(!parses(bad.data(), bad.size(), base, nullptr, &error, &at));
    CHECK(at == base + fmt_size_at);
    CHECK(error.find("event format size " + std::to_string(absurd) + " at offset " + std::to_string(base + fmt_size_at) +
                     " runs past the section end") != std::string::npos);
  }
  // Absurd counts: the loops end at the section end, not after 4 billion turns.
  for (size_t count_at : {fmt_size_at - 4, fmt_size_at - 9}) {
    std::vector<uint8_t> bad = section;
    const uint32_t huge = 0xffffffffu;
    std::memcpy(bad.data() + count_at, &huge, 4);
    CHECK(!parses(bad.data(), bad.size(), base));
  }
  {
    std::vector<uint8_t> bad = section;
    bad[0] = 0x18;
    std::string error;
    CHECK(!parses(bad.data(), bad.size(), base, nullptr, &error) && error.find("magic") != std::string::npos);
    bad = section;
    bad[14] = 1;  // "0.6\0" then the endianness byte
    CHECK(!parses(bad.data(), bad.size(), base, nullptr, &error) && error.find("big-endian") != std::string::npos);
  }
  // Random byte flips and garbage: success or ParseError only.
  std::mt19937_64 rng(7);
  for (int round = 0; round < 3000; round++) {
    std::vector<uint8_t> bad = section;
    const int flips = 1 + static_cast<int>(rng() % 8);
    for (int k = 0; k < flips; k++) bad[rng() % bad.size()] = static_cast<uint8_t>(rng());
    parses(bad.data(), bad.size(), base);
  }
}

void check_format_truncations(const std::string& text) {
  for (size_t n = 0; n <= text.size(); n++) {
    try {
      parse_event_format("kvm", text.substr(0, n));
    } catch (const ParseError& e) {
      CHECK(!e.has_offset() || e.offset() <= n);
    }
  }
}

// Everything this machine's tracefs offers: every format of every system
// parses, read_tracefs agrees with the files, and the rebuilt blob parses
// back to the same events and matches a section perf recorded here.
void check_tracefs(const std::string& recorded_here) {
  std::string root;
  for (const char* r : {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"})
    if (is_dir(std::string(r) + "/events/kvm")) {
      root = r;
      break;
    }
  if (root.empty()) {
    std::printf("trace_test: no kvm tracepoints in tracefs here; tracefs checks skipped\n");
    return;
  }
  int formats = 0, failures = 0;
  for (const std::string& system : subdirs(root + "/events"))
    for (const std::string& event : subdirs(root + "/events/" + system)) {
      const std::string text = read_text(root + "/events/" + system + "/" + event + "/format");
      if (text.empty()) continue;
      formats++;
      try {
        EventFormat e = parse_event_format(system, text);
        if (e.name != event || e.fields.empty()) failures++;
      } catch (const ParseError& e) {
        std::fprintf(stderr, "  %s/%s: %s\n", system.c_str(), event.c_str(), e.what());
        failures++;
      }
    }
  CHECK(formats > 0 && failures == 0);

  std::string got_root;
  TracingData live = read_tracefs({"kvm"}, &got_root);
  CHECK(got_root == root);
  CHECK(live.version == "0.6" && live.long_size == sizeof(long) && live.page_size > 0);
  const EventFormat* exit = live.find("kvm", "kvm_exit");
  CHECK(exit && exit->field("exit_reason") && exit->symbols.size() >= 2);
  if (exit) CHECK(exit->id == static_cast<uint32_t>(std::stoul(read_text(root + "/events/kvm/kvm_exit/id"))));
  check_format_truncations(read_text(root + "/events/kvm/kvm_exit/format"));
  try {
    read_tracefs({"kvm", "no_such_system_here"}, nullptr);
    CHECK(!"read_tracefs accepted a missing system");
  } catch (const SetupError& e) {
    CHECK(std::string(e.what()).find("no_such_system_here") != std::string::npos);
  }

  const std::vector<std::string> kvm_events = {"kvm:kvm_entry", "kvm:kvm_exit", "kvm:kvm_mmio", "kvm:kvm_pio",
                                               "kvm:kvm_msr"};
  const std::vector<uint8_t> blob = build_tracing_blob(root, kvm_events);
  TracingData back;
  std::string error;
  CHECK(parses(blob.data(), blob.size(), 0, &back, &error));
  CHECK(back.events.size() == 5);
  for (const EventFormat& e : back.events) {
    const EventFormat* l = live.find(e.system, e.name);
    CHECK(l && l->id == e.id && l->fields.size() == e.fields.size());
    for (size_t i = 0; l && i < e.fields.size() && i < l->fields.size(); i++)
      CHECK(l->fields[i].name == e.fields[i].name && l->fields[i].offset == e.fields[i].offset &&
            l->fields[i].size == e.fields[i].size && l->fields[i].is_signed == e.fields[i].is_signed);
  }
  // perf's own section from this kernel: identical up to printk formats and
  // saved cmdlines, which change as modules load and processes run.
  PerfFile pf = open_perf_file(recorded_here);
  if (pf.ok()) {
    const std::vector<uint8_t> perf_section(pf.tracing(), pf.tracing() + pf.tracing_size);
    TracingData recorded;
    const bool same_kernel = parses(perf_section.data(), perf_section.size(), 0, &recorded) &&
                             recorded.find("kvm", "kvm_exit") && exit &&
                             recorded.find("kvm", "kvm_exit")->print_fmt == exit->print_fmt &&
                             recorded.find("kvm", "kvm_exit")->id == exit->id;
    if (same_kernel) {
      const size_t end = formats_end(perf_section);
      CHECK(end == formats_end(blob));
      CHECK(blob.size() >= end && std::equal(perf_section.begin(), perf_section.begin() + end, blob.begin()));
    } else {
      std::printf("trace_test: %s comes from another kernel; byte comparison skipped\n", recorded_here.c_str());
    }
  }
  try {
    build_tracing_blob(root, {"kvm_exit"});
    CHECK(!"build_tracing_blob accepted a name without a system");
  } catch (const SetupError&) {
  }
}

}  // namespace

int main() {
  check_literal_formats();
  check_print_fmt_corners();
  check_field_errors();
  check_field_reads();
  check_format_truncations(kExit54);
  check_recorded_section(fixture("vm/perf-kvm-amd.data"), true);  // Linux 6.1 formats
  check_recorded_section(fixture("perf-kvm-stat-record-empty.data"), true);
  check_hostile_sections(fixture("vm/perf-kvm-amd.data"));
  check_tracefs(fixture("perf-kvm-stat-record-empty.data"));
  return finish("trace_test");
}
