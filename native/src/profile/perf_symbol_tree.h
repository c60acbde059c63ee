// The shape of perf's symbol tree, for lookups where symbols overlap.
//
// perf keeps a DSO's symbols in a red-black tree ordered by start address
// and looks an address up by walking it from the root, returning the first
// symbol on the path that contains the address. Where symbols overlap the
// answer therefore depends on the tree's shape. They do overlap in every
// unstripped executable: perf stretches the zero-sized `_init` to the next
// .symtab symbol (over .plt and .plt.got) before it adds the NAME@plt
// symbols, and perf 6.1 then names some PLT addresses `_init` and others
// NAME@plt. To answer as perf does, this tree replays perf's insertions and
// erasures with the same red-black algorithm (the classic one Linux's
// lib/rbtree.c implements: same cases, same rotations, so the same shape).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace kvmlens {
namespace profile {

class PerfSymbolTree {
 public:
  static constexpr int32_t kNone = -1;

  // perf's __symbols__insert: a new node keyed by `start` (equal keys go
  // right, so after the existing ones in order). Returns its id (0, 1, ...).
  int32_t insert(uint64_t start, uint64_t end);
  // perf's rb_erase of a symbol (symbols__fixup_duplicate).
  void erase(int32_t id);
  void set_end(int32_t id, uint64_t end) { nodes_[static_cast<size_t>(id)].end = end; }
  // perf's symbols__find: the first node on the search path containing
  // addr ([start, end), or start itself for a zero-sized symbol), or kNone.
  int32_t find(uint64_t addr) const;

  size_t size() const { return nodes_.size(); }
  // A valid red-black tree (tests): ordered with equal keys in insertion
  // order, parents consistent, black root, no red node with a red child,
  // the same number of black nodes on every path.
  bool valid() const;
  void clear() {
    nodes_.clear();
    root_ = kNone;
  }

 private:
  struct Node {
    uint64_t start, end;
    int32_t left = kNone, right = kNone, parent = kNone;
    bool red = true;
  };
  Node& at(int32_t id) { return nodes_[static_cast<size_t>(id)]; }
  bool is_red(int32_t id) const { return id != kNone && nodes_[static_cast<size_t>(id)].red; }
  void change_child(int32_t old_child, int32_t new_child, int32_t parent);
  void rotate_set_parents(int32_t old_top, int32_t new_top, bool old_top_red);
  void insert_color(int32_t node);
  void erase_color(int32_t parent);
  int black_height(int32_t id, int32_t parent, uint64_t lo, int32_t lo_id, uint64_t hi, int32_t hi_id, bool* ok) const;

  std::vector<Node> nodes_;
  int32_t root_ = kNone;
};

}  // namespace profile
}  // namespace kvmlens
