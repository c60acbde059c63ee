#include "live/event_spec.h"

#include <linux/perf_event.h>

#include <cctype>
#include <cstdlib>

#include "core/errors.h"
#include "trace/tracefs.h"

namespace kvmlens {

namespace {

struct Known {
  const char* name;
  uint32_t type;
  uint64_t config;
};

// The symbolic names `perf list` prints for hardware and software events.
constexpr Known kKnown[] = {
    {"cpu-cycles", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES},
    {"cycles", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES},
    {"instructions", PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS},
    {"cache-references", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_REFERENCES},
    {"cache-misses", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_MISSES},
    {"branch-instructions", PERF_TYPE_HARDWARE, PERF_COUNT_HW_BRANCH_INSTRUCTIONS},
    {"branches", PERF_TYPE_HARDWARE, PERF_COUNT_HW_BRANCH_INSTRUCTIONS},
    {"branch-misses", PERF_TYPE_HARDWARE, PERF_COUNT_HW_BRANCH_MISSES},
    {"bus-cycles", PERF_TYPE_HARDWARE, PERF_COUNT_HW_BUS_CYCLES},
    {"stalled-cycles-frontend", PERF_TYPE_HARDWARE, PERF_COUNT_HW_STALLED_CYCLES_FRONTEND},
    {"idle-cycles-frontend", PERF_TYPE_HARDWARE, PERF_COUNT_HW_STALLED_CYCLES_FRONTEND},
    {"stalled-cycles-backend", PERF_TYPE_HARDWARE, PERF_COUNT_HW_STALLED_CYCLES_BACKEND},
    {"idle-cycles-backend", PERF_TYPE_HARDWARE, PERF_COUNT_HW_STALLED_CYCLES_BACKEND},
    {"ref-cycles", PERF_TYPE_HARDWARE, PERF_COUNT_HW_REF_CPU_CYCLES},
    {"cpu-clock", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK},
    {"task-clock", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK},
    {"page-faults", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS},
    {"faults", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS},
    {"context-switches", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CONTEXT_SWITCHES},
    {"cs", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CONTEXT_SWITCHES},
    {"cpu-migrations", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_MIGRATIONS},
    {"migrations", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_MIGRATIONS},
    {"minor-faults", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS_MIN},
    {"major-faults", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS_MAJ},
    {"alignment-faults", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_ALIGNMENT_FAULTS},
    {"emulation-faults", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_EMULATION_FAULTS},
    {"dummy", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_DUMMY},
    {"bpf-output", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_BPF_OUTPUT},
};

[[noreturn]] void syntax_error(const std::string& event, const std::string& why) {
  throw SetupError("event syntax error: '" + event + "': " + why + " (`perf list` shows the events perf knows)");
}

// perf's rule: naming any of u/k/h excludes the privilege levels not named.
void apply_modifiers(EventSpec* e, const std::string& mods) {
  bool u = false, k = false, h = false;
  for (char c : mods) {
    if (c == 'u') u = true;
    else if (c == 'k') k = true;
    else if (c == 'h') h = true;
    else syntax_error(e->name, std::string("unsupported event modifier '") + c + "' (kvmlens takes u, k and h)");
  }
  if (u || k || h) {
    e->modified = true;
    e->exclude_user = !u;
    e->exclude_kernel = !k;
    e->exclude_hv = !h;
  }
}

bool valid_tracepoint_part(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) return false;
  return true;
}

EventSpec resolve(const std::string& text, std::string* tracefs_root) {
  EventSpec e;
  e.name = text;
  const size_t colon = text.find(':');
  const std::string head = text.substr(0, colon);
  for (const Known& k : kKnown) {
    if (head != k.name) continue;
    e.type = k.type;
    e.config = k.config;
    if (colon != std::string::npos) apply_modifiers(&e, text.substr(colon + 1));
    return e;
  }
  if (colon == std::string::npos) syntax_error(text, "unknown event");
  // SUBSYS:NAME[:modifiers]
  const size_t second = text.find(':', colon + 1);
  const std::string name = text.substr(colon + 1, second == std::string::npos ? std::string::npos : second - colon - 1);
  if (!valid_tracepoint_part(head) || !valid_tracepoint_part(name)) syntax_error(text, "unknown event");
  if (tracefs_root->empty()) *tracefs_root = find_tracefs_root();
  std::string id_text;
  if (!read_tracefs_file_if_present(*tracefs_root + "/events/" + head + "/" + name + "/id", &id_text))
    syntax_error(text, "unknown tracepoint (no " + *tracefs_root + "/events/" + head + "/" + name + ")");
  e.type = PERF_TYPE_TRACEPOINT;
  e.config = std::strtoull(id_text.c_str(), nullptr, 10);
  e.tracepoint = head + ":" + name;
  if (second != std::string::npos) apply_modifiers(&e, text.substr(second + 1));
  return e;
}

}  // namespace

std::vector<EventSpec> parse_event_specs(const std::vector<std::string>& args, std::string tracefs_root) {
  std::vector<EventSpec> out;
  for (const std::string& arg : args) {
    size_t start = 0;
    while (start <= arg.size()) {
      size_t comma = arg.find(',', start);
      if (comma == std::string::npos) comma = arg.size();
      const std::string part = arg.substr(start, comma - start);
      if (part.empty()) syntax_error(arg, "empty event name");
      out.push_back(resolve(part, &tracefs_root));
      start = comma + 1;
    }
  }
  return out;
}

}  // namespace kvmlens
