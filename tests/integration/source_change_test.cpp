// Source changes are seamless (invariant 1): no listener hears a byte of an earlier source after
// a byte of a later one, and none hears the earlier source again. The streams here are real MP3
// and AAC (ADTS) frame headers around position counters: each frame carries its source's id and
// its index, so a listener's stream tells exactly what it heard, in order.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>
#include <unistd.h>

#include "harness.h"

using namespace ringcast::integration;

namespace {

enum class Codec { mp3, aac };

// MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, no padding: 417 bytes a frame. ADTS (AAC LC, 44.1
// kHz, no CRC) of 400 bytes. The body: the source's id, the frame's index (LE u64), then 0x55:
// no byte pattern in it looks like a frame header.
constexpr std::size_t kMp3Frame = 417;
constexpr std::size_t kAacFrame = 400;

std::size_t frame_bytes(Codec codec) { return codec == Codec::mp3 ? kMp3Frame : kAacFrame; }
const char* content_type(Codec codec) { return codec == Codec::mp3 ? "audio/mpeg" : "audio/aac"; }
std::size_t header_bytes(Codec codec) { return codec == Codec::mp3 ? 4 : 7; }

std::vector<std::uint8_t> frames(Codec codec, std::uint8_t source, std::uint64_t first, std::size_t count) {
  const std::size_t size = frame_bytes(codec);
  std::vector<std::uint8_t> out;
  out.reserve(size * count);
  for (std::uint64_t index = first; index < first + count; ++index) {
    std::vector<std::uint8_t> frame(size, 0x55);
    if (codec == Codec::mp3) {
      std::memcpy(frame.data(), "\xFF\xFB\x90\x64", 4);
    } else {
      const std::uint8_t header[7] = {0xFF, 0xF1, 0x50, static_cast<std::uint8_t>(0x80 | ((size >> 11) & 3)),
                                      static_cast<std::uint8_t>((size >> 3) & 0xFF),
                                      static_cast<std::uint8_t>(((size & 7) << 5) | 0x1F), 0xFC};
      std::memcpy(frame.data(), header, 7);
    }
    const std::size_t body = header_bytes(codec);
    frame[body] = source;
    for (int i = 0; i < 8; ++i) frame[body + 1 + i] = static_cast<std::uint8_t>(index >> (8 * i));
    out.insert(out.end(), frame.begin(), frame.end());
  }
  return out;
}

struct Heard {
  std::uint8_t source;
  std::uint64_t index;
};

// What a listener heard, frame by frame. Its stream must start on a frame and hold nothing but
// whole frames (a last one cut short by the hang-up aside).
std::vector<Heard> heard(Codec codec, const std::vector<std::uint8_t>& stream) {
  const std::size_t size = frame_bytes(codec);
  const std::size_t body = header_bytes(codec);
  std::vector<Heard> out;
  for (std::size_t at = 0; at + size <= stream.size(); at += size) {
    INFO("frame at byte " << at);
    REQUIRE(stream[at] == 0xFF);
    REQUIRE((stream[at + 1] & 0xF0) == 0xF0);
    std::uint64_t index = 0;
    for (int i = 0; i < 8; ++i) index |= std::uint64_t{stream[at + body + 1 + i]} << (8 * i);
    out.push_back({stream[at + body], index});
  }
  return out;
}

// The invariant: sources appear in the order they were live, never returning to an earlier
// one; within a source, frames are contiguous.
void check_order(const std::vector<Heard>& frames, const std::vector<std::uint8_t>& order) {
  std::size_t rank = 0;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    INFO("frame " << i << " of " << frames.size() << ": source " << int(frames[i].source) << " #" << frames[i].index);
    const auto it = std::find(order.begin() + static_cast<std::ptrdiff_t>(rank), order.end(), frames[i].source);
    REQUIRE(it != order.end());  // an earlier source after a later one, or a stranger
    const auto now = static_cast<std::size_t>(it - order.begin());
    if (now == rank && i > 0 && frames[i - 1].source == frames[i].source) {
      REQUIRE(frames[i].index == frames[i - 1].index + 1);
    }
    rank = now;
  }
}

bool source_connected(std::uint16_t port, const std::string& mount) {
  const auto stats = mount_stats(port, mount);
  return stats.is_object() && stats.at("source_connected").get<bool>();
}

std::uint64_t bytes_in(std::uint16_t port, const std::string& mount) {
  const auto stats = mount_stats(port, mount);
  return stats.is_object() ? stats.at("bytes_in").get<std::uint64_t>() : 0;
}

SourceOptions source_options_for(const std::string& mount) {
  SourceOptions options;
  options.mount = mount;  // video/mp2t
  return options;
}

SourceConnection audio_source(std::uint16_t port, const std::string& mount, Codec codec) {
  SourceOptions options;
  options.mount = mount;
  options.content_type = content_type(codec);
  return connect_source(port, options);
}

std::uint64_t joins(std::uint16_t port, const std::string& mount) {
  const auto stats = mount_stats(port, mount);
  return stats.is_object() ? stats.at("joins").get<std::uint64_t>() : 0;
}

// A listener that keeps every byte; returned once the relay has placed it (counted a join), so
// that what it hears next is decided by where it joined, not by its thread's timing.
std::unique_ptr<Viewer> listener(std::uint16_t port, const std::string& mount) {
  Viewer::Options options;
  options.contiguous = false;
  options.keep_stream = true;
  options.deadline = 60s;
  const std::uint64_t before = joins(port, mount);
  auto viewer = std::make_unique<Viewer>(port, mount, options);
  REQUIRE(wait_until([&] { return joins(port, mount) > before; }, 10s));
  return viewer;
}

}  // namespace

TEST_CASE("a listener who joins after a source returns within grace hears only the new source",
          "[source_change]") {
  const Codec codec = GENERATE(Codec::mp3, Codec::aac);
  const std::string workers = GENERATE("1", "2");
  INFO((codec == Codec::mp3 ? "MP3" : "AAC") << ", " << workers << " workers");
  RelayProcess relay({"--grace", "3", "--workers", workers});
  const std::string mount = "/radio";
  const std::size_t size = frame_bytes(codec);

  SourceConnection first = audio_source(relay.port(), mount, codec);
  auto early = listener(relay.port(), mount);  // hears both, in order
  send_all(first.socket, frames(codec, 1, 0, 300), Clock::now() + 10s);
  REQUIRE(wait_until([&] { return bytes_in(relay.port(), mount) == 300 * size; }, 10s));
  first.socket.close();
  REQUIRE(wait_until([&] { return !source_connected(relay.port(), mount); }, 10s));
  auto orphaned = listener(relay.port(), mount);  // joins while no source is there: a burst of 1

  SourceConnection second = audio_source(relay.port(), mount, codec);
  REQUIRE(source_connected(relay.port(), mount));
  auto at_return = listener(relay.port(), mount);  // before the new source's first byte
  send_all(second.socket, frames(codec, 2, 0, 20), Clock::now() + 10s);
  REQUIRE(wait_until([&] { return bytes_in(relay.port(), mount) == 320 * size; }, 10s));
  auto shortly_after = listener(relay.port(), mount);  // 20 frames in: its burst is those
  send_all(second.socket, frames(codec, 2, 20, 400), Clock::now() + 10s);
  REQUIRE(wait_until([&] { return bytes_in(relay.port(), mount) == 720 * size; }, 10s));
  auto later = listener(relay.port(), mount);  // a whole burst of the new source
  CHECK(mount_stats(relay.port(), mount).at("source_changes") == 1);
  // The source leaves for good: after --grace every listener gets what is left, then EOF, so
  // each stream below is complete.
  second.socket.close();
  std::vector<Viewer*> all = {early.get(), orphaned.get(), at_return.get(), shortly_after.get(), later.get()};
  std::vector<std::vector<Heard>> streams;
  for (Viewer* viewer : all) {
    viewer->join();
    CHECK(viewer->error() == "");
    CHECK(viewer->eof());
    streams.push_back(heard(codec, viewer->stream()));
    CHECK(viewer->stream().size() % size == 0);  // whole frames only
    REQUIRE_FALSE(streams.back().empty());
    CHECK(streams.back().back().source == 2);  // up to the last frame sent
    CHECK(streams.back().back().index == 419);
  }

  INFO("early listener");
  check_order(streams[0], {1, 2});
  CHECK(streams[0].front().source == 1);
  CHECK(streams[0].back().source == 2);
  INFO("listener who joined while the mount had no source: the old source's burst, then the new");
  check_order(streams[1], {1, 2});
  for (std::size_t i : {std::size_t{2}, std::size_t{3}, std::size_t{4}}) {
    INFO("listener " << i << " who joined after the return: only the new source");
    REQUIRE_FALSE(streams[i].empty());
    check_order(streams[i], {2});
  }
  // The burst of a listener who joined 20 frames into the new source starts at its first byte.
  CHECK(streams[2].front().index == 0);
  CHECK(streams[3].front().index == 0);
  CHECK(streams[4].front().index > 0);  // 400 frames later: a burst, not the whole source
  REQUIRE(relay.stop() == 0);
}

TEST_CASE("a source that returns early, midway or late in its grace period resumes the mount, and "
          "a joiner hears only it",
          "[source_change]") {
  // --grace 6, and the new source connects 0, 2.5 or 5 s after the relay saw the old one leave
  // (the last leaves a second's margin for a busy machine).
  const auto delay = std::chrono::milliseconds(GENERATE(0, 2500, 5000));
  INFO("returns " << delay.count() << " ms into grace");
  RelayProcess relay({"--grace", "6", "--workers", "2"});
  const std::string mount = "/radio";
  const Codec codec = Codec::mp3;
  const std::size_t size = frame_bytes(codec);

  SourceConnection first = audio_source(relay.port(), mount, codec);
  auto early = listener(relay.port(), mount);
  send_all(first.socket, frames(codec, 1, 0, 100), Clock::now() + 10s);
  REQUIRE(wait_until([&] { return bytes_in(relay.port(), mount) == 100 * size; }, 10s));
  first.socket.close();
  REQUIRE(wait_until([&] { return !source_connected(relay.port(), mount); }, 10s));
  std::this_thread::sleep_for(delay);
  REQUIRE(mount_stats(relay.port(), mount).is_object());  // still in grace

  SourceConnection second = audio_source(relay.port(), mount, codec);
  REQUIRE(source_connected(relay.port(), mount));
  send_all(second.socket, frames(codec, 2, 0, 20), Clock::now() + 10s);
  REQUIRE(wait_until([&] { return bytes_in(relay.port(), mount) == 120 * size; }, 10s));
  auto joiner = listener(relay.port(), mount);
  send_all(second.socket, frames(codec, 2, 20, 20), Clock::now() + 10s);
  // The mount resumed (its byte count goes on), and it was one source change.
  REQUIRE(wait_until([&] { return bytes_in(relay.port(), mount) == 140 * size; }, 10s));
  CHECK(mount_stats(relay.port(), mount).at("source_changes") == 1);
  REQUIRE(wait_until([&] { return early->received() >= 140 * size && joiner->received() >= 40 * size; }, 10s));
  early->hang_up();
  joiner->hang_up();

  const auto early_heard = heard(codec, early->stream());
  const auto joiner_heard = heard(codec, joiner->stream());
  REQUIRE(early_heard.size() == 140);
  check_order(early_heard, {1, 2});
  CHECK(early_heard.front().index == 0);
  REQUIRE(joiner_heard.size() == 40);
  check_order(joiner_heard, {2});
  CHECK(joiner_heard.front().index == 0);
  REQUIRE(relay.stop() == 0);
}

TEST_CASE("a listener moved by fallback, by its source's return or by an admin continues at the live "
          "edge and never hears an earlier source again",
          "[source_change]") {
  const Codec codec = GENERATE(Codec::mp3, Codec::aac);
  const std::string workers = GENERATE("1", "2");
  INFO((codec == Codec::mp3 ? "MP3" : "AAC") << ", " << workers << " workers");
  const auto dir = std::filesystem::temp_directory_path() /
                   ("ringcast-source-change-" + std::to_string(::getpid()) + "-" + workers);
  std::filesystem::create_directories(dir);
  const auto config = dir / "ringcast.toml";
  std::ofstream(config) << "admin_password = \"admin-secret\"\n"
                        << "[mounts.\"/live\"]\nfallback_mount = \"/backup\"\nfallback_override = true\n";
  RelayProcess relay({"--config", config.string(), "--grace", "3", "--workers", workers});
  const std::size_t size = frame_bytes(codec);
  // Frames per 4 KiB: how far behind the live edge a moved listener may start (the room the
  // relay takes to find a frame). A burst would be 64 KiB: some 160 frames.
  const std::uint64_t move_slack = 4096 / size + 1;

  SourceConnection backup = audio_source(relay.port(), "/backup", codec);
  send_all(backup.socket, frames(codec, 9, 0, 300), Clock::now() + 10s);
  REQUIRE(wait_until([&] { return bytes_in(relay.port(), "/backup") == 300 * size; }, 10s));

  SourceConnection first = audio_source(relay.port(), "/live", codec);
  auto home = listener(relay.port(), "/live");
  send_all(first.socket, frames(codec, 1, 0, 200), Clock::now() + 10s);
  REQUIRE(wait_until([&] { return home->received() == 200 * size; }, 10s));
  // The source leaves: the listener moves to /backup at once, at its live edge (frame 300).
  first.socket.close();
  REQUIRE(wait_until([&] { return mount_stats(relay.port(), "/backup").at("viewers") == 1; }, 10s));
  send_all(backup.socket, frames(codec, 9, 300, 100), Clock::now() + 10s);
  REQUIRE(wait_until([&] { return bytes_in(relay.port(), "/backup") == 400 * size; }, 10s));
  // It returns (a new encoder): the listener moves home and hears it from its first byte.
  SourceConnection second = audio_source(relay.port(), "/live", codec);
  REQUIRE(wait_until([&] { return mount_stats(relay.port(), "/live").at("viewers") == 1; }, 10s));
  send_all(second.socket, frames(codec, 3, 0, 100), Clock::now() + 10s);
  REQUIRE(wait_until([&] { return bytes_in(relay.port(), "/live") == 300 * size; }, 10s));
  // An admin moves /live's listeners to /backup: live edge again.
  const Response moved = http_exchange(
      relay.port(), "GET /admin/moveclients?mount=/live&destination=/backup HTTP/1.0\r\nAuthorization: " +
                        basic_auth("admin", "admin-secret") + "\r\n\r\n");
  REQUIRE(moved.head.status == 200);
  REQUIRE(wait_until([&] { return mount_stats(relay.port(), "/backup").at("viewers") == 1; }, 10s));
  send_all(backup.socket, frames(codec, 9, 400, 50), Clock::now() + 10s);
  // Both sources leave; after --grace the listener gets EOF with all it was sent.
  second.socket.close();
  backup.socket.close();
  home->join();
  CHECK(home->error() == "");
  CHECK(home->stream().size() % size == 0);
  const std::vector<Heard> stream = heard(codec, home->stream());
  REQUIRE_FALSE(stream.empty());

  // What it heard, as runs of one source: 1 (0..199), 9 (from ~300), 3 (from 0), 9 (from ~400).
  struct Run {
    std::uint8_t source;
    std::uint64_t first, last;
  };
  std::vector<Run> runs;
  for (std::size_t i = 0; i < stream.size(); ++i) {
    INFO("frame " << i << ": source " << int(stream[i].source) << " #" << stream[i].index);
    if (runs.empty() || runs.back().source != stream[i].source) {
      runs.push_back({stream[i].source, stream[i].index, stream[i].index});
    } else {
      REQUIRE(stream[i].index == runs.back().last + 1);  // contiguous within a run
      runs.back().last = stream[i].index;
    }
  }
  REQUIRE(runs.size() == 4);
  CHECK(runs[0].source == 1);
  CHECK(runs[0].first == 0);
  CHECK(runs[0].last == 199);
  CHECK(runs[1].source == 9);  // moved by fallback: the backup's live edge, no burst
  CHECK(runs[1].first + move_slack >= 300);
  CHECK(runs[1].first <= 300);
  CHECK(runs[2].source == 3);  // moved home by the return: the new source from its first byte
  CHECK(runs[2].first == 0);
  CHECK(runs[2].last == 99);
  CHECK(runs[3].source == 9);  // moved by the admin: the backup's live edge again
  CHECK(runs[3].first + move_slack >= 400);
  CHECK(runs[3].first > runs[1].last);  // never a frame of the backup it heard before
  CHECK(runs[3].last == 449);
  REQUIRE(relay.stop() == 0);
  std::filesystem::remove_all(dir);
}

namespace {

// H.264 in MPEG-TS on kTsVideoPid: every packet's payload ends in its source's id. A keyframe
// packet starts a PES (PTS included) with an AUD and an IDR slice and carries the random access
// indicator; the others are continuation packets.
std::vector<std::uint8_t> ts_video(std::uint8_t source, std::size_t packets, bool keyframe_first,
                                   std::uint8_t& continuity) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i < packets; ++i) {
    const bool key = keyframe_first && i == 0;
    std::vector<std::uint8_t> packet = {0x47, static_cast<std::uint8_t>((key ? 0x40 : 0x00) | (kTsVideoPid >> 8)),
                                        static_cast<std::uint8_t>(kTsVideoPid & 0xff),
                                        static_cast<std::uint8_t>((key ? 0x30 : 0x10) | (continuity++ & 0x0f))};
    if (key) {
      packet.insert(packet.end(), {0x01, 0x40});  // adaptation field: random_access_indicator
      packet.insert(packet.end(), {0x00, 0x00, 0x01, 0xE0, 0x00, 0x00, 0x80, 0x80, 0x05, 0x21, 0x00, 0x01, 0x00, 0x01});
      packet.insert(packet.end(), {0x00, 0x00, 0x00, 0x01, 0x09, 0xF0, 0x00, 0x00, 0x00, 0x01, 0x65, 0x88});
    }
    packet.resize(kPacketBytes, source);
    out.insert(out.end(), packet.begin(), packet.end());
  }
  return out;
}

// The source ids of a viewer's video packets, in order (PAT, PMT and null packets skipped).
std::vector<std::uint8_t> video_sources(const std::vector<std::uint8_t>& stream) {
  std::vector<std::uint8_t> sources;
  for (std::size_t at = 0; at + kPacketBytes <= stream.size(); at += kPacketBytes) {
    REQUIRE(stream[at] == 0x47);
    const auto pid = static_cast<std::uint16_t>((stream[at + 1] & 0x1f) << 8 | stream[at + 2]);
    if (pid == kTsVideoPid) sources.push_back(stream[at + kPacketBytes - 1]);
  }
  return sources;
}

}  // namespace

TEST_CASE("a video joiner after a source change never starts on the old source's keyframe",
          "[source_change]") {
  const std::string workers = GENERATE("1", "2");
  INFO(workers << " workers");
  RelayProcess relay({"--grace", "3", "--workers", workers});
  const std::string mount = "/cam.ts";
  std::uint8_t continuity = 0;

  SourceConnection first = connect_source(relay.port(), source_options_for(mount));
  std::vector<std::uint8_t> bytes = ts_pat_and_pmt();
  for (int gop = 0; gop < 3; ++gop) {
    const auto video = ts_video(1, 30, true, continuity);
    bytes.insert(bytes.end(), video.begin(), video.end());
  }
  const auto tail = ts_pat_and_pmt();  // ends in a null packet: the last video packet is whole
  bytes.insert(bytes.end(), tail.begin(), tail.end());
  send_all(first.socket, bytes, Clock::now() + 10s);
  REQUIRE(wait_until([&] { return bytes_in(relay.port(), mount) == bytes.size(); }, 10s));
  REQUIRE(mount_stats(relay.port(), mount).at("video").at("keyframes") == 3);
  first.socket.close();
  REQUIRE(wait_until([&] { return !source_connected(relay.port(), mount); }, 10s));

  SourceConnection second = connect_source(relay.port(), source_options_for(mount));
  REQUIRE(source_connected(relay.port(), mount));
  auto before_keyframe = listener(relay.port(), mount);  // the new source has no keyframe yet
  std::vector<std::uint8_t> next = ts_pat_and_pmt();
  const auto leading = ts_video(2, 10, false, continuity);  // no keyframe yet
  next.insert(next.end(), leading.begin(), leading.end());
  send_all(second.socket, next, Clock::now() + 10s);
  REQUIRE(wait_until([&] { return bytes_in(relay.port(), mount) == bytes.size() + next.size(); }, 10s));
  auto still_before = listener(relay.port(), mount);
  std::vector<std::uint8_t> gop = ts_video(2, 30, true, continuity);
  const auto null_tail = ts_pat_and_pmt();
  gop.insert(gop.end(), null_tail.begin(), null_tail.end());
  send_all(second.socket, gop, Clock::now() + 10s);
  const std::uint64_t total = bytes.size() + next.size() + gop.size();
  REQUIRE(wait_until([&] { return bytes_in(relay.port(), mount) == total; }, 10s));
  auto after_keyframe = listener(relay.port(), mount);
  second.socket.close();

  for (auto* viewer : {before_keyframe.get(), still_before.get(), after_keyframe.get()}) {
    viewer->join();
    CHECK(viewer->error() == "");
    const std::vector<std::uint8_t> sources = video_sources(viewer->stream());
    REQUIRE_FALSE(sources.empty());
    for (std::uint8_t source : sources) REQUIRE(source == 2);  // not one packet of the old source
  }
  // The one who joined after the new keyframe starts on it: the PAT and PMT, then the keyframe.
  const auto& stream = after_keyframe->stream();
  REQUIRE(stream.size() >= 3 * kPacketBytes);
  CHECK(video_sources(stream).size() == 30);
  REQUIRE(relay.stop() == 0);
}
