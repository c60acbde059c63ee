// Errors raised by the native core. Every parser throws ParseError with the
// byte offset it was reading, so the CLI can say "FILE: offset N: what".
// Nothing in the core aborts or exits: the addon turns these into JS errors.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

namespace kvmlens {

class ParseError : public std::runtime_error {
 public:
  static constexpr uint64_t kNoOffset = ~0ULL;
  explicit ParseError(const std::string& what, uint64_t offset = kNoOffset)
      : std::runtime_error(what), offset_(offset) {}
  uint64_t offset() const { return offset_; }
  bool has_offset() const { return offset_ != kNoOffset; }

 private:
  uint64_t offset_;
};

// An environment problem (permissions, tracefs, limits) with the fix in the text.
class SetupError : public std::runtime_error {
 public:
  explicit SetupError(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace kvmlens
