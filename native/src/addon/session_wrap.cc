#include "addon/session_wrap.h"

#include <cmath>
#include <string>
#include <vector>

#include "addon/js_errors.h"
#include "kvm/stat_query.h"

namespace kvmlens_addon {

using kvmlens::KvmSession;
using kvmlens::GroupBy;
using kvmlens::QueryRow;
using kvmlens::StatQuery;

namespace {

Napi::FunctionReference* g_constructor = nullptr;

// Parses {analysis, vcpu, pids, groupBy, buckets} into a StatQuery.
bool parse_query(const Napi::Object& opts, StatQuery* q, bool* want_buckets, std::string* err) {
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
  *want_buckets = opts.Get("buckets").ToBoolean();
  return true;
}

Napi::Float64Array column(Napi::Env env, const std::vector<double>& v) {
  Napi::Float64Array a = Napi::Float64Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); i++) a[i] = v[i];
  return a;
}

}  // namespace

void SessionWrap::Register(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(env, "NativeSession",
                                    {InstanceMethod("info", &SessionWrap::Info),
                                     InstanceMethod("readStats", &SessionWrap::ReadStats),
                                     InstanceMethod("query", &SessionWrap::Query)});
  g_constructor = new Napi::FunctionReference(Napi::Persistent(ctor));
  exports.Set("NativeSession", ctor);
}

SessionWrap::SessionWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SessionWrap>(info) {}

Napi::Object SessionWrap::Wrap(Napi::Env env, std::unique_ptr<KvmSession> analysis) {
  Napi::Object obj = g_constructor->New({});
  SessionWrap::Unwrap(obj)->analysis_ = std::move(analysis);
  return obj;
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

Napi::Value SessionWrap::Query(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  StatQuery q;
  bool want_buckets = false;
  std::string err;
  if (info.Length() > 0 && info[0].IsObject() &&
      !parse_query(info[0].As<Napi::Object>(), &q, &want_buckets, &err)) {
    make_error(env, err, "EARG").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::vector<QueryRow> rows;
  {
    std::lock_guard<std::mutex> hold(analysis_->mutex);
    rows = kvmlens::run_stat_query(*analysis_->analyzer, q);
  }
  const size_t n = rows.size();
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
  for (size_t i = 0; i < n; i++) {
    const QueryRow& r = rows[i];
    analysis[i] = static_cast<uint8_t>(r.analysis);
    pid[i] = r.pid;
    key[i] = r.key;
    key_info[i] = r.info;
    kvmlens::StatRow probe{r.analysis, r.pid, static_cast<uint32_t>(r.vcpu), r.key, r.info, 0, {}};
    bool is_known = true;
    names.Set(static_cast<uint32_t>(i), analysis_->analyzer->key_name(probe, &is_known));
    known[i] = is_known ? 1 : 0;
    vcpu[i] = static_cast<double>(r.vcpu);
    count[i] = static_cast<double>(r.hist.count());
    sum[i] = static_cast<double>(r.hist.sum());
    min[i] = static_cast<double>(r.hist.min());
    max[i] = static_cast<double>(r.hist.max());
    mean[i] = r.hist.mean();
    stddev[i] = std::sqrt(r.hist.variance());
    rel[i] = r.hist.rel_stddev_percent();
    longc[i] = static_cast<double>(r.long_count);
    p50[i] = static_cast<double>(r.hist.quantile(0.5));
    p90[i] = static_cast<double>(r.hist.quantile(0.9));
    p99[i] = static_cast<double>(r.hist.quantile(0.99));
    p999[i] = static_cast<double>(r.hist.quantile(0.999));
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
