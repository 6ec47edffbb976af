// A tiny MPEG-TS muxer for tests: PAT, PMT, video PES (H.264 and H.265, with and without
// random_access_indicator) and audio PES, whole packets with continuity counters per PID. The
// TS tracker's tests and the video index's build their streams with it.
#pragma once

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <random>
#include <span>
#include <vector>

namespace ringcast::test {

using Bytes = std::vector<std::uint8_t>;

inline constexpr std::uint16_t kPmtPid = 0x1000;
inline constexpr std::uint16_t kVideoPid = 0x100;
inline constexpr std::uint16_t kAudioPid = 0x101;
inline constexpr std::uint8_t kH264 = 0x1b;
inline constexpr std::uint8_t kH265 = 0x24;
inline constexpr std::uint8_t kAac = 0x0f;

inline void append(Bytes& to, const Bytes& from) {
  to.insert(to.end(), from.begin(), from.end());
}

// Bytes that can form neither a start code (no zero) nor a sync byte (no 0x47).
inline Bytes filler(std::size_t n) {
  Bytes out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint8_t>(0x80 + (i * 37) % 128);
  return out;
}

inline Bytes nal(std::initializer_list<std::uint8_t> start_code_and_header, std::size_t body) {
  Bytes out(start_code_and_header);
  append(out, filler(body));
  return out;
}

// H.264 access units (Annex B, as ffmpeg's mpegts muxer writes them: AUD first).
inline Bytes h264_idr_with_sps(std::size_t body = 400) {
  Bytes es = nal({0, 0, 0, 1, 0x09}, 1);
  append(es, nal({0, 0, 0, 1, 0x67}, 12));  // SPS
  append(es, nal({0, 0, 0, 1, 0x68}, 4));   // PPS
  append(es, nal({0, 0, 1, 0x06}, 20));     // SEI
  append(es, nal({0, 0, 1, 0x65}, body));   // IDR slice
  return es;
}
inline Bytes h264_idr_alone(std::size_t body = 300) {  // 3-byte start codes only
  Bytes es = nal({0, 0, 1, 0x09}, 1);
  append(es, nal({0, 0, 1, 0x25}, body));  // IDR, nal_ref_idc 1
  return es;
}
inline Bytes h264_p(std::size_t body = 250) {
  Bytes es = nal({0, 0, 0, 1, 0x09}, 1);
  append(es, nal({0, 0, 0, 1, 0x41}, body));  // non-IDR slice
  return es;
}

// H.265 access units: two-byte NAL headers, type in bits 1..6 of the first.
inline Bytes h265_irap(std::uint8_t type, bool with_vps, std::size_t body = 400) {
  Bytes es = nal({0, 0, 0, 1, 0x46, 0x01}, 1);  // AUD (35)
  if (with_vps) {
    append(es, nal({0, 0, 0, 1, 0x40, 0x01}, 10));  // VPS (32)
    append(es, nal({0, 0, 0, 1, 0x42, 0x01}, 20));  // SPS (33)
    append(es, nal({0, 0, 0, 1, 0x44, 0x01}, 4));   // PPS (34)
  }
  append(es, nal({0, 0, 1, 0x4e, 0x01}, 8));  // prefix SEI (39)
  append(es, nal({0, 0, 1, static_cast<std::uint8_t>(type << 1), 0x01}, body));
  return es;
}
inline Bytes h265_trail(std::size_t body = 250) {
  Bytes es = nal({0, 0, 0, 1, 0x46, 0x01}, 1);
  append(es, nal({0, 0, 1, 0x02, 0x01}, body));  // TRAIL_R (1)
  return es;
}

inline Bytes adts_frame() {
  Bytes es = {0xff, 0xf1, 0x50, 0x80, 0x2e, 0x7f, 0xfc};
  append(es, filler(360));
  return es;
}

// A tiny MPEG-TS muxer: each call appends whole packets, continuity counters per PID.
struct Muxer {
  Bytes out;
  std::vector<std::uint8_t> cc = std::vector<std::uint8_t>(8192, 0);

  std::size_t size() const { return out.size(); }

  // One packet; an adaptation field when a flag is set or stuffing is needed.
  void packet(std::uint16_t pid, bool unit_start, bool random_access, const Bytes& payload,
              bool transport_error = false) {
    REQUIRE(payload.size() <= (random_access ? 182u : 184u));
    out.push_back(0x47);
    out.push_back(static_cast<std::uint8_t>((transport_error ? 0x80 : 0) | (unit_start ? 0x40 : 0) |
                                            (pid >> 8)));
    out.push_back(static_cast<std::uint8_t>(pid & 0xff));
    const bool adaptation = random_access || payload.size() < 184;
    const std::uint8_t control = payload.empty() ? 0x20 : adaptation ? 0x30 : 0x10;
    out.push_back(static_cast<std::uint8_t>(control | (cc[pid]++ & 0x0f)));
    if (adaptation) {
      const std::size_t length = 183 - payload.size();
      out.push_back(static_cast<std::uint8_t>(length));
      if (length > 0) out.push_back(random_access ? 0x40 : 0x00);
      for (std::size_t i = 1; i < length; ++i) out.push_back(0xff);
    }
    append(out, payload);
  }

  // A long-form section (CRC left zero: the tracker does not check it) in one packet.
  void section(std::uint16_t pid, Bytes body_after_length) {
    const std::size_t length = body_after_length.size() + 4;
    Bytes payload = {0x00};  // pointer_field
    payload.push_back(body_after_length[0]);
    payload.push_back(static_cast<std::uint8_t>(0xb0 | (length >> 8)));
    payload.push_back(static_cast<std::uint8_t>(length & 0xff));
    payload.insert(payload.end(), body_after_length.begin() + 1, body_after_length.end());
    append(payload, {0, 0, 0, 0});
    REQUIRE(payload.size() <= 184);
    payload.resize(184, 0xff);
    packet(pid, true, false, payload);
  }

  // First byte of `fields` is the table_id; the rest follows section_length.
  void pat(std::uint8_t version, std::uint16_t pmt_pid = kPmtPid, std::uint16_t program = 1,
           bool network_first = false) {
    Bytes s = {0x00, 0x00, 0x01, static_cast<std::uint8_t>(0xc1 | (version << 1)), 0x00, 0x00};
    if (network_first) append(s, {0x00, 0x00, 0xe0, 0x10});
    append(s, {static_cast<std::uint8_t>(program >> 8), static_cast<std::uint8_t>(program & 0xff),
               static_cast<std::uint8_t>(0xe0 | (pmt_pid >> 8)),
               static_cast<std::uint8_t>(pmt_pid & 0xff)});
    section(0, s);
  }

  void pmt(std::uint8_t version, std::uint8_t video_type, std::uint16_t video_pid = kVideoPid,
           std::uint16_t pmt_pid = kPmtPid, std::uint16_t program = 1) {
    Bytes s = {0x02,
               static_cast<std::uint8_t>(program >> 8),
               static_cast<std::uint8_t>(program & 0xff),
               static_cast<std::uint8_t>(0xc1 | (version << 1)),
               0x00,
               0x00,
               static_cast<std::uint8_t>(0xe0 | (video_pid >> 8)),
               static_cast<std::uint8_t>(video_pid & 0xff),
               0xf0,
               0x00};
    // The audio stream first, with a descriptor, so that the loop must step over it.
    append(s, {kAac, 0xe0 | (kAudioPid >> 8), kAudioPid & 0xff, 0xf0, 0x06});
    append(s, {0x0a, 0x04, 'e', 'n', 'g', 0x00});  // ISO_639_language_descriptor
    if (video_type != 0) {
      append(s, {video_type, static_cast<std::uint8_t>(0xe0 | (video_pid >> 8)),
                 static_cast<std::uint8_t>(video_pid & 0xff), 0xf0, 0x00});
    }
    section(pmt_pid, s);
  }

  // A PES in as many packets as it needs; returns the position of its first packet.
  std::size_t pes(std::uint16_t pid, std::uint8_t stream_id, const Bytes& es,
                  std::optional<std::uint64_t> pts, bool random_access) {
    Bytes p = {0x00, 0x00, 0x01, stream_id, 0x00, 0x00, 0x80};
    if (pts) {
      const std::uint64_t v = *pts;
      append(p, {0x80, 0x05, static_cast<std::uint8_t>(0x21 | ((v >> 29) & 0x0e)),
                 static_cast<std::uint8_t>((v >> 22) & 0xff),
                 static_cast<std::uint8_t>(0x01 | ((v >> 14) & 0xfe)),
                 static_cast<std::uint8_t>((v >> 7) & 0xff),
                 static_cast<std::uint8_t>(0x01 | ((v << 1) & 0xfe))});
    } else {
      append(p, {0x00, 0x00});
    }
    append(p, es);
    const std::size_t first = out.size();
    std::size_t offset = 0;
    bool start = true;
    while (offset < p.size()) {
      const std::size_t room = start && random_access ? 182 : 184;
      const std::size_t n = std::min(room, p.size() - offset);
      packet(pid, start, start && random_access,
             Bytes(p.begin() + static_cast<std::ptrdiff_t>(offset),
                   p.begin() + static_cast<std::ptrdiff_t>(offset + n)));
      offset += n;
      start = false;
    }
    return first;
  }

  // A null packet (PID 0x1fff); after the last packet of a test, it has that packet parsed: the
  // tracker believes a packet once the next one's sync byte is there.
  void null() { packet(0x1fff, false, false, filler(184)); }

  std::size_t video(const Bytes& es, std::uint64_t pts, bool random_access) {
    return pes(kVideoPid, 0xe0, es, pts, random_access);
  }
  void audio(std::uint64_t pts) { pes(kAudioPid, 0xc0, adts_frame(), pts, true); }

  // Bytes with neither a 0x47 nor a pattern the tracker could take for a packet.
  void garbage(std::size_t n, std::mt19937_64& random) {
    for (std::size_t i = 0; i < n; ++i) {
      std::uint8_t b = static_cast<std::uint8_t>(random());
      if (b == 0x47) b = 0x48;
      out.push_back(b);
    }
  }
};

inline std::span<const std::byte> as_bytes(const Bytes& bytes, std::size_t from = 0,
                                           std::size_t n = SIZE_MAX) {
  n = std::min(n, bytes.size() - from);
  return std::as_bytes(std::span(bytes.data() + from, n));
}

inline Bytes bytes_of(std::span<const std::byte> span) {
  Bytes out(span.size());
  for (std::size_t i = 0; i < span.size(); ++i) out[i] = std::to_integer<std::uint8_t>(span[i]);
  return out;
}

inline Bytes packet_at(const Bytes& stream, std::size_t position) {
  return Bytes(stream.begin() + static_cast<std::ptrdiff_t>(position),
               stream.begin() + static_cast<std::ptrdiff_t>(position + 188));
}

}  // namespace ringcast::test
