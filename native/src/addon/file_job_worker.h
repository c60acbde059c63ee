// A job on a file run off the JS thread (analyzeFile, profileFile): it
// reports progress every few MB through a JS callback, never per event, and
// settles a promise with the job's result or with the error as a JS
// exception carrying a code (EPARSE with the byte offset, ESETUP, EINTERNAL).
#pragma once
#include <napi.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <utility>

#include "addon/js_errors.h"
#include "core/errors.h"

namespace kvmlens_addon {

struct FileJobProgress {
  uint64_t done, total;
};

template <class Result>
class FileJobWorker : public Napi::AsyncProgressQueueWorker<FileJobProgress> {
 public:
  using Report = std::function<void(uint64_t done, uint64_t total)>;
  // Runs on a libuv worker thread.
  using Job = std::function<std::unique_ptr<Result>(const Report&)>;
  // Runs on the JS thread with the job's result.
  using ToJs = std::function<Napi::Value(Napi::Env, std::unique_ptr<Result>)>;

  // Queues the job; the promise settles when it is done.
  static Napi::Promise queue(Napi::Env env, const char* name, Napi::Function on_progress, Job job, ToJs to_js) {
    auto* w = new FileJobWorker(env, name, on_progress, std::move(job), std::move(to_js));
    Napi::Promise p = w->deferred_.Promise();
    w->Queue();
    return p;
  }

 private:
  FileJobWorker(Napi::Env env, const char* name, Napi::Function on_progress, Job job, ToJs to_js)
      : Napi::AsyncProgressQueueWorker<FileJobProgress>(env, name),
        job_(std::move(job)), to_js_(std::move(to_js)), deferred_(Napi::Promise::Deferred::New(env)) {
    if (!on_progress.IsEmpty()) on_progress_ = Napi::Persistent(on_progress);
  }

  void Execute(const ExecutionProgress& progress) override {
    try {
      result_ = job_([&](uint64_t done, uint64_t total) { progress.Send(new FileJobProgress{done, total}, 1); });
    } catch (const kvmlens::ParseError& e) {
      fail("EPARSE", e.what(), e.has_offset() ? static_cast<int64_t>(e.offset()) : -1);
    } catch (const kvmlens::SetupError& e) {
      fail("ESETUP", e.what());
    } catch (const std::bad_alloc&) {
      fail("EINTERNAL", "out of memory");
    } catch (const std::exception& e) {
      fail("EINTERNAL", e.what());
    }
  }

  void OnProgress(const FileJobProgress* p, size_t count) override {
    if (on_progress_.IsEmpty() || count == 0) return;
    Napi::Env env = Env();
    on_progress_.Call({Napi::Number::New(env, static_cast<double>(p[count - 1].done)),
                       Napi::Number::New(env, static_cast<double>(p[count - 1].total))});
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (!result_) {
      deferred_.Reject(make_error(env, message_, code_, offset_).Value());
      return;
    }
    deferred_.Resolve(to_js_(env, std::move(result_)));
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

  void fail(const char* code, std::string message, int64_t offset = -1) {
    result_.reset();
    code_ = code;
    message_ = std::move(message);
    offset_ = offset;
  }

  Job job_;
  ToJs to_js_;
  Napi::Promise::Deferred deferred_;
  Napi::FunctionReference on_progress_;
  std::unique_ptr<Result> result_;
  const char* code_ = "EINTERNAL";
  std::string message_ = "no result";
  int64_t offset_ = -1;
};

}  // namespace kvmlens_addon
