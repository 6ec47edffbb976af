// A request waiting for its authentication: the users file's hash check on libuv's thread
// pool, then the url authenticator's answer. Owned by shared_ptr: the connection, the pool's
// work request and the HTTP callback each hold it; the connection's close clears `connection`.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <system_error>

#include "ringcast/http/http_request.h"
#include "ringcast/uv/handles.h"

namespace ringcast::relay {

class Connection;
struct AccessPolicy;
struct MountSettings;

enum class AuthKind { listener, source };

struct PendingAuth {
  AuthKind kind = AuthKind::listener;
  Connection* connection = nullptr;  // null once the connection closed
  RequestHead head;
  std::string early_body;  // a source's body bytes that came with its head
  std::shared_ptr<const AccessPolicy> policy;  // keeps `settings` alive through a reload
  const MountSettings* settings = nullptr;
  std::string user, password;
  bool unknown_user = false;   // not in the users file: checked anyway, then refused
  bool hash_matched = false;   // the pool's verdict
  std::uint64_t ticket = 0;    // the url authenticator's request in flight (0: none)
  std::optional<std::uint64_t> time_limit_seconds;  // the auth server's icecast-auth-timelimit
  uv::Work work;
  std::shared_ptr<PendingAuth> self;  // while the pool holds `work`

  // The users file's check (authenticator.cpp): on the pool, only the hash and the password
  // are touched; then back on the loop.
  void check_hash();
  void hash_checked(std::error_code error);
};

// A listener's request waiting for an edge's pull of its mount (its first answer).
struct PendingOrigin {
  Connection* connection = nullptr;  // null once the connection closed
  RequestHead head;
};

// What listener_remove needs once an admitted viewer leaves.
struct ListenerNotice {
  std::string url;
  std::string body_prefix;  // the listener_add fields; duration is appended
  std::uint32_t timeout_ms = 5000;
  std::uint64_t joined_ms = 0;
};

}  // namespace ringcast::relay
