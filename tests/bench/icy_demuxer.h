// ICY metadata on the viewer's side: finds `icy-metaint` in a response head, and takes the
// metadata blocks out of what the viewer reads so that only stream bytes reach its verifier.
// Pure code, no I/O and no allocation: a small state machine per viewer, fed any split.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace ringcast::bench {

// What a title update sets: "bench title N" (N = 1, 2, ...). Blocks that carry it tell which
// update a viewer saw last.
inline constexpr char kBenchTitlePrefix[] = "bench title ";

struct IcyCounts {
  std::uint64_t blocks = 0;      // length bytes read, 0 or not
  std::uint64_t titles = 0;      // non-empty blocks: the relay sent a title (a change for it)
  std::uint64_t bad_blocks = 0;  // non-empty blocks that are not `StreamTitle='...';` + NULs

  void add(const IcyCounts& other);
};

// After every `metaint` stream bytes one block: a length byte L, then 16 * L bytes holding
// `StreamTitle='...';` (more fields may follow) padded with NULs. L = 0: no change.
class IcyDemuxer {
 public:
  IcyDemuxer() = default;  // metaint 0: every byte is stream
  explicit IcyDemuxer(std::uint32_t metaint) : metaint_(metaint), until_block_(metaint) {}

  // Consumes the metadata at the front of `bytes` and returns the stream bytes that follow it
  // up to the next block or the end, leaving `bytes` after them. Empty only once `bytes` is.
  std::span<const std::uint8_t> next(std::span<const std::uint8_t>& bytes);

  std::uint32_t metaint() const { return metaint_; }
  const IcyCounts& counts() const { return counts_; }
  // N of the last block that held "bench title N"; 0 if none has, or the last title was
  // another one (a relay's own, an empty one) or malformed.
  std::uint32_t last_bench_title() const { return last_bench_title_; }

 private:
  enum class Phase : std::uint8_t { kStream, kLength, kBody };
  // Where a block's body is: the `StreamTitle='` prefix, the title (with its bench prefix and
  // number), a quote that may close it, past the `';`, or malformed.
  enum class Body : std::uint8_t { kPrefix, kTitle, kQuote, kRest, kBad };

  void body_byte(std::uint8_t c);
  void end_block();

  IcyCounts counts_;
  std::uint32_t metaint_ = 0;
  std::uint32_t until_block_ = 0;  // stream bytes before the next length byte
  std::uint32_t title_number_ = 0;
  std::uint32_t last_bench_title_ = 0;
  std::uint16_t body_left_ = 0;  // at most 255 * 16
  std::uint8_t matched_ = 0;     // of the prefix, or of kBenchTitlePrefix in the title
  Phase phase_ = Phase::kStream;
  Body body_ = Body::kPrefix;
  bool bench_title_ = false;  // the title so far is kBenchTitlePrefix and digits
};

// The `icy-metaint: N` header of a response head, fed byte by byte (case-insensitive name,
// optional blanks). Neither the status line nor any other header can match.
class MetaintScanner {
 public:
  void feed(char c);
  // The first such header's value, if one had a number in 1..2^31 and nothing else.
  std::optional<std::uint32_t> metaint() const {
    return metaint_ != 0 ? std::optional(metaint_) : std::nullopt;
  }

 private:
  enum class Line : std::uint8_t { kName, kValue, kSkip };
  void end_line();

  std::uint32_t metaint_ = 0;
  std::uint32_t value_ = 0;   // digits of this line's value so far
  std::uint8_t matched_ = 0;  // of "icy-metaint:" at the start of this line
  Line line_ = Line::kName;
  bool digits_ = false;    // this line's value has a digit
  bool trailing_ = false;  // and a blank after it: only blanks may follow
};

}  // namespace ringcast::bench
