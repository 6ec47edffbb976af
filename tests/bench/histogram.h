// A fixed-bucket log-linear histogram (HdrHistogram's layout, simplified): recording is one
// array increment, no allocation, so it can sit on the per-record path of thousands of viewers.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace ringcast::bench {

// Values below 2^kSubBucketBits get a bucket each; above, each power of two is split into
// 2^kSubBucketBits buckets, so a bucket's width is at most 1/32 (3.1 %) of its value.
// Values at or above 2^kMaxBits (about 73 minutes in ns) land in the last bucket.
class Histogram {
 public:
  static constexpr unsigned kSubBucketBits = 5;
  static constexpr unsigned kMaxBits = 42;
  static constexpr std::size_t kBuckets = (kMaxBits - kSubBucketBits + 1) << kSubBucketBits;

  void record(std::uint64_t value) {
    ++counts_[bucket_of(value)];
    ++total_;
    if (value > max_) max_ = value;
  }

  void add_bucket(std::size_t index, std::uint64_t count, std::uint64_t max_value) {
    counts_[index] += count;
    total_ += count;
    if (max_value > max_) max_ = max_value;
  }

  void merge(const Histogram& other) {
    for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
    total_ += other.total_;
    if (other.max_ > max_) max_ = other.max_;
  }

  std::uint64_t count() const { return total_; }
  std::uint64_t max() const { return max_; }
  std::uint64_t bucket_count(std::size_t index) const { return counts_[index]; }

  // The upper bound of the bucket holding the q-th quantile (0 < q <= 1), capped at max().
  std::uint64_t percentile(double q) const {
    if (total_ == 0) return 0;
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total_) + 0.5);
    if (rank < 1) rank = 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) return upper_bound_of(i) < max_ ? upper_bound_of(i) : max_;
    }
    return max_;
  }

  static std::size_t bucket_of(std::uint64_t value) {
    constexpr std::uint64_t kLimit = (std::uint64_t{1} << kMaxBits) - 1;
    if (value > kLimit) value = kLimit;
    if (value < (std::uint64_t{2} << kSubBucketBits)) return static_cast<std::size_t>(value);
    const unsigned shift = static_cast<unsigned>(std::bit_width(value)) - 1 - kSubBucketBits;
    return (std::size_t{shift} << kSubBucketBits) + static_cast<std::size_t>(value >> shift);
  }

  static std::uint64_t upper_bound_of(std::size_t index) {
    if (index < (std::size_t{2} << kSubBucketBits)) return index;
    const std::size_t shift = (index >> kSubBucketBits) - 1;
    const std::uint64_t mantissa = (index & ((1u << kSubBucketBits) - 1)) + (1u << kSubBucketBits);
    return ((mantissa + 1) << shift) - 1;
  }

 private:
  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
};

}  // namespace ringcast::bench
