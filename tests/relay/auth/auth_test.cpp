// Users files, password hashes and the url authenticator's forms and answers, as plain data.
#include "ringcast/auth/auth.h"

#include <crypt.h>

#include <catch2/catch.hpp>

using namespace ringcast::relay;

namespace {

std::string crypt_hash(const char* prefix, const char* password) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  REQUIRE(crypt_gensalt_rn(prefix, prefix[1] == '2' ? 4 : 0, nullptr, 0, salt, sizeof salt) != nullptr);
  crypt_data data{};
  const char* hash = crypt_r(password, salt, &data);
  REQUIRE(hash != nullptr);
  return hash;
}

}  // namespace

TEST_CASE("a users file lists user:hash lines, skipping comments and blank lines", "[auth]") {
  const auto parsed = parse_users_file(
      "# listeners\n\nalice:5f4dcc3b5aa765d61d8327deb882cf99\r\n  bob:$6$salt$abc\n");
  REQUIRE(std::holds_alternative<UsersFile>(parsed));
  const UsersFile& file = std::get<UsersFile>(parsed);
  CHECK(file.users.size() == 2);
  CHECK(file.users.at("alice") == "5f4dcc3b5aa765d61d8327deb882cf99");
  CHECK(file.users.at("bob") == "$6$salt$abc");
}

TEST_CASE("a users file with a plain or unknown hash, a line without a colon or a repeat is refused",
          "[auth]") {
  const auto problem = [](std::string_view text) {
    const auto parsed = parse_users_file(text);
    REQUIRE(std::holds_alternative<std::string>(parsed));
    return std::get<std::string>(parsed);
  };
  CHECK(problem("alice:password\n").rfind("line 1: ", 0) == 0);
  CHECK(problem("a:5f4dcc3b5aa765d61d8327deb882cf99\nbob:$apr1$x$y\n").rfind("line 2: ", 0) == 0);
  CHECK(problem("no colon here\n").find("user:hash") != std::string::npos);
  CHECK(problem("a:5f4dcc3b5aa765d61d8327deb882cf99\na:5f4dcc3b5aa765d61d8327deb882cf99\n").find("twice") !=
        std::string::npos);
}

TEST_CASE("passwords are checked against Icecast's MD5 hex and crypt(3) hashes", "[auth]") {
  SECTION("MD5 hex, as Icecast's htpasswd authenticator stores it, in either case") {
    CHECK(password_matches("5f4dcc3b5aa765d61d8327deb882cf99", "password"));
    CHECK(password_matches("5F4DCC3B5AA765D61D8327DEB882CF99", "password"));
    CHECK(!password_matches("5f4dcc3b5aa765d61d8327deb882cf99", "Password"));
  }
  for (const char* prefix : {"$2b$", "$y$", "$6$", "$5$", "$1$"}) {
    SECTION(std::string("crypt ") + prefix) {
      const std::string hash = crypt_hash(prefix, "s3cret");
      CHECK(password_matches(hash, "s3cret"));
      CHECK(!password_matches(hash, "s3cret "));
      CHECK(!password_matches(hash, ""));
    }
  }
  CHECK(!password_matches("$6$broken", "x"));
  CHECK(!password_matches("plain", "plain"));
}

TEST_CASE("listener_add and listener_remove carry Icecast's fields, form-escaped", "[auth]") {
  ListenerAuthRequest request;
  request.server = "radio.test";
  request.port = 8000;
  request.client = 42;
  request.mount = "/radio.mp3";
  request.user = "al ice";
  request.password = "p&w=1";
  request.ip = "127.0.0.1";
  request.agent = "VLC/3.0";
  CHECK(listener_add_body(request) ==
        "action=listener_add&server=radio.test&port=8000&client=42&mount=%2Fradio.mp3"
        "&user=al%20ice&pass=p%26w%3D1&ip=127.0.0.1&agent=VLC%2F3.0");
  request.duration_seconds = 75;
  CHECK(listener_remove_body(request).rfind("action=listener_remove&", 0) == 0);
  CHECK(listener_remove_body(request).find("&duration=75") != std::string::npos);
  CHECK(mount_change_body("mount_add", "/radio.mp3", "radio.test", 8000) ==
        "action=mount_add&mount=%2Fradio.mp3&server=radio.test&port=8000");
  CHECK(stream_auth_body("/radio.mp3", "10.0.0.1", "radio.test", 8000, "source", "pw") ==
        "action=stream_auth&mount=%2Fradio.mp3&ip=10.0.0.1&server=radio.test&port=8000&user=source"
        "&pass=pw&admin=0");
}

TEST_CASE("an auth server allows only with a 2xx answer that carries the allow header", "[auth]") {
  using Headers = std::vector<std::pair<std::string, std::string>>;
  CHECK(read_auth_answer(200, Headers{{"Icecast-Auth-User", "1"}}).allowed);
  CHECK(!read_auth_answer(200, Headers{{"icecast-auth-user", "0"}}).allowed);
  CHECK(!read_auth_answer(200, Headers{}).allowed);
  CHECK(!read_auth_answer(500, Headers{{"icecast-auth-user", "1"}}).allowed);
  const AuthAnswer denied = read_auth_answer(200, Headers{{"icecast-auth-message", "banned"}});
  CHECK(!denied.allowed);
  CHECK(denied.message == "banned");
  CHECK(read_auth_answer(200, Headers{{"X-Allow", "yes"}}, "x-allow: yes").allowed);
}

TEST_CASE("url auth: the auth server's time limit is read, and forwarded client headers are fields",
          "[auth]") {
  const AuthAnswer limited = read_auth_answer(200, {{"icecast-auth-user", "1"}, {"Icecast-Auth-Timelimit", "3600"}});
  CHECK(limited.allowed);
  CHECK(limited.time_limit_seconds == 3600u);
  CHECK_FALSE(read_auth_answer(200, {{"icecast-auth-user", "1"}, {"icecast-auth-timelimit", "soon"}})
                  .time_limit_seconds.has_value());
  CHECK_FALSE(read_auth_answer(200, {{"icecast-auth-user", "1"}, {"icecast-auth-timelimit", "0"}})
                  .time_limit_seconds.has_value());

  ListenerAuthRequest request;
  request.mount = "/paid.mp3?token=a b";
  request.forwarded_headers = {{"X-Token", "t&k"}, {"Referer", "https://example.org/"}};
  const std::string body = listener_add_body(request);
  CHECK(body.find("&mount=%2Fpaid.mp3%3Ftoken%3Da%20b&") != std::string::npos);
  CHECK(body.ends_with("&ClientHeader.X-Token=t%26k&ClientHeader.Referer=https%3A%2F%2Fexample.org%2F"));
  request.header_prefix = "h_";
  CHECK(listener_add_body(request).ends_with("&h_Referer=https%3A%2F%2Fexample.org%2F"));
}
