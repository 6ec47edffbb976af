// Who may listen and who may broadcast, as pure functions: a request head, the mounts it may
// reach and the relay's policy in; one decision out (serve this mount, answer a HEAD or
// Safari's probe, accept a source, ask the authenticator or an origin, or refuse with a status
// and a reason). Worker carries the decision out: the sockets, the log line and the counters
// are its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ringcast/core/config.h"
#include "ringcast/http/http_request.h"

namespace ringcast::relay {

// What admission reads of a mount (a snapshot the caller takes from its registry).
struct MountState {
  bool has_source = false;
  std::size_t viewers = 0;
};

// The mounts a request may reach: the one asked for and those down its fallback chain.
class MountLookup {
 public:
  virtual ~MountLookup() = default;
  virtual std::optional<MountState> find(std::string_view mount) const = 0;
  virtual const MountSettings* settings(std::string_view mount) const = 0;
  // The Content-Type a mount's source declared (or its settings replace), asked only of the
  // mount that serves.
  virtual std::string content_type(std::string_view mount) const = 0;
};

// The relay-wide part of the policy, and what this request's loop knows of it.
struct ViewerPolicy {
  bool draining = false;
  std::size_t max_mount_length = 128;
  std::uint32_t icy_metaint = 0;          // ICY listeners' interval unless the mount sets one
  std::size_t max_viewers_per_mount = 0;  // 0: no limit, unless the mount sets one
  // Relay trees: this relay's id and the chain's hop limit (X-Ringcast-Relay), whether the
  // path is one this relay pulls from an origin, and whether the origin was asked already
  // (the second pass, after Worker found the pull present or in its grace).
  std::string_view relay_id;
  std::size_t relay_max_hops = 8;
  bool relays_mount = false;
  bool origin_asked = false;
};

// The counter a refusal adds to (WorkerCounters' names).
enum class Refusal {
  bad_request,
  relay_loop,
  draining,
  not_found,
  over_limit,
  mount_in_use,
  auth_failure
};

// A refusal: what the peer reads, and what the log line says.
struct Refused {
  int status = 0;
  std::string body;    // the answer's text, "\n"-terminated
  std::string reason;  // for the log line
  Refusal refusal = Refusal::bad_request;
  bool close = true;  // close after the answer (not a drain's 503, nor a 401 asking again)
  bool retry_after = false;
  // The log line's level: a warning when worth one, debug for a routine refusal (libshout
  // asks without credentials first and again with them after the 401).
  enum class Level { debug, info, warn };
  Level level = Level::info;
};

struct ViewerAdmission {
  enum class Outcome {
    refuse,        // status, body, reason
    ask_origin,    // an edge without the mount live: Worker asks the directory of pulls
    authenticate,  // the mount authenticates listeners: ask before anything else is answered
    answer_head,   // HEAD: the mount's answer head, no listener
    answer_probe,  // Safari's "Range: bytes=0-1": two bytes of the stream, no listener
    join,          // a listener of `mount`
  };
  Outcome outcome = Outcome::refuse;

  Refused refused;  // refuse

  // ask_origin: whether the mount exists here (its source away): its listeners may wait in
  // its grace rather than for the pull's answer.
  bool mount_present = false;

  // answer_head, answer_probe, join
  std::string mount;  // the mount that serves: the one asked for, or a fallback
  bool sent_to_fallback_when_full = false;
  std::size_t max_viewers = 0;  // of the mount asked for (for the log line of a full one)
  std::uint32_t metaint = 0;    // 0: no ICY metadata
  // join
  std::optional<std::uint64_t> rewind_ms;
  // Icecast's duplicate-user rule applies: Worker takes the user's place on the mount, and
  // answers 403 if another connection holds it.
  bool one_connection_per_user = false;
};

// `user`: the name the listener authenticated with ("" if none; `authenticated` tells whether
// the authenticator allowed the request already).
ViewerAdmission admit_viewer(const RequestHead& head, bool authenticated, std::string_view user,
                             const MountLookup& mounts, const ViewerPolicy& policy);

// The first live mount down `mount`'s fallback chain, `mount` excluded; with `with_room`, the
// first that is also below its listener limit (fallback_when_full).
std::optional<std::string> live_fallback_of(std::string_view mount, const MountLookup& mounts,
                                            std::size_t max_viewers_per_mount, bool with_room);

// The user name a source authenticates with (Icecast's, whatever the client sends).
inline constexpr std::string_view kSourceUser = "source";

// The relay-wide part of a source's policy.
struct SourcePolicy {
  bool draining = false;
  std::size_t max_mount_length = 128;
  std::string_view source_password;  // the mount's own, else the relay's
};

struct SourceAdmission {
  enum class Outcome {
    refuse,        // refused; a 401 is a challenge (the realm's), the connection kept
    authenticate,  // the mount's stream_auth URL decides instead of the password
    accept,        // Worker attaches the source (which may still find too many mounts, or one live)
  };
  Outcome outcome = Outcome::refuse;
  Refused refused;
  // accept
  bool chunked = false;            // ffmpeg's -method PUT, GStreamer, curl -T -
  bool continue_expected = false;  // Expect: 100-continue: Icecast answers 100 Continue, not 200
};

// `authenticated`: the stream_auth URL allowed it already.
SourceAdmission admit_source(const RequestHead& head, bool authenticated, const MountLookup& mounts,
                             const SourcePolicy& policy);

// Why `mount` may not take a source (a path the relay serves for itself, an HLS path, a path
// under an existing mount), or nullopt. The namespace rule of docs/protocol.md, "Paths".
std::optional<std::string> path_taken_for_source(std::string_view mount, const MountLookup& mounts);

// A path that is no mount name (mount_name_problem) refused with 400: listeners, sources and
// HLS requests alike.
std::optional<Refused> bad_mount_name(std::string_view path, std::size_t max_length);

// A mount's listener limit: its own, else the relay's (0: no limit).
std::size_t max_viewers_of(const MountSettings* settings, std::size_t relay_default);

// Ogg and WebM carry their metadata in the stream; Icecast inserts no ICY blocks there either.
bool carries_own_metadata(std::string_view content_type);

}  // namespace ringcast::relay
