#include "profile/profile_file.h"

#include "core/errors.h"
#include "elf/elf_reader.h"
#include "trace/tracing_data.h"
#include "profile/trace_counter.h"

namespace kvmlens {
namespace profile {

ProfileFileResult profile_file(const std::string& path, const SymbolizerOptions& options, bool read_samples,
                               const std::function<void(uint64_t, uint64_t)>& progress, TraceSort trace_sort,
                               const ChildrenKeys* children) {
  ProfileFileResult out;
  std::unique_ptr<PerfDataReader> reader = PerfDataReader::open(path);
  out.info = reader->info();
  Symbolizer sym(options);
  sym.set_build_ids(out.info.build_ids);
  if (out.info.build_ids.empty()) read_samples = true;
  if (read_samples) {
    ProfileAggregator agg(sym, reader->info().attrs);
    std::unique_ptr<TracingData> tracing;
    std::unique_ptr<TraceCounter> counter;
    bool trace = trace_sort == TraceSort::kAlso || trace_sort == TraceSort::kOnly;
    bool trace_only = trace_sort == TraceSort::kOnly;
    if (trace_sort == TraceSort::kAuto) {
      // perf's get_default_sort_order: "trace" when every evsel is a tracepoint.
      trace = trace_only = !out.info.attrs.empty();
      for (const EventAttr& a : out.info.attrs)
        if (a.type != 2 /* PERF_TYPE_TRACEPOINT */) trace = trace_only = false;
    }
    out.trace_sorted = trace;
    if (trace) {
      if (!out.info.tracing_data.empty()) {
        try {
          tracing = std::make_unique<TracingData>(parse_tracing_data(
              out.info.tracing_data.data(), out.info.tracing_data.size(), out.info.tracing_data_offset));
        } catch (const ParseError& e) {
          out.trace_warnings.push_back(std::string("the tracing data cannot be read (") + e.what() +
                                       "): tracepoint samples are shown as N/A");
        }
      }
      // As perf report's machine__resolve_kernel_addr: the host kernel's symbols.
      auto resolve = [&sym](uint64_t addr, std::string* name, uint64_t* start) {
        const DsoId k = sym.host_kernel();
        if (k == kNoDso) return false;
        Resolved r = sym.resolve(k, addr);
        if (!r.sym || !r.table) return false;
        *name = r.table->name(*r.sym);
        *start = r.sym->start;
        return true;
      };
      counter = std::make_unique<TraceCounter>(reader->info().attrs, tracing.get(), resolve);
      agg.set_trace_counter(counter.get(), trace_only);
    }
    if (children) agg.set_children(*children);
    try {
      out.stats = reader->run(agg, progress);
    } catch (const ParseError& e) {
      out.data_error = true;
      out.data_error_message = e.what();
      out.data_error_offset = e.has_offset() ? static_cast<int64_t>(e.offset()) : -1;
    }
    out.snapshot = agg.snapshot();
    if (counter) {
      out.trace_rows = counter->snapshot();
      for (std::string& w : counter->warnings()) out.trace_warnings.push_back(std::move(w));
    }
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
