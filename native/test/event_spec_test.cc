// record -e's event parser: perf's names, aliases, commas, modifiers, and
// one-line errors; tracepoints against a fake tracefs tree.
#include <linux/perf_event.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "check.h"
#include "core/errors.h"
#include "live/event_spec.h"

using namespace kvmlens;

namespace {

std::string error_of(const std::vector<std::string>& args, const std::string& root) {
  try {
    parse_event_specs(args, root);
  } catch (const SetupError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

int main() {
  char tmpl[] = "/tmp/kvmlens-evspec-XXXXXX";
  const std::string root = ::mkdtemp(tmpl);
  ::mkdir((root + "/events").c_str(), 0755);
  ::mkdir((root + "/events/sched").c_str(), 0755);
  ::mkdir((root + "/events/sched/sched_switch").c_str(), 0755);
  std::ofstream(root + "/events/sched/sched_switch/id") << "372\n";

  std::vector<EventSpec> e = parse_event_specs({"cpu-clock,faults", "cs:u", "cycles:k", "sched:sched_switch"}, root);
  CHECK(e.size() == 5);
  CHECK(e[0].name == "cpu-clock" && e[0].type == PERF_TYPE_SOFTWARE && e[0].config == PERF_COUNT_SW_CPU_CLOCK);
  CHECK(!e[0].modified && !e[0].exclude_user && !e[0].exclude_kernel);
  CHECK(e[1].name == "faults" && e[1].config == PERF_COUNT_SW_PAGE_FAULTS);
  CHECK(e[2].name == "cs:u" && e[2].config == PERF_COUNT_SW_CONTEXT_SWITCHES);
  CHECK(e[2].modified && !e[2].exclude_user && e[2].exclude_kernel && e[2].exclude_hv);
  CHECK(e[3].type == PERF_TYPE_HARDWARE && e[3].config == PERF_COUNT_HW_CPU_CYCLES);
  CHECK(e[3].exclude_user && !e[3].exclude_kernel && e[3].exclude_hv);
  CHECK(e[4].type == PERF_TYPE_TRACEPOINT && e[4].config == 372 && e[4].tracepoint == "sched:sched_switch");

  const std::vector<EventSpec> all = parse_event_specs(
      {"instructions,cache-references,cache-misses,branches,branch-misses,task-clock,page-faults,context-switches,"
       "cpu-migrations,migrations,minor-faults,major-faults,alignment-faults,emulation-faults,dummy"},
      root);
  CHECK(all.size() == 15);
  CHECK(all[14].config == PERF_COUNT_SW_DUMMY);

  CHECK(error_of({"foo"}, root).find("event syntax error: 'foo': unknown event") == 0);
  CHECK(error_of({"sched:nope"}, root).find("event syntax error: 'sched:nope': unknown tracepoint") == 0);
  CHECK(error_of({"cpu-clock:z"}, root).find("unsupported event modifier 'z'") != std::string::npos);
  CHECK(error_of({"cpu-clock,"}, root).find("empty event name") != std::string::npos);
  CHECK(error_of({"../x:y"}, root).find("unknown event") != std::string::npos);

  std::remove((root + "/events/sched/sched_switch/id").c_str());
  ::rmdir((root + "/events/sched/sched_switch").c_str());
  ::rmdir((root + "/events/sched").c_str());
  ::rmdir((root + "/events").c_str());
  ::rmdir(root.c_str());
  return finish("event_spec_test");
}
