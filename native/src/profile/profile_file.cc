#include "profile/profile_file.h"

#include "core/errors.h"
#include "elf/elf_reader.h"

namespace kvmlens {
namespace profile {

ProfileFileResult profile_file(const std::string& path, const SymbolizerOptions& options, bool read_samples,
                               const std::function<void(uint64_t, uint64_t)>& progress,
                               const ChildrenKeys* children) {
  ProfileFileResult out;
  std::unique_ptr<PerfDataReader> reader = PerfDataReader::open(path);
  out.info = reader->info();
  Symbolizer sym(options);
  sym.set_build_ids(out.info.build_ids);
  if (out.info.build_ids.empty()) read_samples = true;
  if (read_samples) {
    ProfileAggregator agg(sym, reader->info().attrs);
    if (children) agg.set_children(*children);
    try {
      out.stats = reader->run(agg, progress);
    } catch (const ParseError& e) {
      out.data_error = true;
      out.data_error_message = e.what();
      out.data_error_offset = e.has_offset() ? static_cast<int64_t>(e.offset()) : -1;
    }
    out.snapshot = agg.snapshot();
  }
  // Build-ids in file order; hit = a DSO of that name (and machine) had samples.
  for (const BuildIdEntry& e : out.info.build_ids) {
    BuildIdRow row;
    row.build_id = elf::hex(e.build_id);
    row.filename = e.filename;
    row.misc = e.misc;
    row.pid = e.pid;
    for (DsoId i = 0; i < sym.dso_count(); i++) {
      const Dso& d = sym.dso(i);
      if (d.hit && d.long_name == e.filename) row.hit = true;
    }
    out.build_ids.push_back(row);
  }
  // Then the other DSOs that had samples, in the order they appeared, as
  // perf lists its DSOs (their build-id column is blank).
  for (DsoId i = 0; i < sym.dso_count(); i++) {
    const Dso& d = sym.dso(i);
    if (!d.hit) continue;
    bool listed = false;
    for (const BuildIdRow& r : out.build_ids)
      if (r.filename == d.long_name) listed = true;
    if (listed) continue;
    BuildIdRow row;
    row.build_id = elf::hex(d.build_id);
    row.filename = d.long_name;
    row.pid = d.machine;
    row.hit = true;
    row.from_header = false;
    out.build_ids.push_back(row);
  }
  return out;
}

}  // namespace profile
}  // namespace kvmlens
