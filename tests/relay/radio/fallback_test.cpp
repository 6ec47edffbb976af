// Fallback chains as plain data: which mount a listener hears, and loops a config must not hold.
#include "ringcast/radio/fallback.h"

#include <catch2/catch.hpp>
#include <set>

using namespace ringcast::relay;

namespace {

struct Mounts {
  std::map<std::string, MountSettings> settings;
  std::set<std::string> live;

  void chain(const std::string& from, const std::string& to) { settings[from].fallback_mount = to; }
  std::optional<std::string> fallback_of(const std::string& mount) const {
    return live_fallback(
        mount,
        [&](std::string_view name) -> const MountSettings* {
          const auto found = settings.find(std::string(name));
          return found == settings.end() ? nullptr : &found->second;
        },
        [&](std::string_view name) { return live.count(std::string(name)) > 0; });
  }
};

}  // namespace

TEST_CASE("a listener of a mount without a source hears the first live mount down its chain", "[fallback]") {
  Mounts m;
  m.chain("/live", "/backup");
  m.chain("/backup", "/loop");
  SECTION("the next one when it is live") {
    m.live = {"/backup", "/loop"};
    CHECK(m.fallback_of("/live") == "/backup");
  }
  SECTION("further down when the next one is away too") {
    m.live = {"/loop"};
    CHECK(m.fallback_of("/live") == "/loop");
  }
  SECTION("none when nothing down the chain is live") {
    CHECK(!m.fallback_of("/live"));
  }
  SECTION("none for a mount without a fallback") {
    m.live = {"/backup"};
    CHECK(!m.fallback_of("/loop"));
    CHECK(!m.fallback_of("/unknown"));
  }
}

TEST_CASE("a fallback loop ends the walk instead of going round", "[fallback]") {
  Mounts m;
  m.chain("/a", "/b");
  m.chain("/b", "/c");
  m.chain("/c", "/a");
  CHECK(!m.fallback_of("/a"));
  m.live = {"/c"};
  CHECK(m.fallback_of("/a") == "/c");
  m.live = {"/a"};
  CHECK(!m.fallback_of("/a"));  // a mount is never its own fallback
}

TEST_CASE("a chain longer than the hop limit ends there", "[fallback]") {
  Mounts m;
  for (std::size_t i = 0; i < kMaxFallbackHops + 2; ++i) {
    m.chain("/m" + std::to_string(i), "/m" + std::to_string(i + 1));
  }
  m.live = {"/m" + std::to_string(kMaxFallbackHops + 2)};
  CHECK(!m.fallback_of("/m0"));
  m.live = {"/m" + std::to_string(kMaxFallbackHops)};
  CHECK(m.fallback_of("/m0") == "/m" + std::to_string(kMaxFallbackHops));
}

TEST_CASE("a configuration's fallback loops are found and named", "[fallback]") {
  std::map<std::string, MountSettings> mounts;
  mounts["/a"].fallback_mount = "/b";
  mounts["/b"].fallback_mount = "/c";
  CHECK(!fallback_loop(mounts));
  mounts["/c"].fallback_mount = "/a";
  CHECK(fallback_loop(mounts) == "/a -> /b -> /c -> /a");
  mounts.erase("/c");
  mounts["/b"].fallback_mount = "/b";
  CHECK(fallback_loop(mounts) == "/b -> /b");
}
