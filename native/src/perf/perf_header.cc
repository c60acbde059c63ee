#include "perf/perf_header.h"

#include <algorithm>
#include <cstring>

#include "perf/byte_cursor.h"
#include "perf/perf_abi.h"

namespace kvmlens {

EventAttr parse_attr(const uint8_t* data, uint64_t offset, uint64_t attr_size, uint64_t limit) {
  ByteCursor c(data, offset, limit, "perf_event_attr");
  c.need(attr_size < abi::kMinAttrSize ? abi::kMinAttrSize : attr_size);
  EventAttr a;
  a.type = c.read<uint32_t>();
  c.read<uint32_t>();  // size
  a.config = c.read<uint64_t>();
  c.read<uint64_t>();  // sample_period / sample_freq
  a.sample_type = c.read<uint64_t>();
  a.read_format = c.read<uint64_t>();
  uint64_t flags = c.read<uint64_t>();
  a.sample_id_all = (flags & abi::kAttrSampleIdAll) != 0;
  return a;
}

namespace {

void parse_event_desc(const uint8_t* data, uint64_t offset, uint64_t size, PerfFileInfo* info) {
  ByteCursor c(data, offset, offset + size, "HEADER_EVENT_DESC");
  uint32_t nr = c.read<uint32_t>();
  uint32_t attr_size = c.read<uint32_t>();
  for (uint32_t i = 0; i < nr; i++) {
    c.skip(attr_size);
    uint32_t nr_ids = c.read<uint32_t>();
    std::string name = c.header_string();
    c.need(uint64_t(nr_ids) * 8);
    std::vector<uint64_t> ids(nr_ids);
    for (uint32_t k = 0; k < nr_ids; k++) ids[k] = c.read<uint64_t>();
    // Name the attr that owns these ids (or the i-th attr if ids are absent).
    for (size_t a = 0; a < info->attrs.size(); a++) {
      EventAttr& attr = info->attrs[a];
      bool match = !ids.empty() && std::find(attr.ids.begin(), attr.ids.end(), ids[0]) != attr.ids.end();
      if (match || (ids.empty() && a == i)) {
        if (attr.name.empty()) attr.name = name;
        break;
      }
    }
  }
}

}  // namespace

void parse_build_ids(const uint8_t* data, uint64_t offset, uint64_t size, PerfFileInfo* info) {
  // struct build_id_event { header; s32 pid; u8 build_id[24]; char filename[]; }
  uint64_t p = offset, end = offset + size;
  while (end - p >= 36) {
    uint16_t misc, rsize;
    std::memcpy(&misc, data + p + 4, 2);
    std::memcpy(&rsize, data + p + 6, 2);
    if (rsize < 36 || rsize > end - p) break;  // damaged tail: keep the entries before it, as perf does
    BuildIdEntry e;
    e.misc = misc & 0x7;
    std::memcpy(&e.pid, data + p + 8, 4);
    size_t len = 20;
    if (misc & (1u << 15)) {  // PERF_RECORD_MISC_BUILD_ID_SIZE: size in build_id[20]
      len = data[p + 12 + 20];
      if (len > 20) len = 20;
    }
    e.build_id.assign(reinterpret_cast<const char*>(data + p + 12), len);
    const char* name = reinterpret_cast<const char*>(data + p + 36);
    e.filename.assign(name, strnlen(name, rsize - 36));
    info->build_ids.push_back(std::move(e));
    p += rsize;
  }
}

void parse_feature(int feature, const uint8_t* data, uint64_t offset, uint64_t size, PerfFileInfo* info) {
  ByteCursor c(data, offset, offset + size, "feature section");
  switch (feature) {
    case abi::kFeatTracingData:
      info->tracing_data.assign(data + offset, data + offset + size);
      info->tracing_data_offset = offset;
      break;
    case abi::kFeatHostname: info->hostname = c.header_string(); break;
    case abi::kFeatOsRelease: info->osrelease = c.header_string(); break;
    case abi::kFeatVersion: info->perf_version = c.header_string(); break;
    case abi::kFeatArch: info->arch = c.header_string(); break;
    case abi::kFeatCpuid: info->cpuid = c.header_string(); break;
    case abi::kFeatNrCpus:
      info->nr_cpus_avail = c.read<uint32_t>();
      info->nr_cpus_online = c.read<uint32_t>();
      break;
    case abi::kFeatCmdline: {
      uint32_t n = c.read<uint32_t>();
      info->cmdline.clear();
      for (uint32_t i = 0; i < n && c.remaining() >= 4; i++) info->cmdline.push_back(c.header_string());
      break;
    }
    case abi::kFeatEventDesc: parse_event_desc(data, offset, size, info); break;
    case abi::kFeatBuildId: parse_build_ids(data, offset, size, info); break;
    default: break;
  }
}

void parse_file_header(const uint8_t* data, uint64_t size, PerfFileInfo* info) {
  if (size == 0) throw ParseError("not a perf.data file (empty)", 0);
  if (size >= 8 && std::memcmp(data, "2ELIFREP", 8) == 0)
    throw ParseError("big-endian perf.data is not supported", 0);
  if (size >= 7 && std::memcmp(data, "PERFILE", 7) == 0 && (size < 8 || data[7] != '2'))
    throw ParseError("perf.data version 1 (PERFILE) is not supported: re-record with a current perf", 0);
  if (size < 8 || std::memcmp(data, "PERFILE2", 8) != 0)
    throw ParseError("not a perf.data file (no PERFILE2 magic)", 0);
  ByteCursor c(data, 8, size, "file header");
  uint64_t header_size = c.read<uint64_t>();
  if (header_size == abi::kPipeHeaderSize) {
    info->pipe = true;
    return;  // records follow; the reader parses the HEADER_* records
  }
  if (header_size < abi::kFileHeaderSize)
    throw ParseError("file header size " + std::to_string(header_size) + " is too small", 8);
  c.need(abi::kFileHeaderSize - 16);
  uint64_t attr_size = c.read<uint64_t>();
  uint64_t attrs_off = c.read<uint64_t>(), attrs_size = c.read<uint64_t>();
  uint64_t data_off = c.read<uint64_t>(), data_size = c.read<uint64_t>();
  c.skip(16);  // event_types (unused since 2.6.38)
  for (int i = 0; i < 4; i++) info->features_present[i] = c.read<uint64_t>();

  auto check_section = [&](const char* what, uint64_t off, uint64_t len, uint64_t at) {
    if (off > size || len > size - off)
      throw ParseError(std::string(what) + " section at " + std::to_string(off) + "+" + std::to_string(len) +
                           " runs past the end of the file (size " + std::to_string(size) + ")",
                       at);
  };
  check_section("attrs", attrs_off, attrs_size, 32);
  check_section("data", data_off, data_size, 48);
  if (attr_size < abi::kMinAttrSize + 16)
    throw ParseError("attr entry size " + std::to_string(attr_size) + " is too small", 16);
  info->data_offset = data_off;
  info->data_size = data_size;

  for (uint64_t off = attrs_off; off + attr_size <= attrs_off + attrs_size; off += attr_size) {
    EventAttr a = parse_attr(data, off, attr_size - 16, off + attr_size - 16);
    ByteCursor ids(data, off + attr_size - 16, off + attr_size, "attr ids section");
    uint64_t ids_off = ids.read<uint64_t>(), ids_size = ids.read<uint64_t>();
    check_section("attr ids", ids_off, ids_size, off + attr_size - 16);
    for (uint64_t p = ids_off; p + 8 <= ids_off + ids_size; p += 8) {
      uint64_t id;
      std::memcpy(&id, data + p, 8);
      a.ids.push_back(id);
    }
    info->attrs.push_back(std::move(a));
  }
  if (info->attrs.empty()) throw ParseError("the file has no event attrs", 32);

  // Feature table: one {offset, size} per set bit, in bit order.
  uint64_t table = data_off + data_size;
  int rank = 0;
  for (int bit = 0; bit < 256; bit++) {
    if (!(info->features_present[bit / 64] >> (bit % 64) & 1)) continue;
    uint64_t entry = table + 16 * uint64_t(rank++);
    if (entry + 16 > size) break;  // perf tolerates a missing table tail
    uint64_t f_off, f_size;
    std::memcpy(&f_off, data + entry, 8);
    std::memcpy(&f_size, data + entry + 8, 8);
    check_section("feature", f_off, f_size, entry);
    parse_feature(bit, data, f_off, f_size, info);
  }
}

}  // namespace kvmlens
