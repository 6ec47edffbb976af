// libFuzzer target for the MPEG-TS tracker and the HLS segmenter it feeds, as the ring's writer
// drives them: for any bytes and any split into reads, the tracker's verdict (counters, tables,
// video PID, keyframes) equals that of the same bytes fed at once, every keyframe lies inside
// the stream on a packet the tracker parsed, and the segments cut from them tile the stream.
//
// Input: byte 0 holds the number of reads before the last (low 4 bits) and a starting position
// (high 4 bits: a multiple of 1 GiB, so positions need not start at 0); the next `reads` bytes
// are those reads' sizes; the rest is what the source sent, the bytes left over the last read.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "fuzz_check.h"
#include "ringcast/video/hls.h"
#include "ringcast/video/ts_tracker.h"

namespace {

using ringcast::relay::HlsSegmenter;
using ringcast::relay::TsTracker;

std::vector<TsTracker::Keyframe> keyframes(const TsTracker& tracker) {
  std::vector<TsTracker::Keyframe> out;
  for (std::size_t i = 0; i < tracker.keyframe_count(); ++i) out.push_back(tracker.keyframe_at(i));
  return out;
}

bool same_bytes(std::span<const std::byte> a, std::span<const std::byte> b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t reads = data[0] & 0x0f;
  const std::uint64_t origin = static_cast<std::uint64_t>(data[0] >> 4) << 30;
  if (size < 1 + reads) return 0;
  const auto* stream = reinterpret_cast<const std::byte*>(data + 1 + reads);
  const std::size_t length = size - 1 - reads;

  // Wall time moves 40 ms per read, as a source writing once per video frame.
  TsTracker whole(8);
  whole.reset(origin);
  whole.feed(origin, std::span(stream, length), 1000);

  TsTracker split(8);
  split.reset(origin);
  HlsSegmenter segments(100, 4);
  std::size_t at = 0;
  std::uint64_t now = 1000;
  std::uint64_t keyframes_seen = 0;
  for (std::size_t r = 0; r <= reads && at <= length; ++r) {
    const std::size_t n = r < reads ? std::min<std::size_t>(data[1 + r], length - at) : length - at;
    split.feed(origin + at, std::span(stream + at, n), now);
    at += n;
    // The writer's rule (Stream::feed_video): each new keyframe goes to the segmenter.
    const std::uint64_t fresh = split.counters().keyframes - keyframes_seen;
    keyframes_seen = split.counters().keyframes;
    const std::size_t held = split.keyframe_count();
    for (std::size_t i = held - std::min<std::uint64_t>(fresh, held); i < held; ++i) {
      const auto k = split.keyframe_at(i);
      segments.on_keyframe(k.position, k.has_pts ? std::optional(k.pts_90k) : std::nullopt, k.wall_ms);
    }
    now += 40;
  }
  FUZZ_CHECK(at == length, "fed %zu of %zu bytes", at, length);

  // The split changes nothing but wall times: counters, tables, PID, codec, positions, PTS.
  const auto& a = whole.counters();
  const auto& b = split.counters();
  FUZZ_CHECK(a.packets == b.packets && a.keyframes == b.keyframes && a.malformed == b.malformed &&
                 a.sync_losses == b.sync_losses && a.skipped_bytes == b.skipped_bytes &&
                 a.pat_versions == b.pat_versions && a.pmt_versions == b.pmt_versions,
             "counters differ: packets %llu/%llu keyframes %llu/%llu malformed %llu/%llu",
             static_cast<unsigned long long>(a.packets), static_cast<unsigned long long>(b.packets),
             static_cast<unsigned long long>(a.keyframes), static_cast<unsigned long long>(b.keyframes),
             static_cast<unsigned long long>(a.malformed), static_cast<unsigned long long>(b.malformed));
  FUZZ_CHECK(whole.video_pid() == split.video_pid() && whole.video_codec() == split.video_codec(),
             "video PID %u/%u", whole.video_pid(), split.video_pid());
  FUZZ_CHECK(same_bytes(whole.pat(), split.pat()) && same_bytes(whole.pmt(), split.pmt()), "tables differ");
  FUZZ_CHECK(whole.pat().empty() || whole.pat().size() == TsTracker::kPacket, "PAT of %zu bytes",
             whole.pat().size());
  const auto kw = keyframes(whole);
  const auto ks = keyframes(split);
  FUZZ_CHECK(kw.size() == ks.size(), "%zu keyframes whole, %zu split", kw.size(), ks.size());
  for (std::size_t i = 0; i < kw.size(); ++i) {
    FUZZ_CHECK(kw[i].position == ks[i].position && kw[i].has_pts == ks[i].has_pts &&
                   kw[i].pts_90k == ks[i].pts_90k,
               "keyframe %zu differs", i);
    // Inside the stream, a whole packet, in order.
    FUZZ_CHECK(kw[i].position >= origin && kw[i].position + TsTracker::kPacket <= origin + length,
               "keyframe %zu at %llu outside the stream", i, static_cast<unsigned long long>(kw[i].position));
    FUZZ_CHECK(i == 0 || kw[i].position > kw[i - 1].position, "keyframes out of order at %zu", i);
  }
  FUZZ_CHECK(kw.size() <= 8, "the index outgrew its capacity: %zu", kw.size());

  // Segments: in order, each a non-empty range that starts where the previous one ended.
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const auto& s = segments.at(i);
    FUZZ_CHECK(s.from < s.to && s.from >= origin && s.to <= origin + length, "segment %zu is [%llu, %llu)", i,
               static_cast<unsigned long long>(s.from), static_cast<unsigned long long>(s.to));
    if (i > 0) {
      FUZZ_CHECK(segments.at(i - 1).to == s.from && segments.at(i - 1).sequence + 1 == s.sequence,
                 "segment %zu does not follow the previous one", i);
    }
  }
  return 0;
}
