#include "addon/session_wrap.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "addon/js_errors.h"
#include "addon/lean_query.h"
#include "addon/render_worker.h"
#include "core/errors.h"
#include "core/flat_map.h"
#include "kvm/stat_query.h"

namespace kvmlens_addon {

using kvmlens::KvmSession;
using kvmlens::GroupBy;
using kvmlens::QueryRow;
using kvmlens::StatQuery;

namespace {

Napi::FunctionReference* g_constructor = nullptr;

// What a query returns besides the grouped rows.
struct QueryExtras {
  bool buckets = false;               // native buckets (offsets, lowerNs, upperNs, count)
  bool stats = true;                  // mean, stddev, percentiles (else NaN)
  std::vector<double> classic_bounds; // classic `le` bounds in ns (sorted); empty = none
};

// Parses {analysis, vcpu, pids, groupBy, buckets, stats, classicBoundsNs} into a StatQuery.
bool parse_query(const Napi::Object& opts, StatQuery* q, QueryExtras* extras, std::string* err) {
  Napi::Value analysis = opts.Get("analysis");
  if (analysis.IsString()) {
    std::string a = analysis.As<Napi::String>();
    if (a == "vmexit") q->analysis = kvmlens::Analysis::kVmexit;
    else if (a == "mmio") q->analysis = kvmlens::Analysis::kMmio;
    else if (a == "ioport") q->analysis = kvmlens::Analysis::kIoport;
    else if (a == "msr") q->analysis = kvmlens::Analysis::kMsr;
    else if (a == "all") q->all_analyses = true;
    else { *err = "unknown analysis '" + a + "'"; return false; }
  }
  Napi::Value vcpu = opts.Get("vcpu");
  if (vcpu.IsNumber()) q->vcpu = vcpu.As<Napi::Number>().Int64Value();
  Napi::Value pids = opts.Get("pids");
  if (pids.IsArray()) {
    Napi::Array arr = pids.As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); i++)
      q->pids.push_back(arr.Get(i).As<Napi::Number>().Int32Value());
  }
  Napi::Value group = opts.Get("groupBy");
  if (group.IsString()) {
    std::string g = group.As<Napi::String>();
    if (g == "key") q->group_by = GroupBy::kKey;
    else if (g == "vm") q->group_by = GroupBy::kVmKey;
    else if (g == "vcpu") q->group_by = GroupBy::kVcpuKey;
    else { *err = "unknown groupBy '" + g + "'"; return false; }
  }
  extras->buckets = opts.Get("buckets").ToBoolean();
  Napi::Value stats = opts.Get("stats");
  if (stats.IsBoolean()) extras->stats = stats.As<Napi::Boolean>().Value();
  Napi::Value bounds = opts.Get("classicBoundsNs");
  if (!bounds.IsUndefined()) {
    if (!bounds.IsTypedArray() || bounds.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
      *err = "classicBoundsNs must be a Float64Array";
      return false;
    }
    Napi::Float64Array b = bounds.As<Napi::Float64Array>();
    for (size_t i = 0; i < b.ElementLength(); i++) {
      if (!(b[i] > 0) || (i > 0 && !(b[i] > b[i - 1]))) {
        *err = "classicBoundsNs must be positive and strictly increasing";
        return false;
      }
      extras->classic_bounds.push_back(b[i]);
    }
  }
  return true;
}

// (analysis, key, info) -> the row name, made into a JS string once per
// query: 30,000 rows share a few hundred names.
struct NameKey {
  int analysis;
  uint64_t key;
  uint32_t info;
  bool operator==(const NameKey& o) const { return analysis == o.analysis && key == o.key && info == o.info; }
};
struct NameKeyHash {
  size_t operator()(const NameKey& k) const {
    uint64_t h = (k.key * 0x9E3779B97F4A7C15ULL) ^ (static_cast<uint64_t>(k.info) << 8) ^ static_cast<uint64_t>(k.analysis);
    return static_cast<size_t>(h ^ (h >> 31));
  }
};
struct CachedName {
  Napi::Value name;
  bool known;
};

Napi::Float64Array column(Napi::Env env, const std::vector<double>& v) {
  Napi::Float64Array a = Napi::Float64Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); i++) a[i] = v[i];
  return a;
}

}  // namespace

// slot_of[index] = the classic slot of native bucket `index`: the first bound
// >= the bucket's exclusive upper edge (bounds.size() = above every bound).
// Same rule as src/exporter/buckets/classic.ts.
std::vector<uint16_t> classic_slot_table(const std::vector<double>& bounds) {
  const int n = kvmlens::LatencyHistogram::kOctaves * kvmlens::LatencyHistogram::kSubBuckets;
  std::vector<uint16_t> slot_of(n);
  for (int i = 0; i < n; i++) {
    const double upper = static_cast<double>(kvmlens::LatencyHistogram::upper_bound(i));
    slot_of[i] = static_cast<uint16_t>(std::lower_bound(bounds.begin(), bounds.end(), upper) - bounds.begin());
  }
  return slot_of;
}

// Adds a histogram's buckets into `slots` (bounds + 1 of them, not cumulative).
static void add_classic(const kvmlens::LatencyHistogram& h, const std::vector<uint16_t>& slot_of, double* slots) {
  h.add_to_slots(slot_of.data(), slots);
}

// The exporter's snapshot: grouped per (analysis, pid, vcpu, key, info) with
// classic slots, count, sum, min, max and long count, straight from the
// analyzer's rows. Unlike run_stat_query it copies no histogram (so no
// allocation per row) and computes no percentile.
void lean_query(const kvmlens::KvmAnalyzer& analyzer, const StatQuery& q, const std::vector<uint16_t>& slot_of,
                size_t slot_count, std::vector<LeanRow>* out, std::vector<double>* classic) {
  kvmlens::FlatMap<GroupKey, size_t, GroupKeyHash> index(analyzer.rows().size() + 16);
  const bool keep_pid = q.group_by != GroupBy::kKey;
  const bool keep_vcpu = q.group_by == GroupBy::kVcpuKey;
  const std::vector<kvmlens::StatRow>& all = analyzer.rows();
  for (size_t ri = 0; ri < all.size(); ri++) {
    const kvmlens::StatRow& row = all[ri];
    // The next row's counters load while this one is summed.
    if (slot_count > 0 && ri + 1 < all.size()) all[ri + 1].hist.prefetch();
    const kvmlens::LatencyHistogram& h = row.hist;
    if (h.count() == 0) continue;  // reset_stats() leaves empty rows
    if (!q.all_analyses && row.analysis != q.analysis) continue;
    if (q.vcpu >= 0 && static_cast<int64_t>(row.vcpu) != q.vcpu) continue;
    if (!q.pids.empty() && std::find(q.pids.begin(), q.pids.end(), row.pid) == q.pids.end()) continue;
    GroupKey gk{static_cast<int>(row.analysis), keep_pid ? row.pid : -1,
                keep_vcpu ? static_cast<int64_t>(row.vcpu) : -1, row.key, row.info};
    bool inserted = false;
    const size_t at = index.find_or_insert(gk, out->size(), &inserted);
    if (inserted) {
      out->push_back(LeanRow{row.analysis, std::get<1>(gk), std::get<2>(gk), row.key, row.info, 0, 0, 0,
                             std::numeric_limits<uint64_t>::max(), 0});
      classic->resize(classic->size() + slot_count, 0.0);
    }
    LeanRow& r = (*out)[at];
    r.long_count += row.long_count;
    r.count += h.count();
    r.sum += h.sum();
    r.min = std::min(r.min, h.min());
    r.max = std::max(r.max, h.max());
    if (slot_count > 0) add_classic(h, slot_of, classic->data() + at * slot_count);
  }
}


void SessionWrap::Register(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(env, "NativeSession",
                                    {InstanceMethod("info", &SessionWrap::Info),
                                     InstanceMethod("readStats", &SessionWrap::ReadStats),
                                     InstanceMethod("query", &SessionWrap::Query),
                                     InstanceMethod("render", &SessionWrap::Render),
                                     InstanceMethod("stop", &SessionWrap::Stop),
                                     InstanceMethod("resetStats", &SessionWrap::ResetStats),
                                     InstanceMethod("forgetPids", &SessionWrap::ForgetPids),
                                     InstanceMethod("takeLongEvents", &SessionWrap::TakeLongEvents),
                                     InstanceMethod("lostPerCpu", &SessionWrap::LostPerCpu),
                                     InstanceMethod("sourceError", &SessionWrap::SourceError),
                                     InstanceAccessor("running", &SessionWrap::Running, nullptr)});
  g_constructor = new Napi::FunctionReference(Napi::Persistent(ctor));
  exports.Set("NativeSession", ctor);
}

SessionWrap::SessionWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SessionWrap>(info) {}

SessionWrap::~SessionWrap() {
  if (runner_) runner_->stop();
}

Napi::Object SessionWrap::Wrap(Napi::Env env, std::unique_ptr<KvmSession> analysis,
                               std::unique_ptr<kvmlens::SessionRunner> runner) {
  Napi::Object obj = g_constructor->New({});
  SessionWrap* self = SessionWrap::Unwrap(obj);
  self->analysis_ = std::move(analysis);
  self->runner_ = std::move(runner);
  return obj;
}

namespace {
// Joins the runner's thread off the JS thread.
class StopWorker : public Napi::AsyncWorker {
 public:
  StopWorker(Napi::Env env, kvmlens::SessionRunner* runner)
      : Napi::AsyncWorker(env), runner_(runner), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override { if (runner_) runner_->stop(); }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
 private:
  kvmlens::SessionRunner* runner_;
  Napi::Promise::Deferred deferred_;
};
}  // namespace

Napi::Value SessionWrap::Stop(const Napi::CallbackInfo& info) {
  auto* worker = new StopWorker(info.Env(), runner_.get());
  Napi::Promise p = worker->promise();
  worker->Queue();
  return p;
}

Napi::Value SessionWrap::ResetStats(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> hold(analysis_->mutex);
  analysis_->analyzer->reset_stats();
  return info.Env().Undefined();
}

Napi::Value SessionWrap::ForgetPids(const Napi::CallbackInfo& info) {
  std::vector<int32_t> pids;
  if (info[0].IsArray()) {
    Napi::Array arr = info[0].As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); i++) pids.push_back(arr.Get(i).As<Napi::Number>().Int32Value());
  }
  std::lock_guard<std::mutex> hold(analysis_->mutex);
  analysis_->analyzer->forget_pids(pids);
  return info.Env().Undefined();
}

Napi::Value SessionWrap::TakeLongEvents(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<kvmlens::LongEvent> events;
  uint64_t dropped = 0;
  {
    std::lock_guard<std::mutex> hold(analysis_->mutex);
    events.swap(analysis_->long_events);
    analysis_->long_events.reserve(events.capacity());
    dropped = analysis_->long_events_dropped;
    analysis_->long_events_dropped = 0;
  }
  const size_t n = events.size();
  Napi::BigUint64Array time = Napi::BigUint64Array::New(env, n);
  Napi::Int32Array pid = Napi::Int32Array::New(env, n);
  Napi::Uint32Array vcpu = Napi::Uint32Array::New(env, n);
  Napi::Float64Array duration = Napi::Float64Array::New(env, n);
  Napi::Uint8Array which = Napi::Uint8Array::New(env, n);
  Napi::Array names = Napi::Array::New(env, n);
  for (size_t i = 0; i < n; i++) {
    const kvmlens::LongEvent& e = events[i];
    time[i] = e.time;
    pid[i] = e.pid;
    vcpu[i] = e.vcpu;
    duration[i] = static_cast<double>(e.duration_ns);
    which[i] = static_cast<uint8_t>(e.analysis);
    bool known = true;
    names.Set(static_cast<uint32_t>(i), analysis_->analyzer->key_name(e.analysis, e.key, e.info, &known));
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("length", static_cast<double>(n));
  o.Set("time", time);
  o.Set("pid", pid);
  o.Set("vcpu", vcpu);
  o.Set("durationNs", duration);
  o.Set("analysis", which);
  o.Set("name", names);
  o.Set("dropped", static_cast<double>(dropped));
  return o;
}

Napi::Value SessionWrap::Running(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), runner_ && runner_->running());
}

Napi::Value SessionWrap::LostPerCpu(const Napi::CallbackInfo& info) {
  std::vector<uint64_t> lost = runner_ ? runner_->lost_per_cpu() : std::vector<uint64_t>();
  Napi::Float64Array a = Napi::Float64Array::New(info.Env(), lost.size());
  for (size_t i = 0; i < lost.size(); i++) a[i] = static_cast<double>(lost[i]);
  return a;
}

Napi::Value SessionWrap::SourceError(const Napi::CallbackInfo& info) {
  std::string err = runner_ ? runner_->error() : std::string();
  if (err.empty()) return info.Env().Undefined();
  return Napi::String::New(info.Env(), err);
}

Napi::Value SessionWrap::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const kvmlens::PerfFileInfo& fi = analysis_->info;
  Napi::Object o = Napi::Object::New(env);
  o.Set("source", analysis_->source);
  o.Set("pipe", fi.pipe);
  o.Set("cpuid", fi.cpuid);
  o.Set("arch", fi.arch);
  o.Set("hostname", fi.hostname);
  o.Set("osrelease", fi.osrelease);
  o.Set("perfVersion", fi.perf_version);
  o.Set("nrCpusOnline", fi.nr_cpus_online);
  Napi::Array cmd = Napi::Array::New(env, fi.cmdline.size());
  for (size_t i = 0; i < fi.cmdline.size(); i++) cmd.Set(static_cast<uint32_t>(i), fi.cmdline[i]);
  o.Set("cmdline", cmd);
  o.Set("isa", analysis_->decoder ? analysis_->decoder->isa_name() : std::string());
  o.Set("hasKvmEvents", analysis_->decoder && analysis_->decoder->has_kvm_events());
  Napi::Array events = Napi::Array::New(env, fi.attrs.size());
  for (size_t i = 0; i < fi.attrs.size(); i++) events.Set(static_cast<uint32_t>(i), fi.attrs[i].name);
  o.Set("events", events);
  if (analysis_->has_data_error) {
    Napi::Object e = Napi::Object::New(env);
    e.Set("message", analysis_->data_error);
    if (analysis_->data_error_offset != kvmlens::ParseError::kNoOffset)
      e.Set("offset", static_cast<double>(analysis_->data_error_offset));
    o.Set("dataError", e);
  }
  return o;
}

Napi::Value SessionWrap::ReadStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::lock_guard<std::mutex> hold(analysis_->mutex);
  const kvmlens::ReadStats& s = analysis_->read_stats;
  Napi::Object o = Napi::Object::New(env);
  o.Set("records", static_cast<double>(s.records));
  o.Set("samples", static_cast<double>(s.samples));
  o.Set("lost", static_cast<double>(s.lost + analysis_->analyzer->lost()));
  o.Set("finishedRounds", static_cast<double>(s.finished_rounds));
  o.Set("unordered", static_cast<double>(s.unordered));
  o.Set("bytes", static_cast<double>(s.bytes));
  o.Set("kvmEvents", static_cast<double>(analysis_->analyzer->events()));
  o.Set("unpaired", static_cast<double>(analysis_->analyzer->unpaired()));
  return o;
}

Napi::Value SessionWrap::Render(const Napi::CallbackInfo& info) { return StartRender(info, analysis_.get()); }

Napi::Value SessionWrap::Query(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  StatQuery q;
  QueryExtras extras;
  std::string err;
  if (info.Length() > 0 && info[0].IsObject() &&
      !parse_query(info[0].As<Napi::Object>(), &q, &extras, &err)) {
    make_error(env, err, "EARG").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const bool want_buckets = extras.buckets;
  const bool want_classic = !extras.classic_bounds.empty();
  const size_t slot_count = want_classic ? extras.classic_bounds.size() + 1 : 0;
  std::vector<uint16_t> slot_of;
  if (want_classic) slot_of = classic_slot_table(extras.classic_bounds);
  // Without percentiles or native buckets, no merged histogram is needed.
  const bool lean = !extras.stats && !want_buckets;
  std::vector<QueryRow> rows;
  std::vector<LeanRow> lean_rows;
  std::vector<double> classic;
  {
    std::lock_guard<std::mutex> hold(analysis_->mutex);
    if (lean) lean_query(*analysis_->analyzer, q, slot_of, slot_count, &lean_rows, &classic);
    else rows = kvmlens::run_stat_query(*analysis_->analyzer, q);
  }
  const size_t n = lean ? lean_rows.size() : rows.size();
  Napi::Uint8Array analysis = Napi::Uint8Array::New(env, n);
  Napi::Int32Array pid = Napi::Int32Array::New(env, n);
  Napi::BigUint64Array key = Napi::BigUint64Array::New(env, n);
  Napi::Uint32Array key_info = Napi::Uint32Array::New(env, n);
  Napi::Uint8Array known = Napi::Uint8Array::New(env, n);
  Napi::Array names = Napi::Array::New(env, n);
  std::vector<double> vcpu(n), count(n), sum(n), min(n), max(n), mean(n), stddev(n), rel(n), longc(n),
      p50(n), p90(n), p99(n), p999(n);
  std::vector<uint32_t> bucket_offsets;
  std::vector<double> bucket_lower, bucket_upper, bucket_count;
  std::vector<kvmlens::LatencyHistogram::Bucket> scratch;
  if (!lean && want_classic) classic.assign(n * slot_count, 0.0);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::unordered_map<NameKey, CachedName, NameKeyHash> name_cache;
  for (size_t i = 0; i < n; i++) {
    kvmlens::Analysis a;
    int32_t row_pid;
    int64_t row_vcpu;
    uint64_t row_key;
    uint32_t row_info;
    if (lean) {
      const LeanRow& r = lean_rows[i];
      a = r.analysis, row_pid = r.pid, row_vcpu = r.vcpu, row_key = r.key, row_info = r.info;
      count[i] = static_cast<double>(r.count);
      sum[i] = static_cast<double>(r.sum);
      min[i] = static_cast<double>(r.min);
      max[i] = static_cast<double>(r.max);
      longc[i] = static_cast<double>(r.long_count);
      mean[i] = stddev[i] = rel[i] = p50[i] = p90[i] = p99[i] = p999[i] = nan;
    } else {
      const QueryRow& r = rows[i];
      a = r.analysis, row_pid = r.pid, row_vcpu = r.vcpu, row_key = r.key, row_info = r.info;
      count[i] = static_cast<double>(r.hist.count());
      sum[i] = static_cast<double>(r.hist.sum());
      min[i] = static_cast<double>(r.hist.min());
      max[i] = static_cast<double>(r.hist.max());
      longc[i] = static_cast<double>(r.long_count);
      if (extras.stats) {
        mean[i] = r.hist.mean();
        stddev[i] = std::sqrt(r.hist.variance());
        rel[i] = r.hist.rel_stddev_percent();
        p50[i] = static_cast<double>(r.hist.quantile(0.5));
        p90[i] = static_cast<double>(r.hist.quantile(0.9));
        p99[i] = static_cast<double>(r.hist.quantile(0.99));
        p999[i] = static_cast<double>(r.hist.quantile(0.999));
      } else {
        mean[i] = stddev[i] = rel[i] = p50[i] = p90[i] = p99[i] = p999[i] = nan;
      }
      if (want_classic) add_classic(r.hist, slot_of, classic.data() + i * slot_count);
      if (want_buckets) {
        bucket_offsets.push_back(static_cast<uint32_t>(bucket_lower.size()));
        scratch.clear();
        r.hist.buckets(&scratch);
        for (const auto& b : scratch) {
          bucket_lower.push_back(static_cast<double>(b.lower));
          bucket_upper.push_back(static_cast<double>(b.upper));
          bucket_count.push_back(static_cast<double>(b.count));
        }
      }
    }
    analysis[i] = static_cast<uint8_t>(a);
    pid[i] = row_pid;
    key[i] = row_key;
    key_info[i] = row_info;
    const NameKey nk{static_cast<int>(a), row_key, row_info};
    auto cached = name_cache.find(nk);
    if (cached == name_cache.end()) {
      bool is_known = true;
      Napi::Value v = Napi::String::New(env, analysis_->analyzer->key_name(a, row_key, row_info, &is_known));
      cached = name_cache.emplace(nk, CachedName{v, is_known}).first;
    }
    names.Set(static_cast<uint32_t>(i), cached->second.name);
    known[i] = cached->second.known ? 1 : 0;
    vcpu[i] = static_cast<double>(row_vcpu);
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("length", static_cast<double>(n));
  o.Set("analysis", analysis);
  o.Set("pid", pid);
  o.Set("vcpu", column(env, vcpu));
  o.Set("key", key);
  o.Set("info", key_info);
  o.Set("name", names);
  o.Set("known", known);
  o.Set("count", column(env, count));
  o.Set("sumNs", column(env, sum));
  o.Set("minNs", column(env, min));
  o.Set("maxNs", column(env, max));
  o.Set("meanNs", column(env, mean));
  o.Set("stddevNs", column(env, stddev));
  o.Set("relStddevPct", column(env, rel));
  o.Set("longCount", column(env, longc));
  o.Set("p50Ns", column(env, p50));
  o.Set("p90Ns", column(env, p90));
  o.Set("p99Ns", column(env, p99));
  o.Set("p999Ns", column(env, p999));
  if (want_classic) o.Set("classic", column(env, classic));
  if (want_buckets) {
    bucket_offsets.push_back(static_cast<uint32_t>(bucket_lower.size()));
    Napi::Object b = Napi::Object::New(env);
    Napi::Uint32Array offsets = Napi::Uint32Array::New(env, bucket_offsets.size());
    for (size_t i = 0; i < bucket_offsets.size(); i++) offsets[i] = bucket_offsets[i];
    b.Set("offsets", offsets);
    b.Set("lowerNs", column(env, bucket_lower));
    b.Set("upperNs", column(env, bucket_upper));
    b.Set("count", column(env, bucket_count));
    o.Set("buckets", b);
  }
  return o;
}

}  // namespace kvmlens_addon
