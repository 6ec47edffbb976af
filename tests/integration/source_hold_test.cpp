// A source read on demand (source_hold.h): once its mount's listeners are written once per
// write period, the relay reads the source right before it writes them instead of at every
// write the source makes. Listeners still get every byte when they would have, and a silent
// source is still told from one whose few bytes wait in the kernel.
#include <catch2/catch.hpp>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "harness.h"

using namespace ringcast::integration;

namespace {

constexpr double kRadioBytesPerSecond = 16'000;  // 128 kbit/s
constexpr std::size_t kWriteBytes = 1000;        // 16 writes a second, as encoders send

SourceOptions radio_source() {
  SourceOptions options;
  options.mount = "/radio.mp3";
  options.content_type = "audio/mpeg";
  return options;
}

// Sends the pattern from `offset` in kWriteBytes writes at the radio rate for `duration`;
// returns the offset after the last byte sent.
std::uint64_t send_radio(const Socket& socket, std::uint64_t offset,
                         std::chrono::milliseconds duration) {
  const auto interval = std::chrono::duration<double>(kWriteBytes / kRadioBytesPerSecond);
  const auto start = Clock::now();
  for (int i = 0; Clock::now() - start < duration; ++i) {
    send_all(socket, pattern(offset, kWriteBytes), Clock::now() + 5s);
    offset += kWriteBytes;
    std::this_thread::sleep_until(start +
                                  std::chrono::duration_cast<Clock::duration>(interval * (i + 1)));
  }
  return offset;
}

std::uint64_t source_reads(std::uint16_t port) {
  return fetch_stats(port).at("totals").at("source_reads").get<std::uint64_t>();
}

}  // namespace

TEST_CASE(
    "a radio source whose listener is written once a second is read about that often, and the "
    "listener still gets every byte within the budget",
    "[source_hold]") {
  // --full-delay-audience 1: one listener gets the full write period (1 s for 128 kbit/s).
  RelayProcess relay({"--full-delay-audience", "1", "--grace", "1"});
  SourceConnection source = connect_source(relay.port(), radio_source());
  Viewer listener(relay.port(), "/radio.mp3");
  REQUIRE(
      wait_until([&] { return mount_stats(relay.port(), "/radio.mp3").at("viewers") == 1; }, 5s));

  const std::uint64_t reads_before = source_reads(relay.port());
  const std::uint64_t sent = send_radio(source.socket, 0, 8s);
  const std::uint64_t writes = sent / kWriteBytes;
  const std::uint64_t reads = source_reads(relay.port()) - reads_before;
  INFO("the source wrote " << writes << " times; the relay read " << reads << " times");
  // Read as bytes arrive until its rate is measured (1-2.5 s), then about once a period.
  CHECK(reads * 2 < writes);

  // The source stays connected and silent: what it sent last waited in the kernel only until
  // the listener's next write, not for more bytes to come.
  CHECK(wait_until([&] { return listener.received() == sent; }, 3s));
  listener.hang_up();
  INFO("relay log:\n" << relay.log());
  CHECK(listener.error() == "");
  CHECK(listener.checker().error() == "");
  CHECK(listener.checker().first_sequence() == 0);
  CHECK(listener.received() == sent);
  CHECK(mount_stats(relay.port(), "/radio.mp3").at("bytes_in") == sent);
  REQUIRE(relay.stop() == 0);
}

TEST_CASE(
    "a held source whose few bytes wait in the kernel is not taken for silent, and a silent one is "
    "dropped --source-timeout after its last byte",
    "[source_hold]") {
  RelayProcess relay({"--source-timeout", "4", "--grace", "1"});
  SourceConnection source = connect_source(relay.port(), radio_source());
  // Long enough for its rate to be measured: a mount with no listener is then held, read when
  // two seconds of its bytes wait (or before a listener joins).
  std::uint64_t offset = send_radio(source.socket, 0, 2500ms);

  // A trickle far below that mark, each part within the timeout of the last, the whole longer
  // than the timeout: only the relay's look before dropping it finds these bytes.
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(1500ms);  // pacing the source, not waiting for the relay
    send_all(source.socket, pattern(offset, 100), Clock::now() + 5s);
    offset += 100;
  }
  const auto silent_from = Clock::now();
  auto stats = fetch_stats(relay.port());
  CHECK(stats.at("totals").at("source_idle_timeouts") == 0);
  CHECK(stats.at("mounts").at("/radio.mp3").at("source_connected") == true);

  // Now silent, still connected: dropped --source-timeout after its last byte came, as the
  // kernel received it, not after the relay's later read of it (which would be seconds more).
  REQUIRE(wait_until(
      [&] { return fetch_stats(relay.port()).at("totals").at("source_idle_timeouts") == 1; }, 10s));
  const auto waited = Clock::now() - silent_from;
  CHECK(waited >= 3500ms);  // the timeout, less a sweep (250 ms) of rounding
  CHECK(waited < 5000ms);
  stats = fetch_stats(relay.port());
  CHECK(stats.at("mounts").at("/radio.mp3").at("bytes_in") == offset);  // the trickle was read
  INFO("relay log:\n" << relay.log());
  REQUIRE(relay.stop() == 0);
}

TEST_CASE(
    "with two loops, a listener on the other loop releases a held source, and every listener gets "
    "every byte",
    "[source_hold]") {
  // Connections go to the two loops in turn: the source, one that closes at once, then the
  // first listener, which so shares the source's loop, and the source is held.
  RelayProcess relay({"--workers", "2", "--full-delay-audience", "1", "--grace", "1"});
  SourceConnection source = connect_source(relay.port(), radio_source());
  connect_loopback(relay.port()).close();
  std::vector<std::unique_ptr<Viewer>> listeners;
  listeners.push_back(std::make_unique<Viewer>(relay.port(), "/radio.mp3"));
  REQUIRE(
      wait_until([&] { return mount_stats(relay.port(), "/radio.mp3").at("viewers") == 1; }, 5s));
  std::uint64_t reads = source_reads(relay.port());
  std::uint64_t sent = send_radio(source.socket, 0, 5s);
  reads = source_reads(relay.port()) - reads;
  INFO("alone: the source wrote " << sent / kWriteBytes << " times; the relay read " << reads
                                  << " times");
  CHECK(reads * 4 < sent / kWriteBytes * 3);  // held once its rate was known (1-2.5 s in)

  // Two more back to back: one of them is on the other loop, which hears of bytes only when
  // they are read, so the source is read as they arrive again.
  Viewer::Options options;
  options.keep_stream = true;
  for (int i = 0; i < 2; ++i)
    listeners.push_back(std::make_unique<Viewer>(relay.port(), "/radio.mp3", options));
  REQUIRE(
      wait_until([&] { return mount_stats(relay.port(), "/radio.mp3").at("viewers") == 3; }, 5s));
  const std::uint64_t before = sent;
  reads = source_reads(relay.port());
  sent = send_radio(source.socket, sent, 3s);
  reads = source_reads(relay.port()) - reads;
  INFO("with a listener elsewhere: the source wrote "
       << (sent - before) / kWriteBytes << " times; the relay read " << reads << " times");
  CHECK(reads * 2 > (sent - before) / kWriteBytes);

  // The first listener, on the source's loop, has every byte within its write period.
  CHECK(wait_until([&] { return listeners[0]->received() == sent; }, 4s));
  // The stream ends (the source leaves, then --grace): each listener gets what is left, up to
  // the source's last byte.
  source.socket.close();
  for (auto& listener : listeners) listener->join();
  INFO("relay log:\n" << relay.log());
  CHECK(listeners[0]->error() == "");
  CHECK(listeners[0]->checker().error() == "");
  CHECK(listeners[0]->checker().first_sequence() == 0);
  CHECK(listeners[0]->received() == sent);
  for (std::size_t i = 1; i < listeners.size(); ++i) {
    INFO("listener " << i);  // joined mid-stream, on an MP3 frame: its packets are not aligned
    const std::vector<std::uint8_t>& stream = listeners[i]->stream();
    CHECK(listeners[i]->error() == "");
    CHECK(listeners[i]->eof());
    REQUIRE(stream.size() >= sent - before);
    const std::size_t tail = 4 * kWriteBytes;
    CHECK(std::vector<std::uint8_t>(stream.end() - tail, stream.end()) ==
          pattern(sent - tail, tail));
  }
  REQUIRE(relay.stop() == 0);
}
