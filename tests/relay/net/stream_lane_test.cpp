// The layer that applies the lane's actions (Stream::apply), driven without a socket or a loop:
// a fake loop host (time passed in, ticks run by the test) and fake viewers that read the ring
// views they are handed, as ViewerSession writes them.
#include <catch2/catch.hpp>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "ringcast/net/lane_viewer.h"
#include "ringcast/net/stream.h"

using namespace ringcast::relay;

namespace {

class FakeHost final : public LoopHost {
 public:
  std::uint64_t now = 1'000'000;
  std::multimap<std::uint64_t, std::shared_ptr<Stream>> ticks;

  LoopLoad loop_load{};  // one viewer, idle: every commit is written at once

  std::size_t index() const override { return 0; }
  LoopLoad load() const override { return loop_load; }
  std::uint64_t now_us() const override { return now; }
  std::uint64_t now_unix_ms() const override { return 1'700'000'000'000 + now / 1000; }
  void post_to(std::size_t, LoopEvent&&) override {}  // one loop: nothing to tell others
  void schedule_tick(std::shared_ptr<Stream> stream, std::uint64_t due_us) override {
    ticks.emplace(due_us, std::move(stream));
  }
  void resume_sources(const Stream*) override {}
  void note_period(std::uint64_t) override {}

  // Time passes to `until`, running the lanes' ticks due by then, in order.
  void run_until(std::uint64_t until) {
    while (!ticks.empty() && ticks.begin()->first <= until) {
      const auto [due, stream] = *ticks.begin();
      ticks.erase(ticks.begin());
      now = std::max(now, due);
      stream->on_tick(*this, due);
    }
    now = until;
  }
};

// A viewer whose socket takes everything at once (or, stuck, takes nothing and keeps its
// write in flight), keeping the bytes it was handed.
class FakeViewer final : public LaneViewer {
 public:
  FakeViewer(Stream& stream) : stream_(stream) {}

  WriteResult write_views(std::uint64_t from, std::uint64_t to, std::uint64_t,
                          std::uint64_t) override {
    if (!stream_.pin(0, from)) return {WriteResult::Outcome::lapped, from};
    if (stuck) {
      in_flight_from = from;
      return {WriteResult::Outcome::written, from, false};
    }
    const auto views = stream_.ring().pinned_views(from, to);
    if (received.empty()) first = from;
    REQUIRE(first + received.size() == from);  // contiguous: nothing skipped, nothing twice
    for (std::size_t i = 0; i < views.count; ++i) {
      const auto* bytes =
          reinterpret_cast<const char*>(stream_.ring().data()) + views.parts[i].offset;
      received.append(bytes, views.parts[i].length);
    }
    return {WriteResult::Outcome::written, to, true};
  }
  void skipped(std::uint64_t bytes) override { skipped_bytes += bytes; }
  void close_slow(CloseReason reason) override { closed = reason; }
  void finish() override { finished = true; }
  std::uint64_t accepted_position() const override { return in_flight_from; }

  bool stuck = false;
  std::uint64_t in_flight_from = 0;
  std::uint64_t first = 0;
  std::string received;
  std::uint64_t skipped_bytes = 0;
  std::optional<CloseReason> closed;
  bool finished = false;

 private:
  Stream& stream_;
};

// Byte i of the source's stream.
char pattern_at(std::uint64_t i) {
  return static_cast<char>((i * 131 + i / 251) & 0xff);
}

// The source writes `total` bytes in `chunk`-byte reads, `every_us` apart.
void broadcast(Stream& stream, FakeHost& host, std::uint64_t& written, std::uint64_t total,
               std::size_t chunk, std::uint64_t every_us) {
  const std::uint64_t end = written + total;
  while (written < end) {
    const auto span =
        stream.reserve_for_source(std::min<std::uint64_t>(chunk, end - written), host);
    REQUIRE_FALSE(span.empty());  // the writer is never kept waiting by a viewer
    for (std::size_t i = 0; i < span.size(); ++i)
      span[i] = static_cast<std::byte>(pattern_at(written + i));
    stream.commit_from_source(span.size(), host);
    written += span.size();
    host.run_until(host.now + every_us);
  }
}

bool is_stream_slice(const FakeViewer& viewer) {
  for (std::size_t i = 0; i < viewer.received.size(); ++i) {
    if (viewer.received[i] != pattern_at(viewer.first + i)) return false;
  }
  return true;
}

// A viewer joins and its head is out: the lane writes to it from now on.
JoinPoint join(Stream& stream, FakeHost& host, FakeViewer& viewer) {
  const JoinPoint point = stream.add_viewer(host, viewer);
  stream.start_viewer(host, point.id);
  return point;
}

std::shared_ptr<Stream> radio_mount(FakeHost& host) {
  FanoutSettings settings;
  auto stream = std::make_shared<Stream>("/radio", settings, 256 * 1024, 1);
  StreamMetadata metadata;
  stream->attach_source(host.index(), metadata);
  return stream;
}

}  // namespace

TEST_CASE(
    "the lane's writes reach each viewer as the source's bytes, in order, through the latency "
    "budget",
    "[stream]") {
  FakeHost host;
  auto stream = radio_mount(host);
  std::uint64_t written = 0;
  broadcast(*stream, host, written, 32 * 1024, 4096, 20'000);  // a burst to join into

  FakeViewer early(*stream), late(*stream);
  const JoinPoint first = join(*stream, host, early);
  broadcast(*stream, host, written, 64 * 1024, 4096, 20'000);
  const JoinPoint second = join(*stream, host, late);
  broadcast(*stream, host, written, 128 * 1024, 4096, 20'000);
  host.run_until(host.now + 2'000'000);  // past the latency budget: every byte is out

  for (const FakeViewer* viewer : {&early, &late}) {
    CHECK(viewer->first + viewer->received.size() == written);  // up to the live edge
    CHECK(is_stream_slice(*viewer));
    CHECK(viewer->skipped_bytes == 0);
    CHECK_FALSE(viewer->closed);
  }
  CHECK(early.first == first.position);
  CHECK(late.first == second.position);
  CHECK(late.first > early.first);  // it joined a burst behind the later live edge
}

TEST_CASE(
    "a viewer stuck with a write in flight is closed when the writer needs its memory, and the "
    "source and the other viewer never wait",
    "[stream]") {
  FakeHost host;
  auto stream = radio_mount(host);
  std::uint64_t written = 0;
  broadcast(*stream, host, written, 32 * 1024, 4096, 20'000);
  FakeViewer stuck(*stream), healthy(*stream);
  stuck.stuck = true;
  join(*stream, host, stuck);
  join(*stream, host, healthy);

  // Four rings' worth: the stuck viewer's write pins memory the writer comes back to.
  broadcast(*stream, host, written, 4 * 256 * 1024, 4096, 20'000);
  host.run_until(host.now + 2'000'000);

  REQUIRE(stuck.closed);
  CHECK(*stuck.closed == CloseReason::stalled);
  CHECK(stuck.received.empty());
  CHECK_FALSE(healthy.closed);
  CHECK(healthy.first + healthy.received.size() == written);
  CHECK(is_stream_slice(healthy));
}

namespace {

// A source whose bytes wait in its "kernel" until the stream asks for them (HeldSource), as
// SourceSession's socket holds them under SO_RCVLOWAT.
class FakeHeldSource final : public HeldSource {
 public:
  FakeHeldSource(Stream& stream, FakeHost& host, std::uint64_t& written)
      : stream_(stream), host_(host), written_(written) {}

  void send(std::size_t bytes) { waiting += bytes; }
  void read_now() override {
    ++reads;
    while (waiting > 0) {
      const auto span = stream_.reserve_for_source(waiting, host_);
      REQUIRE_FALSE(span.empty());
      for (std::size_t i = 0; i < span.size(); ++i)
        span[i] = static_cast<std::byte>(pattern_at(written_ + i));
      stream_.commit_from_source(span.size(), host_);
      written_ += span.size();
      waiting -= span.size();
    }
  }
  void release() override {
    released = true;
    stream_.hold_source(host_, nullptr);
  }

  std::size_t waiting = 0;
  std::size_t reads = 0;
  bool released = false;

 private:
  Stream& stream_;
  FakeHost& host_;
  std::uint64_t& written_;
};

}  // namespace

TEST_CASE(
    "a held source is read at the lane's ticks and before a join, and its viewers get every byte "
    "as they would have",
    "[stream]") {
  FakeHost host;
  host.loop_load = {800, 0};  // a full audience: 16 KiB writes, the 1 s budget
  auto stream = radio_mount(host);
  std::uint64_t written = 0;
  FakeViewer listener(*stream);
  join(*stream, host, listener);
  // 2 s of 128 kbit/s read as it arrives, 1 KiB every 64 ms: the lane measures the rate.
  broadcast(*stream, host, written, 32 * 1024, 1024, 64'000);
  host.run_until(host.now + 2'000'000);
  REQUIRE(listener.first + listener.received.size() == written);

  FakeHeldSource source(*stream, host, written);
  stream->hold_source(host, &source);
  // 4 s of the same source, its bytes left in the kernel: only the lane's ticks read them.
  for (int i = 0; i < 64; ++i) {
    source.send(1024);
    host.run_until(host.now + 64'000);
  }
  CHECK(source.reads >= 3);  // once a period for the one slot with a viewer
  CHECK(source.reads <= 6);
  CHECK(listener.first + listener.received.size() + source.waiting == 32 * 1024 + 64 * 1024);

  // A second viewer: what waits is read first, so its burst ends at the source's last byte.
  source.send(1024);
  FakeViewer joiner(*stream);
  const std::size_t reads = source.reads;
  join(*stream, host, joiner);
  CHECK(source.reads == reads + 1);
  CHECK(source.waiting == 0);
  CHECK(joiner.first + joiner.received.size() == written);
  CHECK_FALSE(source.released);  // the lane has its wheel: the hold stays

  host.run_until(host.now + 2'000'000);  // a period and more: every byte is out
  for (const FakeViewer* viewer : {&listener, &joiner}) {
    CHECK(viewer->first + viewer->received.size() == written);
    CHECK(is_stream_slice(*viewer));
    CHECK(viewer->skipped_bytes == 0);
  }
}

TEST_CASE("the first viewer of a held mount has the source read for it, then released", "[stream]") {
  FakeHost host;
  host.loop_load = {800, 0};
  auto stream = radio_mount(host);
  std::uint64_t written = 0;
  broadcast(*stream, host, written, 32 * 1024, 1024, 64'000);
  FakeHeldSource source(*stream, host, written);
  stream->hold_source(host, &source);
  source.send(4096);
  host.run_until(host.now + 3'000'000);  // no viewer, no tick: the bytes wait
  CHECK(source.reads == 0);

  FakeViewer listener(*stream);
  join(*stream, host, listener);
  CHECK(source.reads == 1);
  CHECK(source.released);  // no wheel yet to read it for this viewer: as bytes arrive again
  CHECK(listener.first + listener.received.size() == written);
  CHECK(is_stream_slice(listener));
}
