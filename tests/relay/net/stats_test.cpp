// The dashboard's history sample is taken without rendering /stats: it must hold the very
// numbers /stats shows.
#include "ringcast/net/stats.h"

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

using namespace ringcast::relay;

namespace {

std::shared_ptr<Stream> mount(const std::string& name, std::uint64_t viewers,
                              std::uint64_t bytes_out) {
  auto stream = std::make_shared<Stream>(name, FanoutSettings{}, 64 * 1024, 2);
  stream->lane(0).viewer_count.store(viewers);
  stream->lane(1).viewer_count.store(1);
  stream->lane(0).bytes_out.add(bytes_out);
  stream->lane(1).bytes_out.add(7);
  return stream;
}

}  // namespace

TEST_CASE("the history sample holds what /stats renders, mounts in its order", "[stats]") {
  WorkerCounters first, second;
  first.connections_accepted.add(40);
  first.connections_closed.add(10);
  second.connections_accepted.add(5);
  first.bytes_out.add(123'456);
  second.bytes_out.add(654'321);
  first.auth_failures.add(3);
  second.over_limit.add(2);
  first.bad_requests.add(1);
  EndedTotals ended;
  ended.streams.add(1);
  ended.bytes_in.add(999);
  // Not in name order, as a registry of any other kind might hold them.
  StatsInput input{{&first, &second}, 0, 0, ended, {}, 12'345, "test", 0, {}, "relay-test"};
  input.streams = {mount("/zeta.mp3", 4, 1000), mount("/alpha.ogg", 0, 0),
                   mount("/mid.aac", 12, 50'000)};
  input.now_ms = 1;

  HistorySample sampled;
  sampled.mounts.resize(5);  // storage from an earlier sample with more mounts: reused
  history_sample(input, sampled);
  const auto rendered = history_sample_from_stats(render_stats_json(input));
  REQUIRE(rendered);

  CHECK(sampled.relay.uptime_seconds == rendered->relay.uptime_seconds);
  CHECK(sampled.relay.viewers == rendered->relay.viewers);
  CHECK(sampled.relay.viewers == 4 + 1 + 0 + 1 + 12 + 1);
  CHECK(sampled.relay.connections_open == rendered->relay.connections_open);
  CHECK(sampled.relay.bytes_in == rendered->relay.bytes_in);
  CHECK(sampled.relay.bytes_out == rendered->relay.bytes_out);
  CHECK(sampled.relay.refused == rendered->relay.refused);
  CHECK(sampled.relay.refused == 6);
  REQUIRE(sampled.mounts.size() == rendered->mounts.size());
  for (std::size_t i = 0; i < sampled.mounts.size(); ++i) {
    INFO("mount " << i);
    CHECK(sampled.mounts[i].mount == rendered->mounts[i].mount);
    CHECK(sampled.mounts[i].ingest_bitrate == rendered->mounts[i].ingest_bitrate);
    CHECK(sampled.mounts[i].viewers == rendered->mounts[i].viewers);
    CHECK(sampled.mounts[i].bytes_out == rendered->mounts[i].bytes_out);
  }
  CHECK(sampled.mounts[0].mount == "/alpha.ogg");
  CHECK(sampled.mounts[2].mount == "/zeta.mp3");
  CHECK(sampled.mounts[2].bytes_out == 1007);
}
