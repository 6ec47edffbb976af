// HLS segmenting (cut at keyframes, measured by PTS or wall time), the segment ring, the live
// media playlist (RFC 8216 §4.3) and the parsing of playlist and segment paths.
#include "ringcast/video/hls.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <limits>
#include <stdexcept>

namespace ringcast::relay {

namespace {

constexpr std::uint64_t kPtsMask = (std::uint64_t{1} << 33) - 1;  // PTS is 33 bits and wraps
constexpr std::uint64_t kMaxPtsStepMs = 60'000;  // a longer PTS step is a jump, not a GOP

std::uint32_t clamp_ms(std::uint64_t ms) {
  return static_cast<std::uint32_t>(
      std::min<std::uint64_t>(ms, std::numeric_limits<std::uint32_t>::max()));
}

// `value` in decimal, zero-padded to `width` digits.
void append_number(std::string& out, std::uint64_t value, std::size_t width = 1) {
  char digits[20];
  const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  const auto length = static_cast<std::size_t>(end - digits);
  if (length < width) out.append(width - length, '0');
  out.append(digits, length);
}

// ISO 8601 UTC with milliseconds, by calendar arithmetic on sys_days: no locale, no gmtime's
// static buffer.
void append_date_time(std::string& out, std::uint64_t unix_ms) {
  using namespace std::chrono;
  const sys_time<milliseconds> time{milliseconds{static_cast<std::int64_t>(unix_ms)}};
  const sys_days day = floor<days>(time);
  const year_month_day date{day};
  const hh_mm_ss clock{time - day};
  append_number(out, static_cast<std::uint64_t>(static_cast<int>(date.year())), 4);
  out += '-';
  append_number(out, static_cast<unsigned>(date.month()), 2);
  out += '-';
  append_number(out, static_cast<unsigned>(date.day()), 2);
  out += 'T';
  append_number(out, static_cast<std::uint64_t>(clock.hours().count()), 2);
  out += ':';
  append_number(out, static_cast<std::uint64_t>(clock.minutes().count()), 2);
  out += ':';
  append_number(out, static_cast<std::uint64_t>(clock.seconds().count()), 2);
  out += '.';
  append_number(out, static_cast<std::uint64_t>(clock.subseconds().count()), 3);
  out += 'Z';
}

}  // namespace

HlsSegmenter::HlsSegmenter(std::uint32_t target_ms, std::size_t capacity)
    : target_ms_(target_ms), segments_(capacity) {
  if (target_ms == 0) throw std::invalid_argument("HLS target duration must be at least 1 ms");
  if (capacity == 0) throw std::invalid_argument("HLS segment capacity must be at least 1");
}

void HlsSegmenter::on_keyframe(std::uint64_t position, std::optional<std::uint64_t> pts_90k,
                               std::uint64_t wall_ms) {
  if (open_) {
    assert(position > open_from_ && "keyframes arrive in stream order");
    if (position <= open_from_) return;
    std::uint64_t duration = wall_ms > open_wall_ms_ ? wall_ms - open_wall_ms_ : 0;
    if (pts_90k && open_pts_) {
      const std::uint64_t by_pts = (((*pts_90k - *open_pts_) & kPtsMask) + 45) / 90;
      if (by_pts <= kMaxPtsStepMs) duration = by_pts;
    }
    // 95%: a GOP of the target, give or take the rounding of PTS or of the clock, is one segment.
    if (duration * 100 < std::uint64_t{target_ms_} * 95) return;
    close(position, clamp_ms(duration));
  }
  open_ = true;
  open_from_ = position;
  open_pts_ = pts_90k;
  open_wall_ms_ = wall_ms;
  open_discontinuity_ = next_discontinuity_;
  next_discontinuity_ = false;
}

void HlsSegmenter::on_source_change(std::uint64_t end_position, std::uint64_t wall_ms) {
  // An empty or timeless segment would be an EXTINF of nothing: a player could stall on it.
  if (open_ && end_position > open_from_ && wall_ms > open_wall_ms_) {
    close(end_position, clamp_ms(wall_ms - open_wall_ms_));
  }
  open_ = false;
  next_discontinuity_ = true;
}

void HlsSegmenter::reset() {
  open_ = false;
  segments_.clear();
  next_discontinuity_ = true;
}

void HlsSegmenter::close(std::uint64_t to, std::uint32_t duration_ms) {
  if (open_discontinuity_) ++discontinuities_;
  const HlsSegment segment{next_sequence_++,    open_from_,      to, duration_ms, open_wall_ms_,
                           open_discontinuity_, discontinuities_};
  segments_.push(segment);
  open_ = false;
}

const HlsSegment& HlsSegmenter::at(std::size_t i) const { return segments_.at(i); }

std::optional<HlsSegment> HlsSegmenter::find(std::uint64_t sequence) const {
  if (segments_.size() == 0) return std::nullopt;
  const std::uint64_t oldest = at(0).sequence;
  if (sequence < oldest || sequence - oldest >= segments_.size()) return std::nullopt;
  return at(static_cast<std::size_t>(sequence - oldest));
}

std::uint32_t HlsSegmenter::longest_ms() const {
  std::uint32_t longest = 0;
  for (std::size_t i = 0; i < segments_.size(); ++i) longest = std::max(longest, at(i).duration_ms);
  return longest;
}

std::vector<HlsSegment> listable_segments(const HlsSegmenter& segmenter, std::uint64_t min_from) {
  // Positions grow with sequence: walking back from the newest, the first one too old ends it.
  std::size_t first = segmenter.size();
  while (first > 0 && segmenter.at(first - 1).from >= min_from) --first;
  std::vector<HlsSegment> out;
  out.reserve(segmenter.size() - first);
  for (std::size_t i = first; i < segmenter.size(); ++i) out.push_back(segmenter.at(i));
  return out;
}

std::string render_media_playlist(std::span<const HlsSegment> segments, std::uint32_t target_ms,
                                  std::string_view segment_prefix) {
  std::uint64_t longest_ms = 0;
  for (const auto& s : segments) longest_ms = std::max<std::uint64_t>(longest_ms, s.duration_ms);
  // Every EXTINF, rounded to the nearest second, must be at most the target (§4.3.3.1).
  const std::uint64_t target_s = std::max(
      {std::uint64_t{1}, (std::uint64_t{target_ms} + 999) / 1000, (longest_ms + 500) / 1000});

  std::string out = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:";
  append_number(out, target_s);
  out += "\n#EXT-X-MEDIA-SEQUENCE:";
  append_number(out, segments.empty() ? 0 : segments.front().sequence);
  out += '\n';
  if (!segments.empty() && segments.front().discontinuity_sequence != 0) {
    out += "#EXT-X-DISCONTINUITY-SEQUENCE:";
    append_number(out, segments.front().discontinuity_sequence);
    out += '\n';
  }
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const HlsSegment& s = segments[i];
    // The first one's tag is counted in EXT-X-DISCONTINUITY-SEQUENCE instead.
    if (s.discontinuity && i > 0) out += "#EXT-X-DISCONTINUITY\n";
    out += "#EXT-X-PROGRAM-DATE-TIME:";
    append_date_time(out, s.start_wall_ms);
    out += "\n#EXTINF:";
    append_number(out, s.duration_ms / 1000);
    out += '.';
    append_number(out, s.duration_ms % 1000, 3);
    out += ",\n";
    out += segment_prefix;
    append_number(out, s.sequence);
    out += ".ts\n";
  }
  return out;
}

std::string format_program_date_time(std::uint64_t unix_ms) {
  std::string out;
  out.reserve(24);
  append_date_time(out, unix_ms);
  return out;
}

std::optional<std::uint64_t> parse_segment_name(std::string_view name) {
  constexpr std::string_view kSuffix = ".ts";
  if (!name.ends_with(kSuffix)) return std::nullopt;
  const std::string_view digits = name.substr(0, name.size() - kSuffix.size());
  // 19 digits always fit in 64 bits; one leading zero would give a second name for a segment.
  if (digits.empty() || digits.size() > 19) return std::nullopt;
  if (digits.size() > 1 && digits.front() == '0') return std::nullopt;
  std::uint64_t value = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return value;
}

std::optional<HlsPath> parse_hls_path(std::string_view path) {
  if (!path.starts_with('/')) return std::nullopt;
  const std::size_t slash = path.rfind('/');
  const std::string_view mount = path.substr(0, slash);
  const std::string_view leaf = path.substr(slash + 1);
  if (mount.empty() || mount == "/") return std::nullopt;
  if (leaf == "index.m3u8") return HlsPath{std::string(mount), HlsPath::Kind::playlist};
  if (const auto sequence = parse_segment_name(leaf)) {
    return HlsPath{std::string(mount), HlsPath::Kind::segment, *sequence};
  }
  return std::nullopt;
}

std::optional<double> parse_rewind_seconds(std::string_view value) {
  // Digits with at most one '.', so that strtod's extras (hex, exponents, inf, nan, leading
  // blanks) never reach it.
  if (value.empty() || value.size() > 16) return std::nullopt;
  std::size_t dots = 0;
  for (char c : value) {
    if (c == '.') {
      ++dots;
    } else if (c < '0' || c > '9') {
      return std::nullopt;
    }
  }
  if (dots > 1 || value == ".") return std::nullopt;
  const std::string text(value);
  const double seconds = std::strtod(text.c_str(), nullptr);
  if (!(seconds >= 0) || seconds > 86'400) return std::nullopt;
  return seconds;
}

}  // namespace ringcast::relay
