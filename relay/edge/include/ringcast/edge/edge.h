// Edge relaying, the shared parts: origin URLs, the relay chain a pull carries (loop detection),
// and the directory of mounts this relay pulls or knows to be missing. One pull's own rules are
// pull_machine.h; the libuv side is origin_pull.h; docs/architecture.md ("Relay trees").
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringcast::relay {

// An origin: "http://[USER:PASSWORD@]HOST[:PORT][/PATH]". https is not spoken here (a TLS front
// such as haproxy terminates it; docs/operations.md). `path` is "" or starts with '/', without
// a trailing '/'. USER:PASSWORD go to the origin as Basic auth (an Icecast relay user).
struct OriginUrl {
  std::string host;  // a name, an IPv4 address or an IPv6 address (given in brackets)
  std::uint16_t port = 80;
  std::string path;
  std::string user;
  std::string password;
  std::string text;  // as configured but without the password, for logs and /stats

  // The request target for `mount` ("/live"): the origin's path prefix, then the mount.
  std::string target_for(std::string_view mount) const { return path + std::string(mount); }
  // The Host header's value.
  std::string host_header() const;
  // The Authorization header's value ("": no credentials).
  std::string authorization() const;
};
// nullopt (and *error) when `text` is not that shape.
std::optional<OriginUrl> parse_origin_url(std::string_view text, std::string* error = nullptr);

// The mounts of a master's GET /admin/streamlist.txt (Icecast 2.4's list for its slaves): one
// per line, a mount path or a full URL (its path is taken); blank lines and lines that are no
// mount name are left out, and so are repeats.
std::vector<std::string> parse_stream_list(std::string_view text);

// The relays a pull has passed through, sent as `X-Ringcast-Relay: <id>, <id>, ...` (the
// first asked first). A relay refuses (508) a request whose chain holds its own id or is
// already max_hops long: A relaying from B relaying from A stops at A's second request.
inline constexpr std::string_view kRelayChainHeader = "X-Ringcast-Relay";
inline constexpr std::size_t kDefaultMaxHops = 8;
struct RelayChain {
  std::vector<std::string> ids;

  bool contains(std::string_view id) const;
  std::size_t hops() const { return ids.size(); }
  // The header value of a pull made by `id` on behalf of this chain.
  std::string extended_by(std::string_view id) const;
};
// The chain of a request (no header: empty). Entries are trimmed; empty ones are dropped.
RelayChain parse_relay_chain(std::optional<std::string_view> value);
// Why a request with this chain must be refused (nullopt: it may be served).
std::optional<std::string_view> relay_chain_problem(const RelayChain& chain,
                                                    std::string_view own_id, std::size_t max_hops);

// Every mount this relay pulls, or was told an origin lacks. Shared by the loops; one mutex,
// taken when a viewer asks for a mount the registry does not have, when a pull changes state
// and when /stats is read: never per chunk.
class EdgeDirectory {
 public:
  enum class PullState { connecting, streaming, retrying };
  static std::string_view state_name(PullState state);

  struct PullInfo {
    std::string mount;
    std::string origin;  // the origin it reads (or last tried)
    PullState state = PullState::connecting;
    bool on_demand = true;
    std::size_t worker = 0;       // the loop that owns the pull
    std::uint64_t connects = 0;   // feeds begun (reconnects = connects - 1)
    std::uint64_t failures = 0;   // attempts that failed (refused, timed out, an error status)
    std::uint64_t failovers = 0;  // feeds from another origin than the one before
    std::uint64_t since_ms = 0;   // when it entered its state
  };

  enum class Decision {
    start,    // nobody pulls it: the caller does (it now owns the pull)
    wait,     // a pull is connecting: wait for its answer
    present,  // a pull is attached: the registry has the mount now
    missing,  // an origin said it has no such mount, not long ago: answer `status`
  };
  struct Answer {
    Decision decision = Decision::start;
    int status = 0;  // missing: the status to answer (404)
  };

  explicit EdgeDirectory(std::uint32_t missing_ttl_ms = 5'000) : missing_ttl_ms_(missing_ttl_ms) {}

  // A viewer on `worker` wants `mount`, which the registry lacks (or holds without a source).
  Answer want(const std::string& mount, std::size_t worker, std::uint64_t now_ms);
  // A static relay (config) claims its mount for `worker`; false when one already pulls it.
  bool claim(const std::string& mount, std::size_t worker, std::uint64_t now_ms);
  // The owner's pull changed state (origin: the URL it reads or tries).
  struct PullCounts {
    std::uint64_t connects = 0;   // feeds begun (reconnects = connects - 1)
    std::uint64_t failures = 0;   // attempts that failed (refused, timed out, an error status)
    std::uint64_t failovers = 0;  // feeds from another origin than the one before
  };
  void update(const std::string& mount, PullState state, const std::string& origin,
              std::uint64_t now_ms, PullCounts counts);
  // The pull ended for good. status 404: every origin said so; cached for missing_ttl_ms.
  void ended(const std::string& mount, int status, std::uint64_t now_ms);
  bool pulling(const std::string& mount) const;
  std::vector<PullInfo> snapshot() const;
  std::uint64_t missing_answers() const;  // requests answered from the cache

 private:
  struct Missing {
    std::uint64_t until_ms = 0;
    int status = 404;
  };
  const std::uint32_t missing_ttl_ms_;
  mutable std::mutex mutex_;
  std::map<std::string, PullInfo, std::less<>> pulls_;
  std::map<std::string, Missing, std::less<>> missing_;
  std::uint64_t missing_answers_ = 0;
};

}  // namespace ringcast::relay
