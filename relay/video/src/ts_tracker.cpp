// The MPEG-TS structure tracker: packet framing and resync, the PAT and PMT of the first
// program (ISO/IEC 13818-1 §2.4.4), PES headers on the video PID and the NAL units starting in
// a PES's first packet (H.264 §7.3.1, H.265 §7.3.1.2), and the fixed keyframe ring.
#include "ringcast/video/ts_tracker.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace ringcast::relay {

namespace {

constexpr std::byte kSync{0x47};
constexpr std::uint16_t kPatPid = 0x0000;
constexpr std::uint8_t kPatTable = 0x00;
constexpr std::uint8_t kPmtTable = 0x02;
constexpr std::uint8_t kStreamH264 = 0x1b;
constexpr std::uint8_t kStreamH265 = 0x24;
constexpr std::size_t kMaxSectionLength = 1021;  // section_length's limit for PAT and PMT

unsigned at(std::span<const std::byte> bytes, std::size_t i) {
  return std::to_integer<unsigned>(bytes[i]);
}

enum class Nal { keyframe, picture, other };

Nal classify_nal(TsTracker::Codec codec, unsigned header) {
  if (codec == TsTracker::Codec::h264) {
    const unsigned type = header & 0x1f;
    if (type == 5 || type == 7) return Nal::keyframe;  // IDR slice, or the SPS that leads it
    if (type >= 1 && type <= 4) return Nal::picture;   // a non-IDR slice decides: not a keyframe
    return Nal::other;                                 // AUD, SEI, PPS...: look further
  }
  const unsigned type = (header >> 1) & 0x3f;
  if ((type >= 16 && type <= 23) || type == 32) return Nal::keyframe;  // IRAP, or a VPS
  if (type <= 9) return Nal::picture;                                  // a non-IRAP slice
  return Nal::other;
}

// Whether the NAL units starting in `es` (after 00 00 01; a 4-byte start code is one with a
// zero before it) begin a keyframe before they begin any other picture.
bool starts_keyframe(TsTracker::Codec codec, std::span<const std::byte> es) {
  for (std::size_t i = 0; i + 3 < es.size(); ++i) {
    if (at(es, i) != 0 || at(es, i + 1) != 0 || at(es, i + 2) != 1) continue;
    const unsigned header = at(es, i + 3);
    if (header & 0x80) return false;  // forbidden_zero_bit: not a NAL unit we can trust
    switch (classify_nal(codec, header)) {
      case Nal::keyframe:
        return true;
      case Nal::picture:
        return false;
      case Nal::other:
        break;
    }
    i += 3;
  }
  return false;
}

std::uint64_t pts_of(std::span<const std::byte> b) {  // the 5 bytes of a PES header's PTS
  return (static_cast<std::uint64_t>((at(b, 0) >> 1) & 0x07) << 30) |
         (static_cast<std::uint64_t>(at(b, 1)) << 22) |
         (static_cast<std::uint64_t>(at(b, 2) >> 1) << 15) |
         (static_cast<std::uint64_t>(at(b, 3)) << 7) | (at(b, 4) >> 1);
}

// The section that starts in a PSI packet's payload (after its pointer_field), when it is a
// long-form section of `table` that fits in the packet.
struct Section {
  std::span<const std::byte> bytes;  // table_id up to the CRC, excluded
  unsigned version;
  bool current;  // current_next_indicator: 0 means not yet applicable
};

enum class SectionResult { ok, not_this_table, spans_packets, malformed };

SectionResult section_in(std::span<const std::byte> payload, std::uint8_t table,
                         std::size_t min_length, Section& out) {
  if (payload.empty()) return SectionResult::malformed;
  const std::size_t start = 1 + at(payload, 0);  // past the pointer_field
  if (start + 3 > payload.size()) return SectionResult::malformed;
  const auto s = payload.subspan(start);
  if (at(s, 0) != table) return SectionResult::not_this_table;
  if ((at(s, 1) & 0x80) == 0) return SectionResult::malformed;  // section_syntax_indicator
  const std::size_t length = ((at(s, 1) & 0x0f) << 8) | at(s, 2);
  if (length < min_length || length > kMaxSectionLength) return SectionResult::malformed;
  if (3 + length > s.size()) return SectionResult::spans_packets;
  out.bytes = s.subspan(0, 3 + length - 4);
  out.version = (at(s, 5) >> 1) & 0x1f;
  out.current = (at(s, 5) & 0x01) != 0;
  return SectionResult::ok;
}

// Whether a PAT or PMT section can be read from its packet; what cannot is counted.
bool usable(SectionResult result, TsTracker::Counters& counters) {
  switch (result) {
    case SectionResult::ok:
      return true;
    case SectionResult::spans_packets:
      ++counters.psi_ignored;
      return false;
    case SectionResult::not_this_table:
      return false;
    case SectionResult::malformed:
      ++counters.malformed;
      return false;
  }
  return false;
}

}  // namespace

namespace {
std::size_t checked_capacity(std::size_t index_capacity) {
  if (index_capacity == 0) throw std::invalid_argument("TsTracker: index_capacity must be > 0");
  return index_capacity;
}
}  // namespace

TsTracker::TsTracker(std::size_t index_capacity) : entries_(checked_capacity(index_capacity)) {}

void TsTracker::reset(std::uint64_t position) {
  hunting_ = true;
  next_position_ = position;
  hunt_length_ = 0;
  carry_length_ = 0;
  has_pat_ = false;
  has_pmt_ = false;
  pat_version_ = -1;
  pmt_version_ = -1;
  program_number_ = 0;
  pmt_pid_ = kNoPid;
  video_pid_ = kNoPid;
  video_codec_ = Codec::none;
  clear_index();
}

void TsTracker::feed(std::uint64_t position, std::span<const std::byte> bytes,
                     std::uint64_t now_ms) {
  if (position != next_position_) {
    // Not what the writer promised: the bytes between are unknown, so is the framing.
    if (carry_length_ > 0 || hunt_length_ > 0) ++counters_.malformed;
    carry_length_ = 0;
    hunt_length_ = 0;
    hunting_ = true;
  }
  next_position_ = position + bytes.size();

  // Invariant: a packet is parsed only between two sync bytes, its own and the next packet's,
  // so that a cut packet or inserted bytes are never read as a packet.
  std::size_t i = 0;
  while (i < bytes.size()) {
    if (hunting_) {
      i += hunt(bytes.subspan(i), position + i, now_ms);
      continue;
    }
    if (carry_length_ == kPacket) {  // a whole packet, waiting for the next one's sync byte
      if (bytes[i] != kSync) {
        lose_sync();
        continue;
      }
      carry_length_ = 0;
      on_packet(Packet(carry_), carry_position_, now_ms);
      continue;
    }
    if (carry_length_ > 0) {
      const std::size_t take = std::min(kPacket - carry_length_, bytes.size() - i);
      std::memcpy(carry_.data() + carry_length_, bytes.data() + i, take);
      carry_length_ += take;
      i += take;
      continue;
    }
    // At a packet boundary with the packet in these bytes: the common case, nothing copied.
    if (bytes[i] != kSync) {
      lose_sync();
      continue;
    }
    if (bytes.size() - i > kPacket) {
      if (bytes[i + kPacket] != kSync) {
        lose_sync();  // hunting takes this sync byte for a candidate again, and drops it
        continue;
      }
      on_packet(Packet(bytes.subspan(i, kPacket)), position + i, now_ms);
      i += kPacket;
      continue;
    }
    carry_length_ = bytes.size() - i;
    std::memcpy(carry_.data(), bytes.data() + i, carry_length_);
    carry_position_ = position + i;
    i = bytes.size();
  }
}

void TsTracker::lose_sync() {
  ++counters_.malformed;
  ++counters_.sync_losses;
  hunting_ = true;
  // A carried packet (it starts with a sync byte) is hunted through like any other bytes.
  std::memcpy(hunt_.data(), carry_.data(), carry_length_);
  hunt_length_ = carry_length_;
  hunt_position_ = carry_position_;
  carry_length_ = 0;
}

// Consumes bytes while hunting; returns how many. Invariant: hunt_[0] is a sync byte whenever
// hunt_length_ > 0. A candidate is believed when another sync byte follows it one packet later;
// hunting then ends with either `bytes` consumed up to that packet (the caller parses it) or,
// when the candidate was held in hunt_, that packet parsed and the next one begun in carry_.
std::size_t TsTracker::hunt(std::span<const std::byte> bytes, std::uint64_t position,
                            std::uint64_t now_ms) {
  std::size_t used = 0;
  while (used < bytes.size()) {
    if (hunt_length_ == 0) {
      const auto found =
          std::find(bytes.begin() + static_cast<std::ptrdiff_t>(used), bytes.end(), kSync);
      const auto candidate = static_cast<std::size_t>(found - bytes.begin());
      counters_.skipped_bytes += candidate - used;
      if (candidate == bytes.size()) return bytes.size();
      if (candidate + kPacket < bytes.size()) {  // the confirming byte is in these bytes too
        if (bytes[candidate + kPacket] == kSync) {
          hunting_ = false;
          return candidate;
        }
        ++counters_.skipped_bytes;
        used = candidate + 1;
        continue;
      }
      hunt_length_ = bytes.size() - candidate;  // at most kPacket: the confirming byte is to come
      std::memcpy(hunt_.data(), bytes.data() + candidate, hunt_length_);
      hunt_position_ = position + candidate;
      return bytes.size();
    }
    const std::size_t take = std::min(hunt_.size() - hunt_length_, bytes.size() - used);
    std::memcpy(hunt_.data() + hunt_length_, bytes.data() + used, take);
    hunt_length_ += take;
    used += take;
    if (hunt_length_ < hunt_.size()) return used;
    if (hunt_[kPacket] == kSync) {
      hunting_ = false;
      hunt_length_ = 0;
      on_packet(Packet(hunt_.data(), kPacket), hunt_position_, now_ms);
      carry_[0] = kSync;
      carry_length_ = 1;
      carry_position_ = hunt_position_ + kPacket;
      return used;
    }
    // A false candidate: the next one, if any, is already among the bytes held.
    const auto next = std::find(hunt_.begin() + 1, hunt_.end(), kSync);
    const auto drop = static_cast<std::size_t>(next - hunt_.begin());
    counters_.skipped_bytes += drop;
    std::memmove(hunt_.data(), hunt_.data() + drop, hunt_.size() - drop);
    hunt_length_ = hunt_.size() - drop;
    hunt_position_ += drop;
  }
  return used;
}

void TsTracker::on_packet(Packet packet, std::uint64_t position, std::uint64_t now_ms) {
  ++counters_.packets;
  const unsigned b1 = at(packet, 1);
  const unsigned b3 = at(packet, 3);
  if (b1 & 0x80) {  // transport_error_indicator: the demodulator says this packet is damaged
    ++counters_.malformed;
    return;
  }
  const bool unit_start = (b1 & 0x40) != 0;
  const std::uint16_t pid = static_cast<std::uint16_t>(((b1 & 0x1f) << 8) | at(packet, 2));
  const unsigned control = (b3 >> 4) & 0x03;
  const bool scrambled = (b3 & 0xc0) != 0;
  if (control == 0) {  // reserved adaptation_field_control
    ++counters_.malformed;
    return;
  }

  std::size_t payload_start = 4;
  bool random_access = false;
  if (control & 0x02) {
    const std::size_t length = at(packet, 4);
    // Alone, the adaptation field fills the packet; before a payload it leaves room for one.
    if ((control == 0x02 && length != 183) || (control == 0x03 && length > 182)) {
      ++counters_.malformed;
      return;
    }
    random_access = length > 0 && (at(packet, 5) & 0x40) != 0;
    payload_start = 5 + length;
  }
  const auto payload = (control & 0x01) ? std::span<const std::byte>(packet).subspan(payload_start)
                                        : std::span<const std::byte>();

  if (!unit_start || pid == kNoPid) return;
  if (pid == kPatPid) {
    on_pat(packet, payload);
  } else if (pid == pmt_pid_) {
    on_pmt(packet, payload);
  } else if (pid == video_pid_) {
    on_video_pes_start(scrambled ? std::span<const std::byte>() : payload, random_access, position,
                       now_ms);
  }
}

void TsTracker::on_pat(Packet packet, std::span<const std::byte> payload) {
  Section section;
  if (!usable(section_in(payload, kPatTable, 9, section), counters_)) return;
  if (!section.current) return;
  // The first program other than 0 (program 0 names the network PID, not a PMT).
  std::uint16_t number = 0;
  std::uint16_t pid = kNoPid;
  for (std::size_t i = 8; i + 4 <= section.bytes.size(); i += 4) {
    const auto n =
        static_cast<std::uint16_t>((at(section.bytes, i) << 8) | at(section.bytes, i + 1));
    if (n == 0) continue;
    number = n;
    pid = static_cast<std::uint16_t>(((at(section.bytes, i + 2) & 0x1f) << 8) |
                                     at(section.bytes, i + 3));
    break;
  }
  if (pid == kNoPid) return;  // no program yet: nothing to follow
  if (static_cast<int>(section.version) != pat_version_) ++counters_.pat_versions;
  pat_version_ = static_cast<int>(section.version);
  std::memcpy(pat_.data(), packet.data(), kPacket);
  has_pat_ = true;
  if (pid != pmt_pid_ || number != program_number_) {
    // Another program: its PMT is to come; keyframes are offered again once it says where the
    // video is (the index survives if that is the same PID and codec).
    pmt_pid_ = pid;
    program_number_ = number;
    has_pmt_ = false;
    pmt_version_ = -1;
    video_pid_ = kNoPid;
    video_codec_ = Codec::none;
  }
}

void TsTracker::on_pmt(Packet packet, std::span<const std::byte> payload) {
  Section section;
  if (!usable(section_in(payload, kPmtTable, 13, section), counters_)) return;
  const auto& s = section.bytes;
  // A PMT PID may carry the PMTs of several programs: only the PAT's first one counts.
  const auto number = static_cast<std::uint16_t>((at(s, 3) << 8) | at(s, 4));
  if (!section.current || number != program_number_) return;
  const std::size_t info_length = ((at(s, 10) & 0x0f) << 8) | at(s, 11);
  std::size_t i = 12 + info_length;
  if (i > s.size()) {
    ++counters_.malformed;
    return;
  }
  std::uint16_t pid = kNoPid;
  Codec codec = Codec::none;
  for (; i + 5 <= s.size(); i += 5 + (((at(s, i + 3) & 0x0f) << 8) | at(s, i + 4))) {
    const unsigned type = at(s, i);
    if (type != kStreamH264 && type != kStreamH265) continue;
    pid = static_cast<std::uint16_t>(((at(s, i + 1) & 0x1f) << 8) | at(s, i + 2));
    codec = type == kStreamH264 ? Codec::h264 : Codec::h265;
    break;
  }
  if (static_cast<int>(section.version) != pmt_version_) ++counters_.pmt_versions;
  pmt_version_ = static_cast<int>(section.version);
  std::memcpy(pmt_.data(), packet.data(), kPacket);
  has_pmt_ = true;
  video_pid_ = pid;
  video_codec_ = codec;
  if (pid != index_pid_ || codec != index_codec_) {
    // Keyframes of another PID or codec cannot start a decoder that this PMT sets up.
    clear_index();
    index_pid_ = pid;
    index_codec_ = codec;
  }
}

void TsTracker::on_video_pes_start(std::span<const std::byte> payload, bool random_access,
                                   std::uint64_t position, std::uint64_t now_ms) {
  Keyframe keyframe{position, 0, false, now_ms};
  // packet_start_code_prefix, stream_id, PES_packet_length, then the optional header's flags.
  static constexpr unsigned kPrefix[] = {0x00, 0x00, 0x01};
  for (std::size_t i = 0; i < std::min<std::size_t>(3, payload.size()); ++i) {
    if (at(payload, i) != kPrefix[i]) {
      ++counters_.malformed;
      return;
    }
  }
  if (payload.size() < 9) {
    // Scrambled, or the adaptation field left no room for the PES header: only the flag tells.
    if (random_access) {
      ++counters_.flagged_keyframes;
      add_keyframe(keyframe);
    }
    return;
  }
  if ((at(payload, 6) & 0xc0) != 0x80) {  // video PES headers always have the optional header
    ++counters_.malformed;
    return;
  }
  const unsigned flags = at(payload, 7);
  const std::size_t header_length = at(payload, 8);
  if ((flags & 0x80) && header_length >= 5 && payload.size() >= 14) {
    keyframe.pts_90k = pts_of(payload.subspan(9, 5));
    keyframe.has_pts = true;
    last_video_pts_ = keyframe.pts_90k;
  }
  // A header cut short by the packet's end leaves no NAL units to look at in this packet.
  const std::size_t es_start = 9 + header_length;
  const auto es =
      es_start < payload.size() ? payload.subspan(es_start) : std::span<const std::byte>();
  if (random_access) {
    ++counters_.flagged_keyframes;
    add_keyframe(keyframe);
  } else if (starts_keyframe(video_codec_, es)) {
    add_keyframe(keyframe);
  }
}

void TsTracker::add_keyframe(const Keyframe& keyframe) {
  ++counters_.keyframes;
  entries_.push(keyframe);
}

void TsTracker::clear_index() {
  entries_.clear();
  index_pid_ = kNoPid;
  index_codec_ = Codec::none;
  last_video_pts_.reset();
}

std::size_t TsTracker::keyframe_count() const {
  return video_pid_ != kNoPid ? entries_.size() : 0;
}

TsTracker::Keyframe TsTracker::keyframe_at(std::size_t i) const {
  return entries_.at(i);
}

std::optional<TsTracker::Keyframe> TsTracker::newest_keyframe(std::uint64_t oldest) const {
  const std::size_t n = keyframe_count();
  if (n == 0) return std::nullopt;
  const Keyframe k = keyframe_at(n - 1);
  if (k.position < oldest) return std::nullopt;
  return k;
}

std::optional<TsTracker::Keyframe> TsTracker::keyframe_before(std::uint64_t wall_ms,
                                                              std::uint64_t oldest) const {
  // From the newest back: positions fall, so the walk ends at the first one below `oldest`.
  for (std::size_t i = keyframe_count(); i-- > 0;) {
    const Keyframe k = keyframe_at(i);
    if (k.position < oldest) return std::nullopt;
    if (k.wall_ms <= wall_ms) return k;
  }
  return std::nullopt;
}

std::optional<TsTracker::Keyframe> TsTracker::oldest_keyframe(std::uint64_t oldest) const {
  for (std::size_t i = 0; i < keyframe_count(); ++i) {
    const Keyframe k = keyframe_at(i);
    if (k.position >= oldest) return k;
  }
  return std::nullopt;
}

std::span<const std::byte> TsTracker::pat() const {
  return has_pat_ ? std::span<const std::byte>(pat_) : std::span<const std::byte>();
}

std::span<const std::byte> TsTracker::pmt() const {
  return has_pmt_ ? std::span<const std::byte>(pmt_) : std::span<const std::byte>();
}

std::optional<std::uint64_t> TsTracker::last_video_pts() const {
  return video_pid_ != kNoPid ? last_video_pts_ : std::nullopt;
}

}  // namespace ringcast::relay
