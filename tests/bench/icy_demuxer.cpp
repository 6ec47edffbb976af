// ICY metadata blocks out of a viewer's bytes, and icy-metaint out of its response head.
#include "icy_demuxer.h"

#include <algorithm>
#include <utility>

namespace ringcast::bench {
namespace {

constexpr char kStreamTitle[] = "StreamTitle='";
constexpr std::size_t kStreamTitleLength = sizeof kStreamTitle - 1;
constexpr std::size_t kBenchTitlePrefixLength = sizeof kBenchTitlePrefix - 1;
constexpr char kMetaintHeader[] = "icy-metaint:";
constexpr std::size_t kMetaintHeaderLength = sizeof kMetaintHeader - 1;
constexpr std::uint32_t kMaxMetaint = 1u << 31;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

}  // namespace

void IcyCounts::add(const IcyCounts& other) {
  blocks += other.blocks;
  titles += other.titles;
  bad_blocks += other.bad_blocks;
}

std::span<const std::uint8_t> IcyDemuxer::next(std::span<const std::uint8_t>& bytes) {
  while (!bytes.empty()) {
    switch (phase_) {
      case Phase::kStream: {
        if (metaint_ == 0) return std::exchange(bytes, {});
        // until_block_ > 0 here: it is set to metaint_ whenever the phase becomes kStream.
        const std::size_t n = std::min<std::size_t>(until_block_, bytes.size());
        const std::span<const std::uint8_t> stream = bytes.first(n);
        bytes = bytes.subspan(n);
        until_block_ -= static_cast<std::uint32_t>(n);
        if (until_block_ == 0) phase_ = Phase::kLength;
        return stream;
      }
      case Phase::kLength: {
        const std::uint8_t length = bytes.front();
        bytes = bytes.subspan(1);
        ++counts_.blocks;
        if (length == 0) {
          phase_ = Phase::kStream;
          until_block_ = metaint_;
          break;
        }
        ++counts_.titles;
        body_left_ = static_cast<std::uint16_t>(length * 16);
        body_ = Body::kPrefix;
        matched_ = 0;
        title_number_ = 0;
        bench_title_ = true;
        phase_ = Phase::kBody;
        break;
      }
      case Phase::kBody: {
        const std::size_t n = std::min<std::size_t>(body_left_, bytes.size());
        for (std::size_t i = 0; i < n; ++i) body_byte(bytes[i]);
        bytes = bytes.subspan(n);
        body_left_ = static_cast<std::uint16_t>(body_left_ - n);
        if (body_left_ == 0) {
          end_block();
          phase_ = Phase::kStream;
          until_block_ = metaint_;
        }
        break;
      }
    }
  }
  return {};
}

void IcyDemuxer::body_byte(std::uint8_t byte) {
  const char c = static_cast<char>(byte);
  switch (body_) {
    case Body::kPrefix:
      if (c != kStreamTitle[matched_]) {
        body_ = Body::kBad;
      } else if (++matched_ == kStreamTitleLength) {
        body_ = Body::kTitle;
        matched_ = 0;
      }
      return;
    case Body::kQuote:
      if (c == ';') {
        body_ = Body::kRest;
        return;
      }
      bench_title_ = false;  // the quote was the title's own: no bench title has one
      if (c == '\'') return;
      body_ = Body::kTitle;
      return;
    case Body::kTitle:
      if (c == '\'') {
        body_ = Body::kQuote;
        return;
      }
      if (!bench_title_) return;
      if (matched_ < kBenchTitlePrefixLength) {
        bench_title_ = c == kBenchTitlePrefix[matched_++];
        return;
      }
      bench_title_ = is_digit(c) && title_number_ < 100'000'000;
      if (bench_title_) title_number_ = title_number_ * 10 + static_cast<std::uint32_t>(c - '0');
      return;
    case Body::kRest:  // further fields (StreamUrl='...';) and the NUL padding
    case Body::kBad:
      return;
  }
}

void IcyDemuxer::end_block() {
  if (body_ != Body::kRest) {  // not `StreamTitle='`, or the title never closed with `';`
    ++counts_.bad_blocks;
    last_bench_title_ = 0;
    return;
  }
  const bool numbered = bench_title_ && matched_ == kBenchTitlePrefixLength && title_number_ > 0;
  last_bench_title_ = numbered ? title_number_ : 0;
}

void MetaintScanner::feed(char c) {
  if (c == '\n') return end_line();
  switch (line_) {
    case Line::kName: {
      const char lower = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
      if (lower != kMetaintHeader[matched_]) {
        line_ = Line::kSkip;
      } else if (++matched_ == kMetaintHeaderLength) {
        line_ = Line::kValue;
      }
      return;
    }
    case Line::kValue:
      if (c == ' ' || c == '\t') {
        trailing_ = digits_;
        return;
      }
      if (c == '\r') return;
      if (!is_digit(c) || trailing_ || value_ > kMaxMetaint / 10) {
        line_ = Line::kSkip;
        return;
      }
      value_ = value_ * 10 + static_cast<std::uint32_t>(c - '0');
      digits_ = true;
      return;
    case Line::kSkip:
      return;
  }
}

void MetaintScanner::end_line() {
  if (line_ == Line::kValue && digits_ && metaint_ == 0 && value_ > 0 && value_ <= kMaxMetaint) {
    metaint_ = value_;
  }
  line_ = Line::kName;
  matched_ = 0;
  value_ = 0;
  digits_ = false;
  trailing_ = false;
}

}  // namespace ringcast::bench
