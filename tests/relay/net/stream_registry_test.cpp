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
