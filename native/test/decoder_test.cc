// KvmDecoder::decode_fields has a branch-free path for payloads long enough
// to read both fields as whole u64s, and the field-by-field one for the
// rest: on every sample of real recordings, each payload length from the
// full one down to 0 must decode exactly as the full one or not at all
// (never differently), and once too short, stay rejected.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <vector>

#include "check.h"
#include "perf/perf_data.h"
#include "pipeline/session.h"

using namespace kvmlens;

namespace {

std::vector<uint8_t> slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

struct EveryLength : RecordSink {
  const KvmDecoder* decoder = nullptr;
  uint64_t decoded = 0, checked = 0, kinds[5] = {};
  void on_sample(const Sample& s) override {
    KvmEvent::Kind kind;
    uint64_t a;
    uint32_t b;
    if (!decoder->decode_fields(s, &kind, &a, &b)) return;
    decoded++;
    kinds[static_cast<int>(kind)]++;
    bool rejected = false;
    for (uint32_t n = s.raw_size; n-- > 0;) {
      Sample cut = s;
      cut.raw_size = n;
      KvmEvent::Kind k2;
      uint64_t a2 = ~0ULL;
      uint32_t b2 = ~0u;
      const bool ok = decoder->decode_fields(cut, &k2, &a2, &b2);
      if (ok) {
        CHECK(!rejected);
        CHECK(k2 == kind && a2 == a && b2 == b);
      } else {
        rejected = true;
      }
      checked++;
    }
    CHECK(rejected);  // an empty payload never decodes
  }
};

}  // namespace

int main() {
  for (const char* name : {"kvm-amd-sample.data", "kvm-intel-sample.data", "vm/perf-kvm-amd.data"}) {
    const std::vector<uint8_t> file = slurp(fixture(name));
    CHECK(!file.empty());
    if (file.empty()) continue;
    const std::string path = "/tmp/kvmlens-decoder-test.data";
    {
      std::ofstream f(path, std::ios::binary);
      f.write(reinterpret_cast<const char*>(file.data()), static_cast<std::streamsize>(file.size()));
    }
    KvmSession session;
    auto reader = open_session_source(path, AnalyzerOptions(), &session);
    EveryLength sink;
    sink.decoder = session.decoder.get();
    reader->run(sink, [](uint64_t, uint64_t) {});
    std::remove(path.c_str());
    std::printf("%s: %llu events decoded (entry %llu, exit %llu, mmio %llu, pio %llu, msr %llu), %llu cut lengths\n",
                name, static_cast<unsigned long long>(sink.decoded), static_cast<unsigned long long>(sink.kinds[0]),
                static_cast<unsigned long long>(sink.kinds[1]), static_cast<unsigned long long>(sink.kinds[2]),
                static_cast<unsigned long long>(sink.kinds[3]), static_cast<unsigned long long>(sink.kinds[4]),
                static_cast<unsigned long long>(sink.checked));
    CHECK(sink.decoded > 0);
    CHECK(sink.kinds[0] > 0 && sink.kinds[1] > 0);
  }
  return finish("decoder_test");
}
