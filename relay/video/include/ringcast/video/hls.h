// HLS over the ring: segments cut at keyframes as byte ranges of the stream, the live media
// playlist that lists them (RFC 8216) and the request paths that name them. Pure: positions,
// PTS and wall times in; no I/O, no clock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ringcast/core/fixed_ring.h"

namespace ringcast::relay {

// The ring bytes [from, to) (absolute positions), starting at a keyframe's TS packet.
struct HlsSegment {
  std::uint64_t sequence;  // EXT-X-MEDIA-SEQUENCE numbering: +1 per closed segment, forever
  std::uint64_t from;
  std::uint64_t to;
  std::uint32_t duration_ms;
  std::uint64_t start_wall_ms;  // unix ms of its first keyframe (EXT-X-PROGRAM-DATE-TIME)
  bool discontinuity;           // the first segment after a source change or reset()
  // Segments with discontinuity set closed so far, this one included: its RFC 8216
  // Discontinuity Sequence Number when a discontinuity tag precedes every flagged segment.
  std::uint64_t discontinuity_sequence;
  bool operator==(const HlsSegment&) const = default;
};

// Cuts segments at keyframes and keeps the newest `capacity` of them in a fixed ring; nothing is
// allocated after construction. One thread (the ring's writer) calls everything here.
class HlsSegmenter {
 public:
  // Throws std::invalid_argument when target_ms or capacity is 0.
  explicit HlsSegmenter(std::uint32_t target_ms = 2000, std::size_t capacity = 256);

  // A keyframe at `position`, after the previous one's. It opens a segment when none is open;
  // else it closes the open one at `position` once that is at least 95% of the target long
  // (by PTS when both keyframes have one and it moved less than 60 s, else by wall time), and
  // opens the next there.
  void on_keyframe(std::uint64_t position, std::optional<std::uint64_t> pts_90k,
                   std::uint64_t wall_ms);
  // The source's bytes end at `end_position` (a packet boundary): the open segment is closed
  // there if it holds bytes and lasted some wall time, and the next one opened is flagged as a
  // discontinuity.
  void on_source_change(std::uint64_t end_position, std::uint64_t wall_ms);
  // Drops the held and the open segments; sequence numbers go on, and the next segment is
  // flagged as a discontinuity (what comes next does not follow what a player may have seen).
  void reset();

  std::size_t size() const { return segments_.size(); }
  const HlsSegment& at(std::size_t i) const;  // 0: the oldest held; i < size()
  std::optional<HlsSegment> find(std::uint64_t sequence) const;
  std::uint32_t longest_ms() const;  // among the held segments; 0 when none
  std::uint32_t target_ms() const { return target_ms_; }

 private:
  void close(std::uint64_t to, std::uint32_t duration_ms);

  std::uint32_t target_ms_;
  // The open segment, from its first keyframe.
  bool open_ = false;
  std::uint64_t open_from_ = 0;
  std::optional<std::uint64_t> open_pts_;
  std::uint64_t open_wall_ms_ = 0;
  bool open_discontinuity_ = false;
  bool next_discontinuity_ = false;  // for the next segment opened

  std::uint64_t next_sequence_ = 0;
  std::uint64_t discontinuities_ = 0;  // flagged segments closed, ever
  // The ring, oldest first. Held sequences are
  // consecutive (reset() empties it), so find() is an index.
  FixedRing<HlsSegment> segments_;
};

// The held segments that start at or after `min_from` (the ring's oldest byte, say): the newest
// run of them, oldest first.
std::vector<HlsSegment> listable_segments(const HlsSegmenter& segmenter, std::uint64_t min_from);

// A live media playlist (no EXT-X-ENDLIST) listing `segments` as <segment_prefix><sequence>.ts.
// EXT-X-TARGETDURATION is the larger of ceil(target_ms) and the longest segment rounded to the
// nearest second (RFC 8216 §4.3.3.1). A discontinuity tag precedes each flagged segment but the
// first listed one, whose flag is carried instead by EXT-X-DISCONTINUITY-SEQUENCE, which is the
// first segment's discontinuity_sequence (the line is left out when that is 0).
std::string render_media_playlist(std::span<const HlsSegment> segments, std::uint32_t target_ms,
                                  std::string_view segment_prefix);

// "2026-12-02T13:42:47.123Z" for unix ms (UTC, as EXT-X-PROGRAM-DATE-TIME wants it).
std::string format_program_date_time(std::uint64_t unix_ms);

// "123.ts" gives 123: decimal digits without sign or leading zero ("0.ts" is 0), at most 19.
std::optional<std::uint64_t> parse_segment_name(std::string_view name);

// A request path under a mount: "<mount>/index.m3u8" or "<mount>/<sequence>.ts".
struct HlsPath {
  enum class Kind { playlist, segment };
  std::string mount;  // "/live.ts": not empty, not "/"
  Kind kind;
  std::uint64_t sequence = 0;  // for a segment
  bool operator==(const HlsPath&) const = default;
};
std::optional<HlsPath> parse_hls_path(std::string_view path);

// The value of ?rewind=SECONDS, already percent-decoded: a plain decimal number of seconds from
// 0 to 86400 ("12", "2.5"); nullopt for anything else (empty, signs, exponents, "nan", junk).
std::optional<double> parse_rewind_seconds(std::string_view value);

}  // namespace ringcast::relay
