// The structure of an MPEG-TS stream as the ring's writer commits it: the latest PAT and PMT
// (whole packets, to send a joining viewer before a keyframe), the video PID and codec, and a
// fixed ring of keyframe positions. Pure: bytes, positions and `now` in; no I/O, no clock.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "ringcast/core/fixed_ring.h"

namespace ringcast::relay {

// Follows the stream 188-byte packet by packet; a packet may arrive split across calls at any
// byte, and is parsed once the next packet's sync byte has arrived too. A keyframe is a PES start
// on the video PID that the adaptation field's random_access_indicator marks or, failing that,
// whose first packet starts an H.264 IDR (NAL type 5, or an SPS before it) or an H.265 IRAP (NAL
// types 16..23, or a VPS before it). Malformed input is counted and skipped, never read out of
// bounds; nothing is allocated after construction. One thread (the writer's) calls everything here.
class TsTracker {
 public:
  static constexpr std::size_t kPacket = 188;
  static constexpr std::uint16_t kNoPid = 0x1fff;

  enum class Codec { none, h264, h265 };

  struct Keyframe {
    std::uint64_t position;  // of the TS packet that starts the keyframe's PES
    std::uint64_t pts_90k;   // the PES header's 33-bit PTS (0 when has_pts is false)
    bool has_pts;
    std::uint64_t wall_ms;  // `now_ms` of the feed() call that brought the next sync byte
    bool operator==(const Keyframe&) const = default;
  };

  struct Counters {
    std::uint64_t packets = 0;            // packets parsed (malformed ones included)
    std::uint64_t keyframes = 0;          // indexed, by either rule
    std::uint64_t flagged_keyframes = 0;  // of those, marked by random_access_indicator
    std::uint64_t malformed = 0;          // lost sync, transport errors, lengths past the end
    std::uint64_t sync_losses = 0;        // no sync byte where a packet had to start or follow
    std::uint64_t skipped_bytes = 0;      // discarded while hunting for the sync
    std::uint64_t pat_versions = 0;       // PATs accepted with a version not seen just before
    std::uint64_t pmt_versions = 0;       // the same for the first program's PMT
    std::uint64_t psi_ignored = 0;        // PAT or PMT sections longer than their packet
    bool operator==(const Counters&) const = default;
  };

  // Throws std::invalid_argument when index_capacity is 0.
  explicit TsTracker(std::size_t index_capacity = 64);

  // Bytes committed at stream position `position`, contiguous with the previous call's (a gap
  // drops the partial packet, counts as malformed and hunts for the sync again).
  void feed(std::uint64_t position, std::span<const std::byte> bytes, std::uint64_t now_ms);
  // A new source: framing restarts at `position`; the PAT, PMT, video PID and keyframes of the
  // previous one are dropped. Counters go on.
  void reset(std::uint64_t position);

  // Keyframes are offered only while a video PID is known: each is then on that PID, and pat()
  // and pmt() are the tables a decoder needs to start there. `oldest`: the ring's oldest byte.

  // The newest keyframe, if it is at or after `oldest`.
  std::optional<Keyframe> newest_keyframe(std::uint64_t oldest) const;
  // The newest keyframe whose wall_ms is at or before `wall_ms` and whose position is at or
  // after `oldest` (timeshift); nullopt when the ring no longer holds one that old.
  std::optional<Keyframe> keyframe_before(std::uint64_t wall_ms, std::uint64_t oldest) const;
  // The oldest keyframe at or after `oldest`: as far back as the ring still holds.
  std::optional<Keyframe> oldest_keyframe(std::uint64_t oldest) const;
  // The index from oldest (0) to newest, for cutting segments; empty while none is offered.
  std::size_t keyframe_count() const;
  Keyframe keyframe_at(std::size_t i) const;  // i < keyframe_count()

  std::span<const std::byte> pat() const;  // the latest PAT packet (188 bytes), or empty
  std::span<const std::byte> pmt() const;  // the latest single-packet PMT, or empty
  std::uint16_t video_pid() const { return video_pid_; }  // kNoPid: none
  Codec video_codec() const { return video_codec_; }
  // The PTS of the newest video PES start that carried one (the live edge, for durations).
  std::optional<std::uint64_t> last_video_pts() const;
  const Counters& counters() const { return counters_; }

 private:
  using Packet = std::span<const std::byte, kPacket>;

  std::size_t hunt(std::span<const std::byte> bytes, std::uint64_t position, std::uint64_t now_ms);
  void lose_sync();
  void on_packet(Packet packet, std::uint64_t position, std::uint64_t now_ms);
  void on_pat(Packet packet, std::span<const std::byte> payload);
  void on_pmt(Packet packet, std::span<const std::byte> payload);
  void on_video_pes_start(std::span<const std::byte> payload, bool random_access,
                          std::uint64_t position, std::uint64_t now_ms);
  void add_keyframe(const Keyframe& keyframe);
  void clear_index();

  // Framing: either hunting (hunt_ holds a candidate sync byte and what follows it, up to the
  // byte that must be the next sync) or synced (carry_ holds a split packet, or a whole one
  // waiting for the next sync byte).
  bool hunting_ = true;
  std::uint64_t next_position_ = 0;  // where the next feed() must start
  std::array<std::byte, kPacket + 1> hunt_{};
  std::size_t hunt_length_ = 0;
  std::uint64_t hunt_position_ = 0;
  std::array<std::byte, kPacket> carry_{};
  std::size_t carry_length_ = 0;
  std::uint64_t carry_position_ = 0;

  // Structure: only the PAT's first program is followed.
  std::array<std::byte, kPacket> pat_{};
  std::array<std::byte, kPacket> pmt_{};
  bool has_pat_ = false;
  bool has_pmt_ = false;
  int pat_version_ = -1;  // -1: none accepted since reset()
  int pmt_version_ = -1;
  std::uint16_t program_number_ = 0;
  std::uint16_t pmt_pid_ = kNoPid;
  std::uint16_t video_pid_ = kNoPid;
  Codec video_codec_ = Codec::none;
  std::optional<std::uint64_t> last_video_pts_;

  // The keyframe ring, in stream order.
  // Its entries belong to index_pid_ / index_codec_; a change of either empties it.
  FixedRing<Keyframe> entries_;
  std::uint16_t index_pid_ = kNoPid;
  Codec index_codec_ = Codec::none;

  Counters counters_;
};

}  // namespace ringcast::relay
