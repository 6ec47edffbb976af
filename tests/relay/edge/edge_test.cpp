// Edge relaying's pure rules: origin URLs, relay chains and the directory of pulls.
#include "ringcast/edge/edge.h"

#include <catch2/catch.hpp>

#include "ringcast/http/http_request.h"

using namespace ringcast::relay;

TEST_CASE("origin URLs: host, port and path prefix", "[edge]") {
  auto url = parse_origin_url("http://10.0.0.1:8000");
  REQUIRE(url);
  CHECK(url->host == "10.0.0.1");
  CHECK(url->port == 8000);
  CHECK(url->path.empty());
  CHECK(url->target_for("/live") == "/live");
  CHECK(url->host_header() == "10.0.0.1:8000");

  url = parse_origin_url("http://origin.example/edge/");
  REQUIRE(url);
  CHECK(url->host == "origin.example");
  CHECK(url->port == 80);
  CHECK(url->path == "/edge");
  CHECK(url->target_for("/live") == "/edge/live");
  CHECK(url->host_header() == "origin.example");

  url = parse_origin_url("http://[::1]:8001/radio.mp3");
  REQUIRE(url);
  CHECK(url->host == "::1");
  CHECK(url->port == 8001);
  CHECK(url->path == "/radio.mp3");
  CHECK(url->host_header() == "[::1]:8001");
}

TEST_CASE("origin URLs may carry a relay user's credentials, never shown", "[edge]") {
  const auto url = parse_origin_url("http://relay:s3cr@t@origin:8000/radio.mp3");
  REQUIRE(url);
  CHECK(url->user == "relay");
  CHECK(url->password == "s3cr@t");
  CHECK(url->host == "origin");
  CHECK(url->path == "/radio.mp3");
  CHECK(url->text == "http://relay@origin:8000/radio.mp3");
  CHECK(url->authorization() == "Basic " + encode_base64("relay:s3cr@t"));
  CHECK(encode_base64("relay:hackme") == "cmVsYXk6aGFja21l");
  CHECK(encode_base64("ab") == "YWI=");
  CHECK(encode_base64("a") == "YQ==");
  CHECK(parse_origin_url("http://origin:8000")->authorization().empty());
  std::string error;
  CHECK_FALSE(parse_origin_url("http://:pw@origin:8000", &error));
  CHECK(error.find("pw") == std::string::npos);  // the password is not repeated in the error
}

TEST_CASE("a master's stream list: mounts and URLs, one per line, nothing else", "[edge]") {
  CHECK(parse_stream_list("/radio.mp3\n/talk.mp3\n") ==
        std::vector<std::string>{"/radio.mp3", "/talk.mp3"});
  CHECK(parse_stream_list("/a.mp3\r\n\r\n  /b.ogg  \r\nhttp://other:8000/c.mp3\n/a.mp3\n") ==
        std::vector<std::string>{"/a.mp3", "/b.ogg", "/c.mp3"});
  CHECK(parse_stream_list("").empty());
  CHECK(parse_stream_list("<html>not found</html>\nrelative.mp3\n/bad path\nhttp://host-only\n")
            .empty());
  CHECK(parse_stream_list("/last-without-newline") ==
        std::vector<std::string>{"/last-without-newline"});
}

TEST_CASE("origin URLs that are refused say why", "[edge]") {
  std::string error;
  for (const char* bad :
       {"https://origin:8000", "ftp://origin", "http://", "http://:8000", "http://host:0",
        "http://host:65536", "http://host:", "http://host:80x", "http://[::1", "http://[zz]:80",
        "http://ho st:80", "http://host/a?b=c", "http://host/../x", "origin:8000"}) {
    INFO(bad);
    error.clear();
    CHECK_FALSE(parse_origin_url(bad, &error));
    CHECK_FALSE(error.empty());
  }
  CHECK(parse_origin_url("https://o", &error) == std::nullopt);
  CHECK(error.find("TLS") != std::string::npos);
}

TEST_CASE("relay chains: parsed, extended, and loops refused", "[edge]") {
  CHECK(parse_relay_chain(std::nullopt).hops() == 0);
  const RelayChain chain = parse_relay_chain(" a1 ,b2,, c3 ");
  REQUIRE(chain.ids == std::vector<std::string>{"a1", "b2", "c3"});
  CHECK(chain.contains("b2"));
  CHECK_FALSE(chain.contains("b"));
  CHECK(chain.extended_by("d4") == "a1, b2, c3, d4");
  CHECK(RelayChain{}.extended_by("me") == "me");

  CHECK_FALSE(relay_chain_problem(chain, "me", 8));
  CHECK(relay_chain_problem(chain, "b2", 8));  // it passed here before: a loop
  CHECK(relay_chain_problem(chain, "me", 3));  // three hops already
  CHECK_FALSE(relay_chain_problem(chain, "me", 4));
  // A relays from B relays from A: A's own pull comes back with A in its chain.
  const RelayChain from_a = parse_relay_chain(RelayChain{}.extended_by("A"));
  const RelayChain from_b = parse_relay_chain(from_a.extended_by("B"));
  CHECK_FALSE(relay_chain_problem(from_a, "B", kDefaultMaxHops));
  CHECK(relay_chain_problem(from_b, "A", kDefaultMaxHops));
}

TEST_CASE("the directory: one pull per mount, waiters, and a short memory of missing mounts",
          "[edge]") {
  EdgeDirectory directory(5'000);
  CHECK(directory.want("/a", 0, 100).decision == EdgeDirectory::Decision::start);
  CHECK(directory.pulling("/a"));
  // Others wait for its first answer, on any loop.
  CHECK(directory.want("/a", 1, 110).decision == EdgeDirectory::Decision::wait);
  CHECK(directory.want("/a", 0, 120).decision == EdgeDirectory::Decision::wait);
  directory.update("/a", EdgeDirectory::PullState::streaming, "http://o1", 130, {1, 0, 0});
  CHECK(directory.want("/a", 1, 140).decision == EdgeDirectory::Decision::present);
  // Reconnecting after a loss: still present (the mount is orphaned, its viewers wait).
  directory.update("/a", EdgeDirectory::PullState::retrying, "http://o2", 150, {1, 0, 0});
  CHECK(directory.want("/a", 1, 160).decision == EdgeDirectory::Decision::present);
  directory.update("/a", EdgeDirectory::PullState::retrying, "http://o2", 160, {2, 1, 1});

  const auto pulls = directory.snapshot();
  REQUIRE(pulls.size() == 1);
  CHECK(pulls[0].mount == "/a");
  CHECK(pulls[0].origin == "http://o2");
  CHECK(pulls[0].state == EdgeDirectory::PullState::retrying);
  CHECK(pulls[0].connects == 2);
  CHECK(pulls[0].failovers == 1);
  CHECK(pulls[0].failures == 1);
  CHECK(pulls[0].worker == 0);
  CHECK(pulls[0].since_ms == 150);

  // Lingered out: the next viewer starts a new pull.
  directory.ended("/a", 0, 200);
  CHECK_FALSE(directory.pulling("/a"));
  CHECK(directory.want("/a", 1, 210).decision == EdgeDirectory::Decision::start);

  // Missing at every origin: 404 from the cache until it expires, without a pull.
  CHECK(directory.want("/gone", 0, 1000).decision == EdgeDirectory::Decision::start);
  directory.ended("/gone", 404, 1100);
  for (std::uint64_t now = 1100; now < 6100; now += 500) {
    const auto answer = directory.want("/gone", 1, now);
    CHECK(answer.decision == EdgeDirectory::Decision::missing);
    CHECK(answer.status == 404);
  }
  CHECK(directory.missing_answers() == 10);
  CHECK(directory.want("/gone", 1, 6100).decision == EdgeDirectory::Decision::start);
  // Other failures (502) are not remembered: the next viewer tries again.
  directory.ended("/gone", 502, 6200);
  CHECK(directory.want("/gone", 1, 6300).decision == EdgeDirectory::Decision::start);
}

TEST_CASE("static relays claim their mount once", "[edge]") {
  EdgeDirectory directory;
  CHECK(directory.claim("/s", 1, 10));
  CHECK_FALSE(directory.claim("/s", 0, 20));
  CHECK(directory.want("/s", 0, 30).decision == EdgeDirectory::Decision::wait);
  const auto pulls = directory.snapshot();
  REQUIRE(pulls.size() == 1);
  CHECK_FALSE(pulls[0].on_demand);
  CHECK(pulls[0].worker == 1);
}
