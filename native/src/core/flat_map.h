// A small open-addressing hash map (linear probing, power-of-two capacity)
// for the hot path: lookups touch one cache line, and memory is allocated
// only when the table grows, never per lookup.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace kvmlens {

template <class Key, class Value, class Hash>
class FlatMap {
 public:
  explicit FlatMap(size_t initial_capacity = 64) { slots_.resize(round_up(initial_capacity)); }

  // Returns the value for `key`, inserting `fresh` if absent.
  Value& find_or_insert(const Key& key, const Value& fresh, bool* inserted = nullptr) {
    if ((size_ + 1) * 4 > slots_.size() * 3) grow();
    size_t mask = slots_.size() - 1;
    for (size_t i = Hash()(key) & mask;; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (!s.used) {
        s.used = true;
        s.key = key;
        s.value = fresh;
        size_++;
        if (inserted) *inserted = true;
        return s.value;
      }
      if (s.key == key) {
        if (inserted) *inserted = false;
        return s.value;
      }
    }
  }

  Value* find(const Key& key) {
    size_t mask = slots_.size() - 1;
    for (size_t i = Hash()(key) & mask;; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (!s.used) return nullptr;
      if (s.key == key) return &s.value;
    }
  }

  size_t size() const { return size_; }

  template <class F>
  void for_each(F f) {
    for (Slot& s : slots_)
      if (s.used) f(s.key, s.value);
  }

 private:
  struct Slot {
    bool used = false;
    Key key{};
    Value value{};
  };

  static size_t round_up(size_t n) {
    size_t c = 16;
    while (c < n) c <<= 1;
    return c;
  }

  void grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.resize(old.size() * 2);
    size_ = 0;
    for (Slot& s : old)
      if (s.used) find_or_insert(s.key, s.value);
  }

  std::vector<Slot> slots_;
  size_t size_ = 0;
};

inline uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

}  // namespace kvmlens
