// The registry's grace rule: a mount whose source left ends once --grace has passed since, and
// not before, whatever order the housekeeping's clock and the source's departure were read in.
#include <catch2/catch.hpp>

#include "ringcast/net/stream_registry.h"

using namespace ringcast::relay;

TEST_CASE("a mount ends only once its grace has passed since its source left", "[registry]") {
  RelayConfig config;
  StreamRegistry registry(config, 1);
  const auto attached = registry.attach_source("/live.mp3", 0, StreamMetadata{});
  REQUIRE(attached.outcome == StreamRegistry::AttachOutcome::started);
  CHECK(registry.take_expired(1'000'000, 10'000).empty());  // a source is there

  registry.detach_source(*attached.stream, 50'000, 1'700'000'000'000);
  // The housekeeping read its clock just before the source left: not "long ago".
  CHECK(registry.take_expired(49'990, 10'000).empty());
  CHECK(registry.take_expired(59'999, 10'000).empty());
  // Back within grace: resumed, and nothing expires.
  CHECK(registry.attach_source("/live.mp3", 0, StreamMetadata{}).outcome == StreamRegistry::AttachOutcome::resumed);
  CHECK(registry.take_expired(100'000, 10'000).empty());
  registry.detach_source(*attached.stream, 100'000, 1'700'000'050'000);
  const auto expired = registry.take_expired(110'000, 10'000);
  REQUIRE(expired.size() == 1);
  CHECK(expired.front()->mount() == "/live.mp3");
  CHECK(registry.find("/live.mp3") == nullptr);
}

TEST_CASE("of many mounts only the orphaned ones end, each once, however sources come and go", "[registry]") {
  RelayConfig config;
  StreamRegistry registry(config, 1);
  std::vector<std::shared_ptr<Stream>> streams;
  for (int i = 0; i < 5; ++i) {
    streams.push_back(registry.attach_source("/m" + std::to_string(i), 0, StreamMetadata{}).stream);
  }
  registry.detach_source(*streams[1], 1'000, 0);
  registry.detach_source(*streams[1], 1'500, 0);  // told twice: still one orphan
  registry.detach_source(*streams[3], 2'000, 0);
  CHECK(registry.attach_source("/m3", 0, StreamMetadata{}).outcome == StreamRegistry::AttachOutcome::resumed);
  auto expired = registry.take_expired(20'000, 10'000);
  REQUIRE(expired.size() == 1);
  CHECK(expired.front()->mount() == "/m1");
  CHECK(registry.take_expired(40'000, 10'000).empty());  // the others have sources

  // A mount that ended may start again, and end again.
  const auto again = registry.attach_source("/m1", 0, StreamMetadata{});
  CHECK(again.outcome == StreamRegistry::AttachOutcome::started);
  registry.detach_source(*again.stream, 50'000, 0);
  registry.detach_source(*streams[4], 50'000, 0);
  expired = registry.take_expired(60'000, 10'000);
  CHECK(expired.size() == 2);
  CHECK(registry.snapshot().size() == 3);
}
