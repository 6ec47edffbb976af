// Users files, password hashes and the url authenticator's forms (auth.h).
#include "ringcast/auth/auth.h"

#include <charconv>

#include <crypt.h>
#include <openssl/evp.h>
#include <strings.h>

#include <algorithm>
#include <cctype>

#include "ringcast/http/http_request.h"

namespace ringcast::relay {

namespace {

bool is_md5_hex(std::string_view hash) {
  return hash.size() == 32 && std::all_of(hash.begin(), hash.end(), [](unsigned char c) {
           return std::isxdigit(c) != 0;
         });
}

bool is_crypt_hash(std::string_view hash) {
  for (const std::string_view prefix : {"$2b$", "$2y$", "$2a$", "$y$", "$6$", "$5$", "$1$"}) {
    if (hash.substr(0, prefix.size()) == prefix) return true;
  }
  return false;
}

std::string md5_hex(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), digest, &length, EVP_md5(), nullptr);
  static const char* digits = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex += digits[digest[i] >> 4];
    hex += digits[digest[i] & 15];
  }
  return hex;
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

void add_field(std::string& body, std::string_view name, std::string_view value) {
  if (!body.empty()) body += '&';
  body += name;
  body += '=';
  body += form_escape(value);
}

std::string listener_fields(std::string_view action, const ListenerAuthRequest& r) {
  std::string body;
  add_field(body, "action", action);
  add_field(body, "server", r.server);
  add_field(body, "port", std::to_string(r.port));
  add_field(body, "client", std::to_string(r.client));
  add_field(body, "mount", r.mount);
  add_field(body, "user", r.user);
  add_field(body, "pass", r.password);
  add_field(body, "ip", r.ip);
  add_field(body, "agent", r.agent);
  for (const auto& [name, value] : r.forwarded_headers) add_field(body, r.header_prefix + name, value);
  return body;
}

}  // namespace

std::variant<UsersFile, std::string> parse_users_file(std::string_view text) {
  UsersFile file;
  std::size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.empty() || line.front() == '#') continue;
    const std::size_t colon = line.find(':');
    const std::string where = "line " + std::to_string(line_number) + ": ";
    if (colon == std::string_view::npos || colon == 0) return where + "expected user:hash";
    const std::string_view user = line.substr(0, colon);
    const std::string_view hash = line.substr(colon + 1);
    if (!is_md5_hex(hash) && !is_crypt_hash(hash)) {
      return where + "the hash of '" + std::string(user) +
             "' is not MD5 hex, bcrypt, yescrypt, SHA-crypt or MD5-crypt";
    }
    if (!file.users.emplace(user, hash).second) return where + "'" + std::string(user) + "' listed twice";
  }
  return file;
}

bool password_matches(const std::string& hash, std::string_view password) {
  if (is_md5_hex(hash)) return constant_time_equals(md5_hex(password), lower(hash));
  if (!is_crypt_hash(hash)) return false;
  crypt_data data{};
  const std::string key(password);
  const char* result = crypt_r(key.c_str(), hash.c_str(), &data);
  if (result == nullptr || result[0] == '*') return false;  // libxcrypt's failure tokens
  return constant_time_equals(result, hash);
}

std::string form_escape(std::string_view text) {
  static const char* digits = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += digits[u >> 4];
      out += digits[u & 15];
    }
  }
  return out;
}

std::string listener_add_body(const ListenerAuthRequest& request) {
  return listener_fields("listener_add", request);
}

std::string listener_remove_body(const ListenerAuthRequest& request) {
  std::string body = listener_fields("listener_remove", request);
  add_field(body, "duration", std::to_string(request.duration_seconds));
  return body;
}

std::string mount_change_body(std::string_view action, std::string_view mount,
                              std::string_view server, std::uint16_t port) {
  std::string body;
  add_field(body, "action", action);
  add_field(body, "mount", mount);
  add_field(body, "server", server);
  add_field(body, "port", std::to_string(port));
  return body;
}

std::string stream_auth_body(std::string_view mount, std::string_view ip, std::string_view server,
                             std::uint16_t port, std::string_view user, std::string_view password) {
  std::string body;
  add_field(body, "action", "stream_auth");
  add_field(body, "mount", mount);
  add_field(body, "ip", ip);
  add_field(body, "server", server);
  add_field(body, "port", std::to_string(port));
  add_field(body, "user", user);
  add_field(body, "pass", password);
  add_field(body, "admin", "0");
  return body;
}

AuthAnswer read_auth_answer(long status, const std::vector<std::pair<std::string, std::string>>& headers,
                            std::string_view allow_header) {
  AuthAnswer answer;
  const std::size_t colon = allow_header.find(':');
  std::string_view wanted_name = allow_header.substr(0, colon);
  std::string_view wanted_value = colon == std::string_view::npos ? "1" : allow_header.substr(colon + 1);
  while (!wanted_value.empty() && wanted_value.front() == ' ') wanted_value.remove_prefix(1);
  for (const auto& [name, value] : headers) {
    if (strcasecmp(name.c_str(), std::string(wanted_name).c_str()) == 0 && value == wanted_value) {
      answer.allowed = true;
    }
    if (strcasecmp(name.c_str(), "icecast-auth-message") == 0) answer.message = value;
    if (strcasecmp(name.c_str(), "icecast-auth-timelimit") == 0) {
      std::uint64_t seconds = 0;
      const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), seconds);
      if (error == std::errc() && end == value.data() + value.size() && seconds > 0) answer.time_limit_seconds = seconds;
    }
  }
  if (status < 200 || status > 299) answer.allowed = false;
  return answer;
}

}  // namespace ringcast::relay
