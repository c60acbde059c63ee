#include "profile/perf_symbol_tree.h"

namespace kvmlens {
namespace profile {

int32_t PerfSymbolTree::insert(uint64_t start, uint64_t end) {
  const int32_t id = static_cast<int32_t>(nodes_.size());
  Node n;
  n.start = start;
  n.end = end;
  int32_t parent = kNone;
  bool left = false;
  for (int32_t p = root_; p != kNone;) {
    parent = p;
    left = start < at(p).start;
    p = left ? at(p).left : at(p).right;
  }
  n.parent = parent;
  nodes_.push_back(n);
  if (parent == kNone) root_ = id;
  else if (left) at(parent).left = id;
  else at(parent).right = id;
  insert_color(id);
  return id;
}

int32_t PerfSymbolTree::find(uint64_t addr) const {
  for (int32_t id = root_; id != kNone;) {
    const Node& n = nodes_[static_cast<size_t>(id)];
    if (addr < n.start) id = n.left;
    else if (addr > n.end || (addr == n.end && addr != n.start)) id = n.right;
    else return id;
  }
  return kNone;
}

bool PerfSymbolTree::valid() const {
  bool ok = root_ == kNone || !nodes_[static_cast<size_t>(root_)].red;
  black_height(root_, kNone, 0, kNone, ~0ULL, kNone, &ok);
  return ok;
}

// Keys in the subtree lie in [lo, hi]; a key equal to lo must come from a
// later insertion than lo_id, one equal to hi from an earlier one than hi_id.
int PerfSymbolTree::black_height(int32_t id, int32_t parent, uint64_t lo, int32_t lo_id, uint64_t hi, int32_t hi_id,
                                 bool* ok) const {
  if (id == kNone) return 1;
  const Node& n = nodes_[static_cast<size_t>(id)];
  if (n.parent != parent) *ok = false;
  if (n.start < lo || n.start > hi) *ok = false;
  if (lo_id != kNone && n.start == lo && id < lo_id) *ok = false;
  if (hi_id != kNone && n.start == hi && id > hi_id) *ok = false;
  if (n.red && (is_red(n.left) || is_red(n.right))) *ok = false;
  const int l = black_height(n.left, id, lo, lo_id, n.start, id, ok);
  const int r = black_height(n.right, id, n.start, id, hi, hi_id, ok);
  if (l != r) *ok = false;
  return l + (n.red ? 0 : 1);
}

void PerfSymbolTree::change_child(int32_t old_child, int32_t new_child, int32_t parent) {
  if (parent == kNone) root_ = new_child;
  else if (at(parent).left == old_child) at(parent).left = new_child;
  else at(parent).right = new_child;
}

// new_top takes old_top's place (parent and colour); old_top hangs below it
// with the colour given.
void PerfSymbolTree::rotate_set_parents(int32_t old_top, int32_t new_top, bool old_top_red) {
  Node& o = at(old_top);
  Node& n = at(new_top);
  const int32_t parent = o.parent;
  n.parent = parent;
  n.red = o.red;
  o.parent = new_top;
  o.red = old_top_red;
  change_child(old_top, new_top, parent);
}

void PerfSymbolTree::insert_color(int32_t node) {
  int32_t parent = at(node).parent;
  for (;;) {
    if (parent == kNone) {  // the root is black
      at(node).red = false;
      return;
    }
    if (!at(parent).red) return;
    const int32_t gparent = at(parent).parent;  // exists: a red node is never the root
    int32_t tmp = at(gparent).right;
    if (parent != tmp) {  // parent is gparent's left child
      if (is_red(tmp)) {  // red uncle: flip colours, go up two levels
        at(tmp).red = false;
        at(parent).red = false;
        node = gparent;
        parent = at(node).parent;
        at(node).red = true;
        continue;
      }
      tmp = at(parent).right;
      if (node == tmp) {  // node is an inner grandchild: rotate left at parent
        tmp = at(node).left;
        at(parent).right = tmp;
        at(node).left = parent;
        if (tmp != kNone) {
          at(tmp).parent = parent;
          at(tmp).red = false;
        }
        at(parent).parent = node;
        at(parent).red = true;
        parent = node;
        tmp = at(node).right;
      }
      // Rotate right at gparent.
      at(gparent).left = tmp;
      at(parent).right = gparent;
      if (tmp != kNone) {
        at(tmp).parent = gparent;
        at(tmp).red = false;
      }
      rotate_set_parents(gparent, parent, true);
      return;
    }
    tmp = at(gparent).left;  // parent is gparent's right child: the mirror image
    if (is_red(tmp)) {
      at(tmp).red = false;
      at(parent).red = false;
      node = gparent;
      parent = at(node).parent;
      at(node).red = true;
      continue;
    }
    tmp = at(parent).left;
    if (node == tmp) {
      tmp = at(node).right;
      at(parent).left = tmp;
      at(node).right = parent;
      if (tmp != kNone) {
        at(tmp).parent = parent;
        at(tmp).red = false;
      }
      at(parent).parent = node;
      at(parent).red = true;
      parent = node;
      tmp = at(node).left;
    }
    at(gparent).right = tmp;
    at(parent).left = gparent;
    if (tmp != kNone) {
      at(tmp).parent = gparent;
      at(tmp).red = false;
    }
    rotate_set_parents(gparent, parent, true);
    return;
  }
}

void PerfSymbolTree::erase(int32_t node) {
  Node& n = at(node);
  const int32_t child = n.right;
  int32_t tmp = n.left;
  int32_t rebalance = kNone;
  if (tmp == kNone) {  // no left child: the right one (or nothing) takes its place
    const int32_t parent = n.parent;
    const bool red = n.red;
    change_child(node, child, parent);
    if (child != kNone) {
      at(child).parent = parent;
      at(child).red = red;
    } else if (!red) {
      rebalance = parent;
    }
  } else if (child == kNone) {  // only a left child (red): it takes the place and colour
    const int32_t parent = n.parent;
    at(tmp).parent = parent;
    at(tmp).red = n.red;
    change_child(node, tmp, parent);
  } else {  // two children: the successor (leftmost of the right subtree) takes the place
    int32_t successor = child, parent, child2;
    tmp = at(child).left;
    if (tmp == kNone) {
      parent = successor;
      child2 = at(successor).right;
    } else {
      do {
        parent = successor;
        successor = tmp;
        tmp = at(tmp).left;
      } while (tmp != kNone);
      child2 = at(successor).right;
      at(parent).left = child2;
      at(successor).right = child;
      at(child).parent = successor;
    }
    tmp = n.left;
    at(successor).left = tmp;
    at(tmp).parent = successor;
    const int32_t node_parent = n.parent;
    const bool node_red = n.red;
    change_child(node, successor, node_parent);
    if (child2 != kNone) {
      at(child2).parent = parent;
      at(child2).red = false;
    } else if (!at(successor).red) {
      rebalance = parent;
    }
    at(successor).parent = node_parent;
    at(successor).red = node_red;
  }
  n.left = n.right = n.parent = kNone;
  if (rebalance != kNone) erase_color(rebalance);
}

// The removed node left its side of `parent` one black short.
void PerfSymbolTree::erase_color(int32_t parent) {
  int32_t node = kNone, sibling, tmp1, tmp2;
  for (;;) {
    sibling = at(parent).right;
    if (node != sibling) {  // node is the left child (or the empty left slot)
      if (at(sibling).red) {  // red sibling: rotate left at parent
        tmp1 = at(sibling).left;
        at(parent).right = tmp1;
        at(sibling).left = parent;
        at(tmp1).parent = parent;
        at(tmp1).red = false;
        rotate_set_parents(parent, sibling, true);
        sibling = tmp1;
      }
      tmp1 = at(sibling).right;
      if (!is_red(tmp1)) {
        tmp2 = at(sibling).left;
        if (!is_red(tmp2)) {  // black nephews: sibling turns red, the shortage moves up
          at(sibling).parent = parent;
          at(sibling).red = true;
          if (at(parent).red) {
            at(parent).red = false;
          } else {
            node = parent;
            parent = at(node).parent;
            if (parent != kNone) continue;
          }
          return;
        }
        // Inner nephew red: rotate right at sibling.
        tmp1 = at(tmp2).right;
        at(sibling).left = tmp1;
        at(tmp2).right = sibling;
        at(parent).right = tmp2;
        if (tmp1 != kNone) {
          at(tmp1).parent = sibling;
          at(tmp1).red = false;
        }
        tmp1 = sibling;
        sibling = tmp2;
      }
      // Outer nephew red: rotate left at parent.
      tmp2 = at(sibling).left;
      at(parent).right = tmp2;
      at(sibling).left = parent;
      at(tmp1).parent = sibling;
      at(tmp1).red = false;
      if (tmp2 != kNone) at(tmp2).parent = parent;
      rotate_set_parents(parent, sibling, false);
      return;
    }
    sibling = at(parent).left;  // node is the right child: the mirror image
    if (at(sibling).red) {
      tmp1 = at(sibling).right;
      at(parent).left = tmp1;
      at(sibling).right = parent;
      at(tmp1).parent = parent;
      at(tmp1).red = false;
      rotate_set_parents(parent, sibling, true);
      sibling = tmp1;
    }
    tmp1 = at(sibling).left;
    if (!is_red(tmp1)) {
      tmp2 = at(sibling).right;
      if (!is_red(tmp2)) {
        at(sibling).parent = parent;
        at(sibling).red = true;
        if (at(parent).red) {
          at(parent).red = false;
        } else {
          node = parent;
          parent = at(node).parent;
          if (parent != kNone) continue;
        }
        return;
      }
      tmp1 = at(tmp2).left;
      at(sibling).right = tmp1;
      at(tmp2).left = sibling;
      at(parent).left = tmp2;
      if (tmp1 != kNone) {
        at(tmp1).parent = sibling;
        at(tmp1).red = false;
      }
      tmp1 = sibling;
      sibling = tmp2;
    }
    tmp2 = at(sibling).right;
    at(parent).left = tmp2;
    at(sibling).right = parent;
    at(tmp1).parent = sibling;
    at(tmp1).red = false;
    if (tmp2 != kNone) at(tmp2).parent = parent;
    rotate_set_parents(parent, sibling, false);
    return;
  }
}

}  // namespace profile
}  // namespace kvmlens
