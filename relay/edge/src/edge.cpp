// Edge relaying's decisions: plain values in, plain values out (tests/relay/edge_test.cpp).
#include "ringcast/edge/edge.h"

#include <algorithm>
#include <charconv>

#include "ringcast/http/http_request.h"

namespace ringcast::relay {

namespace {

std::nullopt_t fail(std::string* error, std::string message) {
  if (error) *error = std::move(message);
  return std::nullopt;
}

bool host_character(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

}  // namespace

std::string OriginUrl::host_header() const {
  const std::string name = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return port == 80 ? name : name + ":" + std::to_string(port);
}

std::string OriginUrl::authorization() const {
  if (user.empty() && password.empty()) return {};
  return "Basic " + encode_base64(user + ":" + password);
}

std::optional<OriginUrl> parse_origin_url(std::string_view text, std::string* error) {
  // Credentials never go to a log: the URL is quoted without them.
  std::string shown(text);
  if (const auto at = shown.find('@', 7); at != std::string::npos && shown.find('/', 7) > at) {
    const auto colon = shown.find(':', 7);
    if (colon != std::string::npos && colon < at) shown.replace(colon + 1, at - colon - 1, "***");
  }
  const std::string quoted = "\"" + shown + "\"";
  constexpr std::string_view kScheme = "http://";
  if (text.substr(0, 8) == "https://") {
    return fail(error,
                quoted +
                    ": https is not spoken to origins; put a TLS front before the origin and "
                    "reach it over http on a trusted network, or use its plain listener");
  }
  if (text.substr(0, kScheme.size()) != kScheme)
    return fail(error, quoted + " is not an http:// URL");
  std::string_view rest = text.substr(kScheme.size());
  OriginUrl url;
  std::string_view authority = rest.substr(0, rest.find('/'));
  std::string_view path = rest.substr(authority.size());
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    const auto colon = userinfo.find(':');
    url.user = std::string(userinfo.substr(0, colon));
    if (colon != std::string_view::npos) url.password = std::string(userinfo.substr(colon + 1));
    if (url.user.empty()) return fail(error, quoted + ": a user name must come before '@'");
    authority.remove_prefix(at + 1);
    // Shown without the password.
    url.text = std::string(kScheme) + url.user + "@" + std::string(rest.substr(at + 1));
  } else {
    url.text = std::string(text);
  }
  if (authority.empty()) return fail(error, quoted + ": no host");
  std::string_view port_text;
  if (authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return fail(error, quoted + ": unclosed [ in the host");
    url.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail(error, quoted + ": junk after the [host]");
      port_text = after.substr(1);
    }
    if (url.host.empty() ||
        url.host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string::npos) {
      return fail(error, quoted + ": not an IPv6 address in brackets");
    }
  } else {
    const auto colon = authority.find(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
    if (url.host.empty() || !std::all_of(url.host.begin(), url.host.end(), host_character)) {
      return fail(error, quoted + ": not a host name or address");
    }
  }
  if (!port_text.empty() || authority.back() == ':') {
    unsigned port = 0;
    const auto [end, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (port_text.empty() || ec != std::errc{} || end != port_text.data() + port_text.size() ||
        port == 0 || port > 65535) {
      return fail(error, quoted + ": the port must be 1 to 65535");
    }
    url.port = static_cast<std::uint16_t>(port);
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (path.find_first_of("?#%\\ ") != std::string_view::npos ||
      path.find("..") != std::string_view::npos) {
    return fail(error, quoted + ": the path may hold no query, fragment, escapes or '..'");
  }
  url.path = std::string(path);
  return url;
}

std::vector<std::string> parse_stream_list(std::string_view text) {
  std::vector<std::string> mounts;
  while (!text.empty()) {
    const auto end = text.find('\n');
    std::string_view line = trim_blanks(text.substr(0, end));
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (!line.empty() && line.back() == '\r') line = trim_blanks(line.substr(0, line.size() - 1));
    if (line.starts_with("http://") || line.starts_with("https://")) {
      const auto slash = line.find('/', line.find("//") + 2);
      line = slash == std::string_view::npos ? std::string_view() : line.substr(slash);
    }
    if (line.empty() || mount_name_problem(line)) continue;
    if (std::find(mounts.begin(), mounts.end(), line) == mounts.end()) mounts.emplace_back(line);
  }
  return mounts;
}

bool RelayChain::contains(std::string_view id) const {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

std::string RelayChain::extended_by(std::string_view id) const {
  std::string value;
  for (const auto& hop : ids) value += hop + ", ";
  return value + std::string(id);
}

RelayChain parse_relay_chain(std::optional<std::string_view> value) {
  RelayChain chain;
  if (!value) return chain;
  std::string_view rest = *value;
  while (true) {
    const auto comma = rest.find(',');
    const std::string_view entry = trim_blanks(rest.substr(0, comma));
    if (!entry.empty()) chain.ids.emplace_back(entry);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return chain;
}

std::optional<std::string_view> relay_chain_problem(const RelayChain& chain,
                                                    std::string_view own_id, std::size_t max_hops) {
  if (chain.contains(own_id))
    return "relay loop: the request has passed through this relay already";
  if (chain.hops() >= max_hops) return "relay chain too long";
  return std::nullopt;
}

std::string_view EdgeDirectory::state_name(PullState state) {
  switch (state) {
    case PullState::connecting:
      return "connecting";
    case PullState::streaming:
      return "streaming";
    case PullState::retrying:
      return "retrying";
  }
  return "?";
}

EdgeDirectory::Answer EdgeDirectory::want(const std::string& mount, std::size_t worker,
                                          std::uint64_t now_ms) {
  std::lock_guard lock(mutex_);
  if (const auto pull = pulls_.find(mount); pull != pulls_.end()) {
    return {pull->second.state == PullState::connecting && pull->second.connects == 0
                ? Decision::wait
                : Decision::present};
  }
  if (const auto missing = missing_.find(mount); missing != missing_.end()) {
    if (now_ms < missing->second.until_ms) {
      ++missing_answers_;
      return {Decision::missing, missing->second.status};
    }
    missing_.erase(missing);
  }
  PullInfo& info = pulls_[mount];
  info.mount = mount;
  info.worker = worker;
  info.since_ms = now_ms;
  return {Decision::start};
}

bool EdgeDirectory::claim(const std::string& mount, std::size_t worker, std::uint64_t now_ms) {
  std::lock_guard lock(mutex_);
  if (pulls_.contains(mount)) return false;
  missing_.erase(mount);
  PullInfo& info = pulls_[mount];
  info.mount = mount;
  info.worker = worker;
  info.on_demand = false;
  info.since_ms = now_ms;
  return true;
}

void EdgeDirectory::update(const std::string& mount, PullState state, const std::string& origin,
                           std::uint64_t now_ms, PullCounts counts) {
  std::lock_guard lock(mutex_);
  const auto pull = pulls_.find(mount);
  if (pull == pulls_.end()) return;
  PullInfo& info = pull->second;
  if (info.state != state) info.since_ms = now_ms;
  info.state = state;
  info.origin = origin;
  info.connects = counts.connects;
  info.failures = counts.failures;
  info.failovers = counts.failovers;
}

void EdgeDirectory::ended(const std::string& mount, int status, std::uint64_t now_ms) {
  std::lock_guard lock(mutex_);
  pulls_.erase(mount);
  if (status == 404) missing_[mount] = Missing{now_ms + missing_ttl_ms_, status};
  // Expired entries go when next asked for; a relay asked for many missing names sheds them here.
  if (missing_.size() > 4096)
    std::erase_if(missing_, [&](const auto& entry) { return entry.second.until_ms <= now_ms; });
}

bool EdgeDirectory::pulling(const std::string& mount) const {
  std::lock_guard lock(mutex_);
  return pulls_.contains(mount);
}

std::vector<EdgeDirectory::PullInfo> EdgeDirectory::snapshot() const {
  std::lock_guard lock(mutex_);
  std::vector<PullInfo> pulls;
  pulls.reserve(pulls_.size());
  for (const auto& [mount, info] : pulls_) pulls.push_back(info);
  return pulls;
}

std::uint64_t EdgeDirectory::missing_answers() const {
  std::lock_guard lock(mutex_);
  return missing_answers_;
}

}  // namespace ringcast::relay
