// EventPrinter: print fmts formatted as libtraceevent (perf 6.1) formats
// them, on hand-made payloads; every format of this machine's tracefs must
// compile or fail with a reason, never crash, and print any payload (random
// bytes, truncated) without reading out of bounds.
#include <dirent.h>

#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "check.h"
#include "trace/event_format.h"
#include "trace/event_printer.h"

using namespace kvmlens;

namespace {

std::string format_text(const std::string& fields, const std::string& print_fmt) {
  return "name: test\nID: 1\nformat:\n"
         "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
         "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
         "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
         "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n" +
         fields + "\nprint fmt: " + print_fmt + "\n";
}

std::string print(const std::string& fields, const std::string& fmt, const std::vector<uint8_t>& payload,
                  bool* parsed = nullptr) {
  EventFormat f = parse_event_format("test", format_text(fields, fmt));
  EventPrinter p(f, 8);
  if (parsed) *parsed = p.parsed();
  if (!p.parsed() && !parsed) std::fprintf(stderr, "  not parsed: %s (%s)\n", fmt.c_str(), p.error().c_str());
  return p.print(payload.data(), static_cast<uint32_t>(payload.size()));
}

template <class T>
void put(std::vector<uint8_t>* b, size_t at, T v) {
  if (b->size() < at + sizeof v) b->resize(at + sizeof v);
  std::memcpy(b->data() + at, &v, sizeof v);
}

#define EXPECT_EQ_STR(got, want)                                                          \
  do {                                                                                    \
    const std::string g_ = (got), w_ = (want);                                            \
    if (g_ != w_) {                                                                       \
      std::fprintf(stderr, "%s:%d: got '%s'\n  want '%s'\n", __FILE__, __LINE__, g_.c_str(), w_.c_str()); \
      g_failures++;                                                                       \
    }                                                                                     \
  } while (0)

void test_numbers_and_strings() {
  const std::string fields =
      "\tfield:char comm[16];\toffset:8;\tsize:16;\tsigned:0;\n"
      "\tfield:int pid;\toffset:24;\tsize:4;\tsigned:1;\n"
      "\tfield:unsigned int reason;\toffset:28;\tsize:4;\tsigned:0;\n"
      "\tfield:unsigned long ip;\toffset:32;\tsize:8;\tsigned:0;\n"
      "\tfield:__data_loc char[] name;\toffset:40;\tsize:4;\tsigned:0;\n"
      "\tfield:u8 bytes[4];\toffset:44;\tsize:4;\tsigned:0;\n";
  std::vector<uint8_t> d(64, 0);
  std::memcpy(d.data() + 8, "swapper/0", 9);
  put<int32_t>(&d, 24, -5);
  put<uint32_t>(&d, 28, 0x7b);
  put<uint64_t>(&d, 32, 0xffffffff81000000ULL);
  put<uint32_t>(&d, 40, (4u << 16) | 48u);
  std::memcpy(d.data() + 48, "abc", 4);
  d[44] = 1, d[45] = 0xab, d[46] = 2, d[47] = 3;
  EXPECT_EQ_STR(print(fields, "\"comm=%s pid=%d u=%u x=%08x ip=0x%lx name=%s\", REC->comm, REC->pid, REC->pid, REC->reason, REC->ip, __get_str(name)", d),
                "comm=swapper/0 pid=-5 u=4294967291 x=0000007b ip=0xffffffff81000000 name=abc");
  EXPECT_EQ_STR(print(fields, "\"%-12s| %03d %5u %%\\t\", REC->comm, REC->reason - 120, REC->reason", d),
                "swapper/0   | 003   123 %\t");
  // Ternaries and symbols; a symbol without a match prints its value in hex.
  EXPECT_EQ_STR(print(fields, "\"%s %s %s\", REC->pid < 0 ? \"neg\" : \"pos\", __print_symbolic(REC->reason, { 0x7b, \"io\" }, { 1, \"x\" }), __print_symbolic(REC->reason + 1, { 1, \"x\" })", d),
                "pos io 0x7c");  // comparisons are unsigned, as libtraceevent's
  EXPECT_EQ_STR(print(fields, "\"%s\", __print_flags(REC->reason, \"|\", { 1, \"A\" }, { 2, \"B\" }, { 0x8, \"D\" })", d),
                "A|B|D|0x70");
  // perf 6.1 prints a flag of value 0 never, and an unknown name (-1) for 0.
  EXPECT_EQ_STR(print(fields, "\"[%s]\", __print_flags(REC->reason & 0, \"|\", { 0, \"ZERO\" }, { 1, \"A\" })", d), "[]");
  EXPECT_EQ_STR(print(fields, "\"[%s]\", __print_flags(REC->reason & 0, \"|\", { NAME, \"NONE\" }, { 1, \"A\" })", d), "[NONE]");
  // libtraceevent's operator order, not C's: a parenthesized operation on
  // the right of a tighter operator is rotated, as perf prints it.
  EXPECT_EQ_STR(print(fields, "\"%d %d %d\", REC->reason & (0x1 | 0x80), 2 * 3 + 1, 1 + 2 * 3", d), "129 7 7");
  // Enum names left in the format are 0 (the two known tables aside).
  EXPECT_EQ_STR(print(fields, "\"%s\", __print_symbolic(REC->reason & 1, { HRTIMER_RESTART, \"restart\" }, { UNKNOWN_NAME, \"zero\" })", d), "restart");
  // A long that %s prints is an address (no printk strings here).
  EXPECT_EQ_STR(print(fields, "\"%s\", REC->ip", d), "ffffffff81000000");
  EXPECT_EQ_STR(print(fields, "\"%s|%s\", __print_hex(REC->bytes, 4), __print_hex_str(REC->bytes, 3)", d), "01 ab 02 03|01ab02");
  EXPECT_EQ_STR(print(fields, "\"%s\", __print_array(REC->bytes, 2, 2)", d), "{0xab01,0x302}");
  EXPECT_EQ_STR(print(fields, "\"%p %p\", REC->ip, REC->ip & 0", d), "0xffffffff81000000 (nil)");
  EXPECT_EQ_STR(print(fields, "\"%d %u\", (u8)REC->pid, (int)REC->pid", d), "251 4294967291");
  EXPECT_EQ_STR(print(fields, "\"%d\", __get_dynamic_array_len(name)", d), "4");
  EXPECT_EQ_STR(print(fields, "\"%d\", REC->bytes[1]", d), "171");
  EXPECT_EQ_STR(print(fields, "\"%lu\", __builtin_expect(!!(REC->reason > 5), 0) ? 7 : 8", d), "7");
  EXPECT_EQ_STR(print(fields, "\"%d %d\", REC->pid >= (unsigned long)-4095, (unsigned long)-4095 > REC->reason", d), "0 1");
  EXPECT_EQ_STR(print(fields, "\"%*s|\", 5, REC->comm", d), "swapper/0|");
  EXPECT_EQ_STR(print(fields, "\"%.*s|\", 4, REC->comm", d), "swap|");
  // What libtraceevent cannot parse prints as it does: the fields.
  bool parsed = true;
  EXPECT_EQ_STR(print(fields, "\"%d\", jiffies_to_msecs(REC->pid)", d, &parsed),
                "[FAILED TO PARSE] comm=swapper/0 pid=-5 reason=123 ip=0xffffffff81000000 name=abc bytes=ARRAY[01, ab, 02, 03]");
  CHECK(!parsed);
  // Payloads shorter than the fields: no read past the end.
  std::vector<uint8_t> short_payload(d.begin(), d.begin() + 30);
  (void)print(fields, "\"comm=%s pid=%d ip=%lx name=%s\", REC->comm, REC->pid, REC->ip, __get_str(name)", short_payload);
}

// Every format of this machine: compile (or fail with a reason) and print
// random payloads of random lengths without crashing.
void test_tracefs_sweep() {
  const char* root = "/sys/kernel/tracing/events";
  DIR* sys = opendir(root);
  if (!sys) {
    std::printf("event_printer_test: no tracefs, sweep skipped\n");
    return;
  }
  std::mt19937 rng(42);
  int total = 0, failed = 0;
  while (dirent* s = readdir(sys)) {
    if (s->d_name[0] == '.') continue;
    const std::string sdir = std::string(root) + "/" + s->d_name;
    DIR* evs = opendir(sdir.c_str());
    if (!evs) continue;
    while (dirent* e = readdir(evs)) {
      if (e->d_name[0] == '.') continue;
      std::ifstream in(sdir + "/" + e->d_name + "/format");
      if (!in) continue;
      std::stringstream ss;
      ss << in.rdbuf();
      EventFormat f;
      try {
        f = parse_event_format(s->d_name, ss.str());
      } catch (...) {
        continue;
      }
      EventPrinter p(f, 8);
      total++;
      if (!p.parsed()) {
        failed++;
        if (std::getenv("KVMLENS_VERBOSE")) std::printf("  %s:%s: %s\n", s->d_name, e->d_name, p.error().c_str());
      }
      for (int k = 0; k < 8; k++) {
        std::vector<uint8_t> payload(rng() % 200);
        for (uint8_t& b : payload) b = static_cast<uint8_t>(rng());
        std::string out = p.print(payload.data(), static_cast<uint32_t>(payload.size()));
        CHECK(out.size() < (1u << 20));
      }
    }
    closedir(evs);
  }
  closedir(sys);
  std::printf("event_printer_test: %d tracefs formats, %d not parsed\n", total, failed);
  CHECK(total == 0 || failed * 10 < total);
}

}  // namespace

int main() {
  test_numbers_and_strings();
  test_tracefs_sweep();
  return finish("event_printer_test");
}
