// The exporter's histogram exposition lines, written natively into one
// Buffer: a family of 10,000 children is ~160,000 lines, which JavaScript
// string building made the slowest part of a scrape. The caller
// (src/exporter/exposition.ts) passes what needs JavaScript's own formatting
// ready-made -- the family header, each child's escaped label text and its
// _sum as JS prints it -- so this file formats only whole counts, and the
// output is byte for byte what the JS writer (and prom-client) produce.
#include <napi.h>

#include <malloc.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>
#include <string_view>

#include "addon/js_errors.h"

namespace kvmlens_addon {

namespace {

// Whole counts below 2^53 print as JavaScript prints them (plain digits).
bool append_count(std::string* out, double v) {
  if (!(v >= 0 && v < 9007199254740992.0) || v != std::floor(v)) return false;
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, static_cast<uint64_t>(v));
  out->append(buf, r.ptr);
  return true;
}

}  // namespace

// writeHistogramFamily(head, name, le[], labels, slots, counts, sums) -> Buffer | undefined
//   head:   "# HELP ...\n# TYPE ... histogram" (no trailing newline)
//   le:     the classic bounds' `le` texts; slots has le.length + 1 per child
//   labels: per child `a="1",b="2"` (escaped, so without a raw newline) or "",
//           joined by "\n" (one string: one crossing instead of one per child)
//   counts: per child _count (= +Inf); sums: per child _sum as JS prints it, joined by "\n"
// Returns undefined when a count is not a whole number below 2^53 (the
// caller then writes the family in JavaScript).
Napi::Value WriteHistogramFamily(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // Each scrape allocates and frees ~20 MB of text. glibc's default raises
  // its mmap threshold to the size of the first such block freed, after which
  // these blocks come from the heap and their pages stay with the process:
  // a fixed 1 MiB threshold keeps them mmap'd, so freeing returns them.
  static const bool fixed_mmap_threshold = mallopt(M_MMAP_THRESHOLD, 1 << 20) == 1;
  (void)fixed_mmap_threshold;
  if (info.Length() < 7 || !info[0].IsString() || !info[1].IsString() || !info[2].IsArray() ||
      !info[3].IsString() || !info[4].IsTypedArray() || !info[5].IsTypedArray() || !info[6].IsString()) {
    make_error(env, "writeHistogramFamily(head, name, le, labels, slots, counts, sums): bad arguments", "EARG")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const std::string head = info[0].As<Napi::String>();
  const std::string name = info[1].As<Napi::String>();
  Napi::Array le_arr = info[2].As<Napi::Array>();
  const std::string labels = info[3].As<Napi::String>();
  Napi::Float64Array slots = info[4].As<Napi::Float64Array>();
  Napi::Float64Array counts = info[5].As<Napi::Float64Array>();
  const std::string sums = info[6].As<Napi::String>();
  const size_t bounds = le_arr.Length();
  const size_t children = counts.ElementLength();
  const size_t per_child = bounds + 1;
  // n children -> n - 1 separators in each joined string.
  const auto lines = [](const std::string& s) { return s.empty() ? size_t{1} : 1 + static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); };
  if (slots.ElementLength() != children * per_child || (children > 0 && (lines(labels) != children || lines(sums) != children))) {
    make_error(env, "writeHistogramFamily: slots, counts and sums do not match the children", "EARG")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::vector<std::string> le(bounds);
  for (size_t j = 0; j < bounds; j++) le[j] = "le=\"" + le_arr.Get(j).As<Napi::String>().Utf8Value() + "\"} ";

  std::string out;
  out.reserve(head.size() + children * per_child * (name.size() + 120));
  out += head;
  const std::string bucket = "\n" + name + "_bucket{";
  std::string prefix, braces, label;
  size_t label_at = 0, sum_at = 0;
  const auto next = [](const std::string& s, size_t* at) {
    size_t end = s.find('\n', *at);
    if (end == std::string::npos) end = s.size();
    std::string_view v(s.data() + *at, end - *at);
    *at = end + 1;
    return v;
  };
  for (size_t i = 0; i < children; i++) {
    label = next(labels, &label_at);
    prefix = bucket;
    if (!label.empty()) prefix += label + ",";
    braces = label.empty() ? std::string() : "{" + label + "}";
    const double* s = slots.Data() + i * per_child;
    double running = 0;
    for (size_t j = 0; j < bounds; j++) {
      running += s[j];
      out += prefix;
      out += le[j];
      if (!append_count(&out, running)) return env.Undefined();
    }
    const double count = counts[i];
    const size_t count_at = out.size() + prefix.size() + 11;
    out += prefix;
    out += "le=\"+Inf\"} ";
    if (!append_count(&out, count)) return env.Undefined();
    const std::string count_text = out.substr(count_at);
    out += "\n" + name + "_sum" + braces + " ";
    out += next(sums, &sum_at);
    out += "\n" + name + "_count" + braces + " " + count_text;
  }
  // Handed over without a copy: the Buffer owns the string from here on.
  auto* owned = new std::string(std::move(out));
  return Napi::Buffer<char>::New(env, owned->data(), owned->size(),
                                 [](Napi::Env, char*, std::string* s) { delete s; }, owned);
}

// releaseHistogramFamilies(buffers[]) -> number freed: frees writeHistogramFamily
// texts now instead of at some later garbage collection (each buffer is
// detached: it reads as empty from then on), then gives the freed pages
// back to the system (malloc_trim: glibc would otherwise keep ~20 MB of a
// render's freed blocks). The caller does this once the text is gzipped
// and no response will send it; without it a few 20 MB texts of past
// scrapes wait for the collector.
Napi::Value ReleaseHistogramFamilies(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsArray()) {
    make_error(env, "releaseHistogramFamilies(buffers): bad arguments", "EARG").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array list = info[0].As<Napi::Array>();
  uint32_t freed = 0;
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value v = list.Get(i);
    if (!v.IsBuffer()) continue;
    Napi::ArrayBuffer ab = v.As<Napi::Buffer<char>>().ArrayBuffer();
    // napi_detachable_arraybuffer_expected (not ours to free) is an answer, not an error.
    if (!ab.IsDetached() && napi_detach_arraybuffer(env, ab) == napi_ok) freed++;
  }
  if (freed > 0) malloc_trim(0);
  return Napi::Number::New(env, freed);
}

}  // namespace kvmlens_addon
