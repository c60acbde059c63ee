// The exporter's scrape, rendered off the event loop: session.render(spec)
// takes the snapshot itself (the lean grouping under the session's lock),
// sums the snapshot rows into the histogram children that the JavaScript
// collectors planned (spec.rowFamily/rowChild, from an earlier snapshot of
// the rows' identities), writes the text family by family and streams it
// through deflate in 256 KiB pieces, all on libuv's thread pool. So the
// event loop keeps serving meanwhile, and no whole text exists unless a
// scraper asked for plain text.
//
// The text is byte for byte what src/exporter/exposition.ts writes for the
// same families (and so what prom-client writes): the same lines, numbers
// formatted as JavaScript's Number#toString, each child's _sum summed in the
// same order as the collectors sum it. Rows that appeared after the plan's
// snapshot are not in the plan and wait for the next one.
#include "addon/render_worker.h"

#include <malloc.h>
// Node's own zlib (its binary exports the symbols): cmake-js names the
// header's path; node-gyp has Node's include directory on the path.
#ifdef KVMLENS_NODE_ZLIB_H
#include KVMLENS_NODE_ZLIB_H
#else
#include <zlib.h>
#endif

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "addon/js_errors.h"
#include "addon/lean_query.h"
#include "core/flat_map.h"

namespace kvmlens_addon {

namespace {

// JavaScript's Number#toString (ECMA-262 Number::toString), as prom-client
// prints values, with its spellings of NaN and the infinities.
void append_js_number(std::string* out, double v) {
  if (std::isnan(v)) { out->append("Nan"); return; }
  if (std::isinf(v)) { out->append(v < 0 ? "-Inf" : "+Inf"); return; }
  if (v == 0) { out->push_back('0'); return; }  // -0 too
  char buf[48];
  if (v == std::floor(v) && std::fabs(v) < 9007199254740992.0) {
    auto r = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(v));
    out->append(buf, r.ptr);
    return;
  }
  // Shortest round-trip digits (as ECMA-262 asks: closest, ties to even).
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  const char* p = buf;
  if (*p == '-') { out->push_back('-'); p++; }
  char digits[24];
  int k = 0;
  for (; p < r.ptr && *p != 'e'; p++) if (*p != '.') digits[k++] = *p;
  int e = 0;
  std::from_chars(p + 1 + (p[1] == '+'), r.ptr, e);
  const int n = e + 1;  // value = 0.digits * 10^n
  if (k <= n && n <= 21) {
    out->append(digits, k);
    out->append(static_cast<size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out->append(digits, n);
    out->push_back('.');
    out->append(digits + n, k - n);
  } else if (-6 < n && n <= 0) {
    out->append("0.");
    out->append(static_cast<size_t>(-n), '0');
    out->append(digits, k);
  } else {
    out->push_back(digits[0]);
    if (k > 1) {
      out->push_back('.');
      out->append(digits + 1, k - 1);
    }
    out->push_back('e');
    out->push_back(n - 1 >= 0 ? '+' : '-');
    auto q = std::to_chars(buf, buf + sizeof buf, std::abs(n - 1));
    out->append(buf, q.ptr);
  }
}

struct FamilyPlan {
  std::string head;    // "# HELP ...\n# TYPE ... histogram"
  std::string name;
  std::string labels;  // per child escaped label text, joined by '\n'
  size_t children = 0;
};

struct Part {
  int family;          // -1: text
  std::string text;
};

// Where the text goes: into deflate (gzip) in pieces, and/or kept whole.
class Sink {
 public:
  Sink(bool gzip, bool text) : gzip_(gzip), text_(text) {}
  ~Sink() { if (z_ready_) deflateEnd(&z_); }

  bool start(std::string* err) {
    if (!gzip_) return true;
    std::memset(&z_, 0, sizeof z_);
    // Level 1 as the JS path (exposition.ts): the text repeats itself.
    if (deflateInit2(&z_, 1, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
      *err = "render: deflateInit2 failed";
      return false;
    }
    z_ready_ = true;
    return true;
  }
  // The buffer to append text to; call spill() after each piece.
  std::string* buffer() { return gzip_ ? &pending_ : &whole_; }
  bool spill(std::string* err) {
    if (gzip_ && pending_.size() >= kPiece) return flush(Z_NO_FLUSH, err);
    return true;
  }
  bool finish(std::string* err) { return !gzip_ || flush(Z_FINISH, err); }
  std::string take_gzip() { return std::move(gz_); }
  std::string take_text() { return std::move(whole_); }
  size_t text_bytes() const { return bytes_ + (gzip_ ? pending_.size() : whole_.size()); }

 private:
  static constexpr size_t kPiece = 256 * 1024;
  bool flush(int mode, std::string* err) {
    if (text_) whole_.append(pending_);
    bytes_ += pending_.size();
    z_.next_in = reinterpret_cast<Bytef*>(pending_.data());
    z_.avail_in = static_cast<uInt>(pending_.size());
    for (;;) {
      if (gz_.size() - used_ < 64 * 1024) gz_.resize(std::max<size_t>(gz_.size() * 2, 256 * 1024));
      z_.next_out = reinterpret_cast<Bytef*>(gz_.data() + used_);
      z_.avail_out = static_cast<uInt>(gz_.size() - used_);
      const int rc = deflate(&z_, mode);
      used_ = gz_.size() - z_.avail_out;
      if (rc == Z_STREAM_END) break;
      if (rc != Z_OK && rc != Z_BUF_ERROR) {
        *err = "render: deflate failed";
        return false;
      }
      if (mode != Z_FINISH && z_.avail_in == 0 && z_.avail_out > 0) break;
    }
    if (mode == Z_FINISH) gz_.resize(used_);
    pending_.clear();
    return true;
  }

  bool gzip_, text_;
  bool z_ready_ = false;
  z_stream z_;
  std::string pending_, whole_, gz_;
  size_t used_ = 0, bytes_ = 0;
};

class RenderWorker : public Napi::AsyncWorker {
 public:
  RenderWorker(Napi::Env env, kvmlens::KvmSession* session, Napi::Object owner)
      : Napi::AsyncWorker(env), session_(session), deferred_(Napi::Promise::Deferred::New(env)) {
    owner_ = Napi::Persistent(owner);
  }
  ~RenderWorker() override { owner_.Reset(); }
  Napi::Promise promise() { return deferred_.Promise(); }

  // Reads the spec on the JS thread; false (with *err) when it is malformed.
  bool parse(const Napi::Object& spec, std::string* err) {
    Napi::Value bounds = spec.Get("boundsNs");
    Napi::Value le = spec.Get("le");
    if (!bounds.IsTypedArray() || bounds.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array || !le.IsArray()) {
      *err = "render: boundsNs (Float64Array) and le (string[]) are required";
      return false;
    }
    Napi::Float64Array b = bounds.As<Napi::Float64Array>();
    Napi::Array l = le.As<Napi::Array>();
    if (b.ElementLength() == 0 || l.Length() != b.ElementLength()) {
      *err = "render: boundsNs and le must have the same, non-zero length";
      return false;
    }
    for (size_t i = 0; i < b.ElementLength(); i++) {
      if (!(b[i] > 0) || (i > 0 && !(b[i] > b[i - 1]))) {
        *err = "render: boundsNs must be positive and strictly increasing";
        return false;
      }
      bounds_.push_back(b[i]);
      le_.push_back("le=\"" + l.Get(static_cast<uint32_t>(i)).ToString().Utf8Value() + "\"} ");
    }
    Napi::Value rows = spec.Get("rows");
    Napi::Value rf = spec.Get("rowFamily");
    Napi::Value rc = spec.Get("rowChild");
    if (!rows.IsObject() || !rf.IsTypedArray() || !rc.IsTypedArray()) {
      *err = "render: rows, rowFamily and rowChild are required";
      return false;
    }
    Napi::Object r = rows.As<Napi::Object>();
    Napi::Value a = r.Get("analysis"), p = r.Get("pid"), v = r.Get("vcpu"), k = r.Get("key"), in = r.Get("info");
    if (!a.IsTypedArray() || !p.IsTypedArray() || !v.IsTypedArray() || !k.IsTypedArray() || !in.IsTypedArray() ||
        a.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
        p.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
        v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
        k.As<Napi::TypedArray>().TypedArrayType() != napi_biguint64_array ||
        in.As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array ||
        rf.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
        rc.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
      *err = "render: rows must be a snapshot's columns, rowFamily and rowChild Int32Arrays";
      return false;
    }
    Napi::Uint8Array an = a.As<Napi::Uint8Array>();
    Napi::Int32Array pid = p.As<Napi::Int32Array>();
    Napi::Float64Array vcpu = v.As<Napi::Float64Array>();
    Napi::BigUint64Array key = k.As<Napi::BigUint64Array>();
    Napi::Uint32Array info = in.As<Napi::Uint32Array>();
    Napi::Int32Array fam = rf.As<Napi::Int32Array>();
    Napi::Int32Array child = rc.As<Napi::Int32Array>();
    const size_t n = an.ElementLength();
    if (pid.ElementLength() != n || vcpu.ElementLength() != n || key.ElementLength() != n || info.ElementLength() != n ||
        fam.ElementLength() != n || child.ElementLength() != n) {
      *err = "render: the rows' columns, rowFamily and rowChild differ in length";
      return false;
    }
    Napi::Value fs = spec.Get("families");
    if (!fs.IsArray()) {
      *err = "render: families must be an array";
      return false;
    }
    Napi::Array fa = fs.As<Napi::Array>();
    for (uint32_t i = 0; i < fa.Length(); i++) {
      Napi::Value fv = fa.Get(i);
      if (!fv.IsObject()) { *err = "render: a family is not an object"; return false; }
      Napi::Object f = fv.As<Napi::Object>();
      FamilyPlan fp;
      fp.head = f.Get("head").ToString().Utf8Value();
      fp.name = f.Get("name").ToString().Utf8Value();
      fp.labels = f.Get("labels").ToString().Utf8Value();
      fp.children = static_cast<size_t>(f.Get("children").ToNumber().Int64Value());
      const size_t lines = fp.children == 0 ? 0 : 1 + static_cast<size_t>(std::count(fp.labels.begin(), fp.labels.end(), '\n'));
      if (lines != fp.children) { *err = "render: a family's labels do not match its children"; return false; }
      families_.push_back(std::move(fp));
    }
    plan_rows_.reserve(n);
    // Rows of no family (not exported, filtered out) stay in the plan, so
    // only rows new since its snapshot count as unplanned.
    for (size_t i = 0; i < n; i++) {
      const GroupKey gk{an[i], pid[i], static_cast<int64_t>(vcpu[i]), key[i], info[i]};
      if (fam[i] < 0) {
        plan_rows_.push_back(PlanRow{gk, kNoFamily, 0});
        continue;
      }
      if (static_cast<size_t>(fam[i]) >= families_.size() || child[i] < 0 ||
          static_cast<size_t>(child[i]) >= families_[fam[i]].children) {
        *err = "render: rowFamily/rowChild out of range";
        return false;
      }
      plan_rows_.push_back(PlanRow{gk, static_cast<uint32_t>(fam[i]), static_cast<uint32_t>(child[i])});
    }
    Napi::Value ps = spec.Get("parts");
    if (!ps.IsArray()) { *err = "render: parts must be an array"; return false; }
    Napi::Array pa = ps.As<Napi::Array>();
    for (uint32_t i = 0; i < pa.Length(); i++) {
      Napi::Value pv = pa.Get(i);
      if (pv.IsNumber()) {
        const int64_t f = pv.As<Napi::Number>().Int64Value();
        if (f < 0 || static_cast<size_t>(f) >= families_.size()) { *err = "render: a part names no family"; return false; }
        parts_.push_back(Part{static_cast<int>(f), {}});
      } else {
        parts_.push_back(Part{-1, pv.ToString().Utf8Value()});
      }
    }
    gzip_ = spec.Get("gzip").ToBoolean();
    text_ = spec.Get("text").ToBoolean() || !gzip_;
    return true;
  }

  void Execute() override {
    static const bool fixed_mmap_threshold = mallopt(M_MMAP_THRESHOLD, 1 << 20) == 1;
    (void)fixed_mmap_threshold;
    try {
      run();
    } catch (const std::exception& e) {
      SetError(std::string("render: ") + e.what());
    }
    // What the render allocated on this pool thread's malloc arena is free
    // again: give its pages back (glibc keeps them otherwise, ~10 MB per
    // thread of the pool that rendered).
    malloc_trim(0);
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object o = Napi::Object::New(env);
    // The gzip (~1 MB) is copied into a Buffer of its own size, which V8
    // counts (so garbage collection sees it) and which holds no slack of the
    // growing output string, freed right here.
    if (gzip_) o.Set("gzip", Napi::Buffer<char>::Copy(env, gz_.data(), gz_.size()));
    std::string().swap(gz_);
    if (text_) o.Set("text", owned_buffer(env, std::move(text_out_)));
    o.Set("textBytes", static_cast<double>(text_bytes_));
    o.Set("rows", static_cast<double>(snapshot_rows_));
    o.Set("unplannedRows", static_cast<double>(unplanned_));
    o.Set("seconds", seconds_);
    o.Set("snapshotSeconds", snapshot_seconds_);
    o.Set("sumSeconds", sum_seconds_);
    deferred_.Resolve(o);
  }
  void OnError(const Napi::Error& e) override {
    deferred_.Reject(make_error(Env(), e.Message(), "ERENDER").Value());
  }

 private:
  static constexpr uint32_t kNoFamily = ~0u;
  struct PlanRow {
    GroupKey key;
    uint32_t family, child;
  };

  // The text (17 MB for 10,000 histograms) handed over without a copy; V8
  // is told its size, so that garbage collection frees it as soon as no
  // response holds it rather than whenever the JS heap next fills.
  static Napi::Buffer<char> owned_buffer(Napi::Env env, std::string s) {
    auto* owned = new std::string(std::move(s));
    const int64_t size = static_cast<int64_t>(owned->size());
    Napi::MemoryManagement::AdjustExternalMemory(env, size);
    return Napi::Buffer<char>::New(
        env, owned->data(), owned->size(),
        [](Napi::Env e, char*, std::string* p) {
          Napi::MemoryManagement::AdjustExternalMemory(e, -static_cast<int64_t>(p->size()));
          delete p;
        },
        owned);
  }

  void run() {
    const auto t0 = std::chrono::steady_clock::now();
    const size_t S = bounds_.size() + 1;
    const std::vector<uint16_t> slot_of = classic_slot_table(bounds_);
    // Rows keep their order (the analyzer appends; only JS forgets rows, and
    // it plans afresh then), so row i is usually the plan's row i; a map is
    // built only when one is not.
    std::unique_ptr<kvmlens::FlatMap<GroupKey, uint32_t, GroupKeyHash>> plan;
    const auto planned = [&](size_t i, const GroupKey& gk) -> const PlanRow* {
      if (!plan) {
        if (i < plan_rows_.size() && plan_rows_[i].key == gk) return &plan_rows_[i];
        plan = std::make_unique<kvmlens::FlatMap<GroupKey, uint32_t, GroupKeyHash>>(plan_rows_.size() * 2 + 16);
        for (uint32_t k = 0; k < plan_rows_.size(); k++) plan->find_or_insert(plan_rows_[k].key, k);
      }
      const uint32_t* at = plan->find(gk);
      return at ? &plan_rows_[*at] : nullptr;
    };

    std::vector<LeanRow> lean;
    std::vector<double> classic;
    kvmlens::StatQuery q;
    q.all_analyses = true;
    q.group_by = kvmlens::GroupBy::kVcpuKey;
    {
      std::lock_guard<std::mutex> hold(session_->mutex);
      lean_query(*session_->analyzer, q, slot_of, S, &lean, &classic);
    }
    snapshot_rows_ = lean.size();
    const auto t1 = std::chrono::steady_clock::now();
    snapshot_seconds_ = std::chrono::duration<double>(t1 - t0).count();

    // Children's slots, counts and sums, summed in the snapshot's row order
    // (the collectors' order, which fixes the floating-point _sum).
    std::vector<std::vector<double>> slots(families_.size()), counts(families_.size()), sums(families_.size());
    for (size_t f = 0; f < families_.size(); f++) {
      slots[f].assign(families_[f].children * S, 0.0);
      counts[f].assign(families_[f].children, 0.0);
      sums[f].assign(families_[f].children, 0.0);
    }
    for (size_t i = 0; i < lean.size(); i++) {
      const LeanRow& r = lean[i];
      const PlanRow* found = planned(i, GroupKey{static_cast<int>(r.analysis), r.pid, r.vcpu, r.key, r.info});
      if (!found) {
        unplanned_++;
        continue;
      }
      const PlanRow& pr = *found;
      if (pr.family == kNoFamily) continue;
      double* s = slots[pr.family].data() + static_cast<size_t>(pr.child) * S;
      const double* c = classic.data() + i * S;
      for (size_t j = 0; j < S; j++) s[j] += c[j];
      counts[pr.family][pr.child] += static_cast<double>(r.count);
      sums[pr.family][pr.child] += static_cast<double>(r.sum) / 1e9;
    }
    std::vector<double>().swap(classic);
    std::vector<LeanRow>().swap(lean);

    const auto t2 = std::chrono::steady_clock::now();
    sum_seconds_ = std::chrono::duration<double>(t2 - t1).count();
    Sink sink(gzip_, text_);
    std::string err;
    if (!sink.start(&err)) return SetError(err);
    for (const Part& part : parts_) {
      if (part.family < 0) {
        sink.buffer()->append(part.text);
        if (!sink.spill(&err)) return SetError(err);
        continue;
      }
      const FamilyPlan& fp = families_[part.family];
      const std::vector<double>& fs = slots[part.family];
      std::string* out = sink.buffer();
      out->append(fp.head);
      const std::string bucket = "\n" + fp.name + "_bucket{";
      const std::string sum_name = "\n" + fp.name + "_sum";
      const std::string count_name = "\n" + fp.name + "_count";
      std::string prefix, braces, count_text;
      size_t label_at = 0;
      for (size_t c = 0; c < fp.children; c++) {
        size_t end = fp.labels.find('\n', label_at);
        if (end == std::string::npos) end = fp.labels.size();
        const std::string_view label(fp.labels.data() + label_at, end - label_at);
        label_at = end + 1;
        prefix.assign(bucket);
        braces.clear();
        if (!label.empty()) {
          prefix.append(label).push_back(',');
          braces.append("{").append(label).append("}");
        }
        out = sink.buffer();
        const double* s = fs.data() + c * S;
        double running = 0;
        for (size_t j = 0; j + 1 < S; j++) {
          running += s[j];
          out->append(prefix).append(le_[j]);
          append_js_number(out, running);
        }
        // +Inf is the child's own count, which equals the last cumulative slot.
        count_text.clear();
        append_js_number(&count_text, counts[part.family][c]);
        out->append(prefix).append("le=\"+Inf\"} ").append(count_text);
        out->append(sum_name).append(braces).push_back(' ');
        append_js_number(out, sums[part.family][c]);
        out->append(count_name).append(braces).push_back(' ');
        out->append(count_text);
        if (!sink.spill(&err)) return SetError(err);
      }
    }
    if (!sink.finish(&err)) return SetError(err);
    text_bytes_ = sink.text_bytes();
    gz_ = sink.take_gzip();
    text_out_ = sink.take_text();
    seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

  kvmlens::KvmSession* session_;
  Napi::ObjectReference owner_;
  Napi::Promise::Deferred deferred_;
  std::vector<double> bounds_;
  std::vector<std::string> le_;
  std::vector<FamilyPlan> families_;
  std::vector<PlanRow> plan_rows_;
  std::vector<Part> parts_;
  bool gzip_ = true, text_ = false;
  std::string gz_, text_out_;
  size_t text_bytes_ = 0, snapshot_rows_ = 0, unplanned_ = 0;
  double seconds_ = 0, snapshot_seconds_ = 0, sum_seconds_ = 0;
};

}  // namespace

Napi::Value JsNumberText(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    make_error(env, "jsNumberText(values: Float64Array): bad arguments", "EARG").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Float64Array v = info[0].As<Napi::Float64Array>();
  std::string out;
  for (size_t i = 0; i < v.ElementLength(); i++) {
    if (i > 0) out.push_back('\n');
    append_js_number(&out, v[i]);
  }
  return Napi::String::New(env, out);
}

Napi::Value StartRender(const Napi::CallbackInfo& info, kvmlens::KvmSession* session) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    make_error(env, "render(spec): a spec object is required", "EARG").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* worker = new RenderWorker(env, session, info.This().As<Napi::Object>());
  std::string err;
  if (!worker->parse(info[0].As<Napi::Object>(), &err)) {
    delete worker;
    make_error(env, err, "EARG").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Promise p = worker->promise();
  worker->Queue();
  return p;
}

}  // namespace kvmlens_addon
