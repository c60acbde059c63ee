// Delivery order and the two-stage report path, on real recordings whose
// records are rearranged into many overlapping time-ordered runs (as hosts
// with many CPUs write them), with and without FINISHED_ROUND:
//  - the reader must deliver exactly what a plain model of perf's
//    ordered_events delivers, through both of its merges (a scan of up to
//    16 overlapping runs, a heap past that);
//  - analyze_file (reader and analyzer on two threads) must produce the
//    same rows, bit for bit, as the analyzer fed on one thread, also when
//    the file is cut short.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "check.h"
#include "core/errors.h"
#include "perf/perf_data.h"
#include "pipeline/session.h"

using namespace kvmlens;

namespace {

template <class T>
T ld(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

std::vector<uint8_t> slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

void spit(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

constexpr uint32_t kSample = 9, kRound = 68, kFiller = 79;  // 79: a user record the reader skips
constexpr size_t kTimeOff = 32;  // IDENTIFIER, IP, TID, TIME: perf kvm stat record's layout

// The same records (same total size) with the samples in `groups` streams
// of `batch` records each, taking turns; a FINISHED_ROUND after every
// `round_every` turns (0: none) while the bytes of the dropped non-sample
// records last; the rest of those bytes as skipped filler at the end.
// With `coarse`, times are rounded down to 4 us first, so that many
// records share a timestamp (file order must then decide).
std::vector<uint8_t> rearrange(const std::vector<uint8_t>& original, size_t groups, size_t batch, size_t round_every,
                               bool coarse = false) {
  std::vector<uint8_t> file = original;
  const uint64_t off = ld<uint64_t>(&file[40]), size = ld<uint64_t>(&file[48]);
  if (coarse) {
    for (uint64_t p = off; p < off + size; p += ld<uint16_t>(&file[p + 6])) {
      if (ld<uint32_t>(&file[p]) != kSample) continue;
      const uint64_t t = ld<uint64_t>(&file[p + kTimeOff]) & ~uint64_t{4095};
      std::memcpy(&file[p + kTimeOff], &t, 8);
    }
  }
  std::vector<std::pair<uint64_t, uint64_t>> samples;  // (time, position)
  uint64_t filler = 0;
  for (uint64_t p = off; p < off + size; p += ld<uint16_t>(&file[p + 6])) {
    if (ld<uint32_t>(&file[p]) == kSample) samples.emplace_back(ld<uint64_t>(&file[p + kTimeOff]), p);
    else filler += ld<uint16_t>(&file[p + 6]);
  }
  std::stable_sort(samples.begin(), samples.end(), [](auto& a, auto& b) { return a.first < b.first; });
  std::vector<std::vector<uint64_t>> streams(groups);
  for (size_t i = 0; i < samples.size(); i++) streams[i % groups].push_back(samples[i].second);
  std::vector<uint8_t> data;
  auto put = [&](const uint8_t* rec, size_t n) { data.insert(data.end(), rec, rec + n); };
  auto header = [&](uint32_t type, uint16_t n) {
    uint8_t h[8] = {};
    std::memcpy(h, &type, 4);
    std::memcpy(h + 6, &n, 2);
    put(h, 8);
    data.resize(data.size() + n - 8);
  };
  std::vector<size_t> next(groups, 0);
  for (size_t turn = 1, left = samples.size(); left > 0; turn++) {
    for (size_t g = 0; g < groups; g++)
      for (size_t b = 0; b < batch && next[g] < streams[g].size(); b++, left--) {
        const uint64_t p = streams[g][next[g]++];
        put(&file[p], ld<uint16_t>(&file[p + 6]));
      }
    if (round_every && turn % round_every == 0 && filler >= 8 + 16) {
      header(kRound, 8);
      filler -= 8;
    }
  }
  while (filler > 0) {
    const uint64_t n = std::min<uint64_t>(filler, 65528);
    const uint64_t keep = filler - n;
    if (keep > 0 && keep < 8) {  // never leave less than a record header
      header(kFiller, static_cast<uint16_t>(n - 8));
      filler -= n - 8;
      continue;
    }
    header(kFiller, static_cast<uint16_t>(n));
    filler -= n;
  }
  std::vector<uint8_t> out = file;
  std::copy(data.begin(), data.end(), out.begin() + static_cast<std::ptrdiff_t>(off));
  return out;
}

// perf's ordered_events, plainly: queue every sample; at a FINISHED_ROUND
// deliver, sorted stably by time, those no later than the highest time seen
// before the previous FINISHED_ROUND; the rest at the end.
std::vector<uint64_t> model_order(const std::vector<uint8_t>& file) {
  const uint64_t off = ld<uint64_t>(&file[40]), size = ld<uint64_t>(&file[48]);
  std::vector<std::pair<uint64_t, uint64_t>> queue;
  std::vector<uint64_t> out;
  uint64_t max_time = 0, limit = 0;
  auto flush = [&](uint64_t lim) {
    std::stable_sort(queue.begin(), queue.end(), [](auto& a, auto& b) { return a.first < b.first; });
    size_t n = 0;
    while (n < queue.size() && queue[n].first <= lim) out.push_back(queue[n++].second);
    queue.erase(queue.begin(), queue.begin() + static_cast<std::ptrdiff_t>(n));
  };
  for (uint64_t p = off; p < off + size; p += ld<uint16_t>(&file[p + 6])) {
    const uint32_t type = ld<uint32_t>(&file[p]);
    if (type == kSample) {
      const uint64_t t = ld<uint64_t>(&file[p + kTimeOff]);
      queue.emplace_back(t, p);
      max_time = std::max(max_time, t);
    } else if (type == kRound) {
      flush(limit);
      limit = max_time;
    }
  }
  flush(~0ULL);
  return out;
}

struct Order : RecordSink {
  std::vector<uint64_t> offsets;
  void on_sample(const Sample& s) override { offsets.push_back(s.file_offset); }
};

// Every row, as exact bits.
std::vector<std::string> rows_of(const KvmAnalyzer& a) {
  std::vector<std::string> out;
  for (const StatRow& r : a.rows()) {
    double mean = r.hist.mean(), var = r.hist.variance();
    uint64_t mb, vb;
    std::memcpy(&mb, &mean, 8);
    std::memcpy(&vb, &var, 8);
    char buf[256];
    std::snprintf(buf, sizeof buf, "%d %d %u %llx %u %llu %llu %llu %llu %llx %llx %llu", static_cast<int>(r.analysis),
                  r.pid, r.vcpu, static_cast<unsigned long long>(r.key), r.info,
                  static_cast<unsigned long long>(r.hist.count()), static_cast<unsigned long long>(r.hist.sum()),
                  static_cast<unsigned long long>(r.hist.min()), static_cast<unsigned long long>(r.hist.max()),
                  static_cast<unsigned long long>(mb), static_cast<unsigned long long>(vb),
                  static_cast<unsigned long long>(r.hist.quantile(0.99)));
    out.push_back(buf);
  }
  return out;
}

// analyze_file (two threads) against the analyzer fed on this thread.
void same_analysis(const std::string& path) {
  auto two = analyze_file(path, AnalyzerOptions(), [](uint64_t, uint64_t) {});
  KvmSession one;
  std::string one_error;
  {
    auto reader = open_session_source(path, AnalyzerOptions(), &one);
    try {
      reader->run(*one.analyzer, [](uint64_t, uint64_t) {});
    } catch (const ParseError& e) {
      one_error = e.what();
    }
  }
  CHECK(two->data_error == one_error);
  CHECK(two->analyzer->events() == one.analyzer->events());
  CHECK(rows_of(*two->analyzer) == rows_of(*one.analyzer));
}

}  // namespace

int main() {
  const char* tmp = "/tmp/kvmlens-ordering-test.data";
  for (const char* name : {"kvm-amd-sample.data", "kvm-intel-sample.data"}) {
    const std::vector<uint8_t> file = slurp(fixture(name));
    CHECK(!file.empty());
    if (file.empty()) continue;
    // Few runs (scanned), many (heap), batches of one and more, with and without rounds.
    for (size_t groups : {1, 3, 16, 17, 40}) {
      for (size_t batch : {2, 7}) {
        for (size_t round_every : {0, 1, 3}) {
          for (bool coarse : {false, true}) {
            const std::vector<uint8_t> bytes = rearrange(file, groups, batch, round_every, coarse);
            auto reader = PerfDataReader::open_memory(bytes.data(), bytes.size());
            Order got;
            reader->run(got, [](uint64_t, uint64_t) {});
            const std::vector<uint64_t> want = model_order(bytes);
            CHECK(!want.empty());
            if (got.offsets != want)
              std::fprintf(stderr, "%s: %zu groups, batch %zu, round every %zu%s: order differs\n", name, groups,
                           batch, round_every, coarse ? ", coarse times" : "");
            CHECK(got.offsets == want);
            if (batch == 7 && round_every != 1) {
              spit(tmp, bytes);
              same_analysis(tmp);
            }
          }
        }
      }
    }
    // A sample damaged where only its delivery notices (its raw size runs
    // past the record): everything before it in perf's order is delivered,
    // once, and nothing after it.
    {
      const std::vector<uint8_t> good = rearrange(file, 24, 3, 2);
      const std::vector<uint64_t> order = model_order(good);
      for (size_t nth : {size_t{0}, order.size() / 2, order.size() - 1}) {
        std::vector<uint8_t> bad = good;
        const uint64_t at = order[nth];
        const uint32_t huge = 60000;
        std::memcpy(&bad[at + 56], &huge, 4);  // RAW's size (after IDENTIFIER, IP, TID, TIME, CPU, PERIOD)
        auto reader = PerfDataReader::open_memory(bad.data(), bad.size());
        Order got;
        uint64_t error_at = 0;
        try {
          reader->run(got, [](uint64_t, uint64_t) {});
        } catch (const ParseError& e) {
          error_at = e.offset();
        }
        CHECK(error_at == at);
        CHECK(got.offsets == std::vector<uint64_t>(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(nth)));
      }
    }
    // Damaged in the middle (a record of size 0): the same rows from what
    // came before the damage, and the same error.
    const std::vector<uint8_t> bytes = rearrange(file, 24, 3, 2);
    const uint64_t off = ld<uint64_t>(&bytes[40]), size = ld<uint64_t>(&bytes[48]);
    for (uint64_t at : {size / 3, size / 2, size - 200}) {
      uint64_t p = off;
      while (p < off + at) p += ld<uint16_t>(&bytes[p + 6]);
      std::vector<uint8_t> bad = bytes;
      bad[p + 6] = 0;
      bad[p + 7] = 0;
      spit(tmp, bad);
      same_analysis(tmp);
      auto two = analyze_file(tmp, AnalyzerOptions(), [](uint64_t, uint64_t) {});
      CHECK(two->has_data_error);
      CHECK(two->data_error_offset == p);
      CHECK(two->analyzer->events() > 0);
    }
  }
  std::remove(tmp);
  return finish("ordering_test");
}
