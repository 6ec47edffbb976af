// The newest `capacity` items of a sequence, oldest first, in storage allocated once: what the
// MPEG-TS keyframe index and the HLS segment list keep. Pure; one thread.
#pragma once

#include <cassert>
#include <cstddef>
#include <vector>

namespace ringcast::relay {

template <typename T>
class FixedRing {
 public:
  explicit FixedRing(std::size_t capacity) : items_(capacity) {}

  // Appends; when full, the newest replaces the oldest.
  void push(const T& item) {
    if (size_ < items_.size()) {
      items_[(first_ + size_) % items_.size()] = item;
      ++size_;
    } else {
      items_[first_] = item;
      first_ = (first_ + 1) % items_.size();
    }
  }
  void clear() {
    first_ = 0;
    size_ = 0;
  }
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return items_.size(); }
  const T& at(std::size_t i) const {  // 0: the oldest held
    assert(i < size_);
    return items_[(first_ + i) % items_.size()];
  }

 private:
  std::vector<T> items_;
  std::size_t first_ = 0;
  std::size_t size_ = 0;
};

}  // namespace ringcast::relay
