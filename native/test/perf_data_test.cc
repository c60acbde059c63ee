// The perf.data reader on real files (from perf on this machine) and on
// every truncation of them: time-ordered delivery, exact counts, and a
// ParseError — never a crash — for damaged input.
#include <fstream>
#include <iterator>
#include <vector>

#include "check.h"
#include "core/errors.h"
#include "perf/perf_data.h"

using namespace kvmlens;

struct Collect : RecordSink {
  uint64_t samples = 0, last_time = 0, unordered = 0;
  void on_sample(const Sample& s) override {
    samples++;
    if (s.time < last_time) unordered++;
    last_time = s.time;
  }
};

static std::vector<uint8_t> slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

int main() {
  // A kvm recording whose records are written per CPU, out of time order.
  for (const char* name : {"kvm-amd-sample.data", "kvm-intel-sample.data", "perf-sched-switch.data"}) {
    auto reader = PerfDataReader::open(fixture(name));
    Collect c;
    ReadStats st = reader->run(c, [](uint64_t, uint64_t) {});
    CHECK(c.samples > 0);
    CHECK(c.samples == st.samples);
    CHECK(c.unordered == 0);
    CHECK(!reader->info().tracing_data.empty());
  }
  {
    auto reader = PerfDataReader::open(fixture("perf-kvm-stat-record-empty.data"));
    CHECK(reader->info().cpuid.find("AMD") != std::string::npos || reader->info().cpuid.find("Intel") != std::string::npos);
    CHECK(reader->info().attrs.size() >= 5);
    CHECK(reader->info().attrs[0].name == "kvm:kvm_entry");
  }
  // Every truncation of a small file: success or ParseError, nothing else.
  std::vector<uint8_t> bytes = slurp(fixture("kvm-intel-sample.data"));
  CHECK(!bytes.empty());
  size_t step = bytes.size() > 40000 ? 7 : 1;
  int parse_errors = 0;
  for (size_t n = 0; n < bytes.size(); n += step) {
    try {
      auto reader = PerfDataReader::open_memory(bytes.data(), n);
      Collect c;
      reader->run(c, [](uint64_t, uint64_t) {});
    } catch (const ParseError&) {
      parse_errors++;
    }
  }
  CHECK(parse_errors > 0);
  // Flipped bytes in the data section.
  std::vector<uint8_t> bad = bytes;
  for (size_t i = 200; i < bad.size(); i += 97) {
    bad[i] ^= 0xff;
    try {
      auto reader = PerfDataReader::open_memory(bad.data(), bad.size());
      Collect c;
      reader->run(c, [](uint64_t, uint64_t) {});
    } catch (const ParseError&) {
    }
  }
  try {
    PerfDataReader::open(fixture("does-not-exist.data"));
    CHECK(false);
  } catch (const ParseError& e) {
    CHECK(std::string(e.what()) == "no such file");
  }
  return finish("perf_data_test");
}
