// Bounds-checked little-endian reads over a byte range; every failure is a
// ParseError carrying the absolute file offset of the read.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>

#include "core/errors.h"

namespace kvmlens {

class ByteCursor {
 public:
  ByteCursor(const uint8_t* base, uint64_t begin, uint64_t end, const char* what)
      : base_(base), pos_(begin), end_(end), what_(what) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return end_ - pos_; }

  void need(uint64_t n) const {
    if (n > end_ - pos_)
      throw ParseError(std::string(what_) + ": needs " + std::to_string(n) + " bytes, only " +
                           std::to_string(end_ - pos_) + " remain",
                       pos_);
  }
  template <class T>
  T read() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, base_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  void skip(uint64_t n) {
    need(n);
    pos_ += n;
  }
  // perf_header_string: u32 length, then that many bytes, NUL padded.
  std::string header_string() {
    uint32_t len = read<uint32_t>();
    need(len);
    const char* s = reinterpret_cast<const char*>(base_ + pos_);
    pos_ += len;
    return std::string(s, strnlen(s, len));
  }

 private:
  const uint8_t* base_;
  uint64_t pos_, end_;
  const char* what_;
};

}  // namespace kvmlens
