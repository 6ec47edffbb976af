// Listener and source authentication as Icecast does it, the pure parts: users files (hashed
// passwords), and the url authenticator's requests and answers. No I/O: hashing runs on libuv's
// thread pool and the HTTP requests on the loop's AuthClient (auth_client.h).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace ringcast::relay {

// A users file, one `user:hash` per line ('#' comments and blank lines skipped). Hashes:
// - 32 hex digits: MD5 of the password, as Icecast's htpasswd authenticator writes them;
// - crypt(3) strings from libxcrypt: bcrypt ($2b$, $2y$, $2a$), yescrypt ($y$),
//   SHA-512 and SHA-256 crypt ($6$, $5$), MD5 crypt ($1$) (`htpasswd -B`, `mkpasswd`).
// Anything else (plain text, Apache's $apr1$ and {SHA}) is refused with its line.
struct UsersFile {
  std::map<std::string, std::string, std::less<>> users;  // user -> hash
};
std::variant<UsersFile, std::string> parse_users_file(std::string_view text);

// Whether `password` matches `hash` (one of the formats above). Slow on purpose for crypt(3)
// hashes (bcrypt: tens of ms): call it off the loop. Compared in constant time.
bool password_matches(const std::string& hash, std::string_view password);

// What Icecast's url authenticator POSTs (application/x-www-form-urlencoded).
struct ListenerAuthRequest {
  std::string server;  // the host the client asked for (Host), without the port
  std::uint16_t port = 0;
  std::uint64_t client = 0;  // the connection's id
  std::string mount;  // the path with its query string, as Icecast sends it
  std::string user, password;
  std::string ip;
  std::string agent;
  std::uint64_t duration_seconds = 0;  // listener_remove only
  // The client's headers the mount forwards (Icecast's `headers` option), each as the field
  // `<prefix><Name>` (`header_prefix`, Icecast's default "ClientHeader.").
  std::vector<std::pair<std::string, std::string>> forwarded_headers;
  std::string header_prefix = "ClientHeader.";
};
std::string listener_add_body(const ListenerAuthRequest& request);
std::string listener_remove_body(const ListenerAuthRequest& request);
// action=mount_add / mount_remove: a source started or left the mount.
std::string mount_change_body(std::string_view action, std::string_view mount,
                              std::string_view server, std::uint16_t port);
// action=stream_auth: may this source broadcast on the mount?
std::string stream_auth_body(std::string_view mount, std::string_view ip, std::string_view server,
                             std::uint16_t port, std::string_view user, std::string_view password);

// The auth server's answer. Allowed only with a 2xx status and the header (Icecast's
// auth_header, default `icecast-auth-user: 1`); `message` from `icecast-auth-message`.
struct AuthAnswer {
  bool allowed = false;
  std::string message;
  // icecast-auth-timelimit: the listener may stay this many seconds, then is closed.
  std::optional<std::uint64_t> time_limit_seconds;
};
AuthAnswer read_auth_answer(long status, const std::vector<std::pair<std::string, std::string>>& headers,
                            std::string_view allow_header = "icecast-auth-user: 1");

// application/x-www-form-urlencoded escaping (space as %20, as Icecast's util_url_escape).
std::string form_escape(std::string_view text);

}  // namespace ringcast::relay
