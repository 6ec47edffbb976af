// Reading the config file with toml++ (Debian's libtomlplusplus-dev, built as a shared library
// with exceptions). Each key has one reader that checks the value's type and range and reports
// a problem at the value's line; a key no reader knows is reported with the nearest known name.
#include "ringcast/config/config_file.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <limits>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

#include "ringcast/auth/auth.h"
#include "ringcast/edge/edge.h"
#include "ringcast/radio/fallback.h"
#include "ringcast/http/forwarded.h"
#include "ringcast/http/http_request.h"
#include "ringcast/radio/icecast.h"
#include "ringcast/config/icecast_config.h"

namespace ringcast::relay {

namespace {

using Problems = std::vector<ConfigProblem>;

// False (errno set) when the file cannot be opened or read.
bool read_whole_file(const std::string& path, std::string& text) {
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) return false;
  char buffer[16 * 1024];
  std::size_t got = 0;
  while ((got = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) text.append(buffer, got);
  return std::ferror(file.get()) == 0;
}

constexpr std::size_t kMaxSize = std::numeric_limits<std::size_t>::max();

ConfigProblem problem_at(const toml::source_region& where, std::string message) {
  return {where.begin.line, where.begin.column, std::move(message)};
}

std::string_view type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

template <typename Choice>
std::string_view name_of(const ChoiceName<Choice>& choice) {
  return choice.name;
}
template <typename Choice>
Choice value_of(const ChoiceName<Choice>& choice) {
  return choice.value;
}
std::string_view name_of(std::string_view name) {
  return name;
}
std::string_view value_of(std::string_view name) {
  return name;
}

// One key's value, and where to report what is wrong with it. Each reader returns nullopt after
// reporting a problem.
class Value {
 public:
  Value(std::string_view key, const toml::node& node, Problems& problems)
      : key_(key), node_(node), problems_(problems) {}

  std::optional<std::string> text() const {
    if (const auto* string = node_.as_string()) return string->get();
    return wrong_type("a string");
  }

  // An empty per-mount value would be a mistake: leaving the key out means the relay's own.
  std::optional<std::string> nonempty_text() const {
    auto string = text();
    if (string && string->empty()) return report("must not be empty (leave the key out instead)");
    return string;
  }

  // Sent in a response header: printable ASCII only, so no header can be injected.
  std::optional<std::string> header_text() const {
    auto string = text();
    if (!string) return std::nullopt;
    const bool printable =
        std::all_of(string->begin(), string->end(), [](char c) { return c >= 0x20 && c < 0x7f; });
    if (string->empty() || !printable) return report("must be non-empty printable ASCII");
    return string;
  }

  std::optional<std::size_t> size(std::size_t min = 0, std::size_t max = kMaxSize) const {
    std::optional<std::size_t> bytes;
    if (const auto* integer = node_.as_integer()) {
      if (integer->get() < 0) return below(min);
      bytes = static_cast<std::size_t>(integer->get());
    } else if (const auto* string = node_.as_string()) {
      bytes = parse_size(string->get());
      if (!bytes) {
        return report(
            "\"" + string->get() +
            "\" is not a size (an integer with an optional unit: k, KiB, M, MiB, G, GiB)");
      }
    } else {
      return wrong_type("a size (an integer, or a string such as \"64KiB\")");
    }
    if (*bytes < min) return below(min);
    if (*bytes > max) return report("must be at most " + std::to_string(max));
    return bytes;
  }

  std::optional<std::uint64_t> count(std::uint64_t min, std::uint64_t max) const {
    const auto* integer = node_.as_integer();
    if (!integer) return wrong_type("an integer");
    if (integer->get() < 0 || static_cast<std::uint64_t>(integer->get()) < min) return below(min);
    if (static_cast<std::uint64_t>(integer->get()) > max) {
      return report("must be at most " + std::to_string(max));
    }
    return static_cast<std::uint64_t>(integer->get());
  }

  std::optional<std::string> mount_name() const {
    auto string = text();
    if (!string) return std::nullopt;
    if (const auto problem = mount_name_problem(*string)) {
      return report("\"" + *string + "\" is not a mount name: " + std::string(*problem));
    }
    return string;
  }

  std::optional<std::string> url() const {
    auto string = text();
    if (!string) return std::nullopt;
    if (string->rfind("http://", 0) != 0 && string->rfind("https://", 0) != 0) {
      return report("\"" + *string + "\" is not an http:// or https:// URL");
    }
    return string;
  }

  std::optional<bool> boolean() const {
    if (const auto* flag = node_.as_boolean()) return flag->get();
    return wrong_type("true or false");
  }

  // An ICY metadata interval: 0 (off) or kMinIcyMetaint..kMaxIcyMetaint bytes.
  // Shown to listeners and on pages (a stream's name, genre, ...): any UTF-8 text but control
  // characters, so that no header can be injected.
  std::optional<std::string> display_text() const {
    auto string = text();
    if (!string) return std::nullopt;
    const bool clean = std::none_of(string->begin(), string->end(), [](char c) {
      const auto byte = static_cast<unsigned char>(c);
      return byte < 0x20 || byte == 0x7f;
    });
    if (string->empty() || !clean) return report("must be non-empty text without control characters");
    return string;
  }

  std::optional<std::uint32_t> metaint() const {
    const auto n = count(0, kMaxIcyMetaint);
    if (n && *n != 0 && *n < kMinIcyMetaint) {
      return report("must be 0 (off) or at least " + std::to_string(kMinIcyMetaint));
    }
    return n;
  }

  // Seconds, whole or fractional, as milliseconds.
  std::optional<std::uint32_t> seconds_as_ms() const {
    double seconds = 0;
    if (const auto* integer = node_.as_integer()) {
      seconds = static_cast<double>(integer->get());
    } else if (const auto* floating = node_.as_floating_point()) {
      seconds = floating->get();
    } else {
      return wrong_type("a number of seconds");
    }
    if (std::isnan(seconds) || seconds < 0) return report("must be a number of seconds >= 0");
    if (seconds > kMaxSeconds) {
      return report("must be at most " + std::to_string(static_cast<std::uint64_t>(kMaxSeconds)) +
                    " seconds");
    }
    return static_cast<std::uint32_t>(std::llround(seconds * 1000));
  }

  std::optional<std::pair<std::string, std::uint16_t>> address() const {
    auto string = text();
    if (!string) return std::nullopt;
    std::pair<std::string, std::uint16_t> parsed;
    if (!parse_listen_address(*string, parsed.first, parsed.second)) {
      return report("\"" + *string +
                    "\" is not HOST:PORT (an IPv4 address, an [IPv6] address in brackets, or "
                    "nothing for all interfaces, then a port from 0 to 65535)");
    }
    return parsed;
  }

  // A charset titles are converted from: UTF-8 or ISO-8859-1, in any of their usual spellings.
  std::optional<std::string> charset() const {
    auto string = header_text();
    if (string && !is_known_charset(*string)) {
      return report("\"" + *string + "\" is neither UTF-8 nor ISO-8859-1 (the charsets titles are converted from)");
    }
    return string;
  }

  // A list of strings; `what` names its elements ("mount names"). `problem_with`, if given,
  // checks each element as it is read: the first element that is wrong is the one reported.
  using ElementCheck = std::optional<std::string> (*)(const std::string&);
  std::optional<std::vector<std::string>> strings(std::string_view what, ElementCheck problem_with = nullptr) const {
    const auto* array = node_.as_array();
    if (!array) return wrong_type("a list of " + std::string(what));
    std::vector<std::string> entries;
    for (const auto& element : *array) {
      const auto* entry = element.as_string();
      if (!entry) return report("expected " + std::string(what) + ", got " + std::string(type_name(element)));
      if (problem_with != nullptr) {
        if (auto problem = problem_with(entry->get())) return report(*problem);
      }
      entries.push_back(entry->get());
    }
    return entries;
  }

  // A list of addresses and networks: ["127.0.0.1", "10.0.0.0/8", "fd00::/8"].
  std::optional<std::vector<std::string>> networks() const {
    auto entries = strings("addresses or networks");
    std::string error;
    if (entries && !AddressSet::parse(*entries, &error)) return report(error);
    return entries;
  }

  // A list of origins: ["http://origin-a:8000", "http://origin-b:8000/prefix"].
  std::optional<std::vector<std::string>> origin_urls() const {
    return strings("origin URLs", [](const std::string& url) -> std::optional<std::string> {
      std::string error;
      if (!parse_origin_url(url, &error)) return error;
      return std::nullopt;
    });
  }

  // A server without a path: "http://[user:password@]host:port".
  std::optional<std::string> server_url() const {
    return origin_url_where([](const OriginUrl& url) -> std::optional<std::string> {
      if (url.path.empty()) return std::nullopt;
      return "\"" + url.text + "\": the master's address only, without a path";
    });
  }

  // A relayed mount's origin and name there: "http://[user:password@]host:port/mount".
  std::optional<std::string> relayed_mount_url() const {
    return origin_url_where([](const OriginUrl& url) -> std::optional<std::string> {
      if (!url.path.empty() && !mount_name_problem(url.path)) return std::nullopt;
      return "\"" + url.text + "\" names no mount: http://host:port/mount";
    });
  }

  // An origin URL that `problem_with` (its problem, or nullopt) accepts.
  template <typename Check>
  std::optional<std::string> origin_url_where(Check problem_with) const {
    auto string = text();
    if (!string) return std::nullopt;
    std::string error;
    const auto url = parse_origin_url(*string, &error);
    if (!url) return report(error);
    if (auto problem = problem_with(*url)) return report(*problem);
    return string;
  }

  // A list of mount names: ["/radio.mp3", "/live.ts"].
  std::optional<std::vector<std::string>> mount_names() const {
    return strings("mount names", [](const std::string& name) -> std::optional<std::string> {
      if (const auto problem = mount_name_problem(name)) {
        return "\"" + name + "\" is not a mount name: " + std::string(*problem);
      }
      return std::nullopt;
    });
  }

  // One of the names in `choices` (ChoiceName entries, or plain names), as its value.
  template <typename Choices>
  auto choice(const Choices& choices) const
      -> std::optional<std::remove_cvref_t<decltype(value_of(*std::begin(choices)))>> {
    auto string = text();
    if (!string) return std::nullopt;
    std::string names;
    for (const auto& choice : choices) {
      if (name_of(choice) == *string) return value_of(choice);
      names += names.empty() ? "\"" : ", \"";
      names += std::string(name_of(choice)) + "\"";
    }
    return report("\"" + *string + "\" is not one of " + names);
  }

 private:
  std::nullopt_t report(const std::string& message) const {
    problems_.push_back(problem_at(node_.source(), std::string(key_) + ": " + message));
    return std::nullopt;
  }
  std::nullopt_t wrong_type(std::string_view expected) const {
    return report("expected " + std::string(expected) + ", got " + std::string(type_name(node_)));
  }
  std::nullopt_t below(std::uint64_t min) const {
    return report("must be at least " + std::to_string(min));
  }

  std::string_view key_;
  const toml::node& node_;
  Problems& problems_;
};

template <typename Field, typename Read>
void assign(Field& field, const std::optional<Read>& value) {
  if (value) field = static_cast<Field>(*value);
}

template <typename Target>
struct Key {
  std::string_view name;
  void (*apply)(const Value& value, Target& target);
};

void set_latency_budget(const Value& v, RelayConfig& c) {
  assign(c.fanout.latency_budget_ms, v.count(0, std::numeric_limits<std::uint32_t>::max()));
}

// Top-level keys, named as the flags are (snake_case).
constexpr Key<RelayConfig> kRelayKeys[] = {
    {"listen",
     [](const Value& v, RelayConfig& c) {
       if (auto address = v.address()) std::tie(c.listen_host, c.listen_port) = *address;
     }},
    {"source_password",
     [](const Value& v, RelayConfig& c) { assign(c.source_password, v.text()); }},
    {"admin_password", [](const Value& v, RelayConfig& c) { assign(c.admin_password, v.text()); }},
    {"relay_user", [](const Value& v, RelayConfig& c) { assign(c.relay_user, v.text()); }},
    {"admin_user", [](const Value& v, RelayConfig& c) { assign(c.admin_user, v.nonempty_text()); }},
    {"location", [](const Value& v, RelayConfig& c) { assign(c.location, v.text()); }},
    {"admin_contact", [](const Value& v, RelayConfig& c) { assign(c.admin_contact, v.text()); }},
    {"relay_password", [](const Value& v, RelayConfig& c) { assign(c.relay_password, v.text()); }},
    {"realm", [](const Value& v, RelayConfig& c) { assign(c.realm, v.header_text()); }},
    {"proxy_protocol", [](const Value& v, RelayConfig& c) { assign(c.proxy_protocol, v.boolean()); }},
    {"trusted_proxies", [](const Value& v, RelayConfig& c) { assign(c.trusted_proxies, v.networks()); }},
    {"relay_origins", [](const Value& v, RelayConfig& c) { assign(c.relay_origins, v.origin_urls()); }},
    {"relay_linger", [](const Value& v, RelayConfig& c) { assign(c.relay_linger_ms, v.seconds_as_ms()); }},
    {"relay_retry_preferred",
     [](const Value& v, RelayConfig& c) { assign(c.relay_retry_preferred_ms, v.seconds_as_ms()); }},
    {"admin_listen",
     [](const Value& v, RelayConfig& c) {
       if (auto address = v.address()) {
         std::tie(c.admin_listen_host, c.admin_listen_port) = *address;
       }
     }},
    {"stats_access",
     [](const Value& v, RelayConfig& c) { assign(c.stats_access, v.choice(kStatsAccessNames)); }},
    {"access_log", [](const Value& v, RelayConfig& c) { assign(c.access_log, v.text()); }},
    {"log_level",
     [](const Value& v, RelayConfig& c) { assign(c.log_level, v.choice(kLogLevels)); }},
    {"workers", [](const Value& v, RelayConfig& c) { assign(c.workers, v.count(1, 256)); }},
    {"ring_size",
     [](const Value& v, RelayConfig& c) { assign(c.ring_bytes, v.size(1, kMaxRingBytes)); }},
    {"burst", [](const Value& v, RelayConfig& c) { assign(c.fanout.burst_bytes, v.size()); }},
    {"grace", [](const Value& v, RelayConfig& c) { assign(c.grace_ms, v.seconds_as_ms()); }},
    {"drain", [](const Value& v, RelayConfig& c) { assign(c.drain_ms, v.seconds_as_ms()); }},
    {"ready_mounts", [](const Value& v, RelayConfig& c) { assign(c.ready_mounts, v.mount_names()); }},
    {"source_timeout",
     [](const Value& v, RelayConfig& c) { assign(c.source_idle_timeout_ms, v.seconds_as_ms()); }},
    {"head_timeout",
     [](const Value& v, RelayConfig& c) { assign(c.head_timeout_ms, v.seconds_as_ms()); }},
    {"max_head_bytes", [](const Value& v, RelayConfig& c) { assign(c.max_head_bytes, v.size(1)); }},
    {"max_write_bytes",
     [](const Value& v, RelayConfig& c) { assign(c.fanout.max_write_bytes, v.size(1)); }},
    {"coalesce_bytes",
     [](const Value& v, RelayConfig& c) { assign(c.fanout.coalesce_bytes, v.size()); }},
    {"latency_budget", set_latency_budget},
    {"max_write_delay", set_latency_budget},  // its older name
    {"ring_seconds",
     [](const Value& v, RelayConfig& c) { assign(c.ring_seconds, v.count(1, 3600)); }},
    {"full_delay_audience",
     [](const Value& v, RelayConfig& c) {
       assign(c.fanout.full_delay_audience, v.count(0, kMaxSize));
     }},
    {"max_lag", [](const Value& v, RelayConfig& c) { assign(c.fanout.max_lag_bytes, v.size()); }},
    {"slow_viewer",
     [](const Value& v, RelayConfig& c) {
       assign(c.fanout.slow_action, v.choice(kSlowViewerNames));
     }},
    {"max_connections",
     [](const Value& v, RelayConfig& c) { assign(c.max_connections, v.count(0, kMaxSize)); }},
    {"max_viewers_per_mount",
     [](const Value& v, RelayConfig& c) { assign(c.max_viewers_per_mount, v.count(0, kMaxSize)); }},
    {"max_mounts",
     [](const Value& v, RelayConfig& c) { assign(c.max_mounts, v.count(0, kMaxSize)); }},
    {"viewer_stall_timeout",
     [](const Value& v, RelayConfig& c) { assign(c.viewer_stall_timeout_ms, v.seconds_as_ms()); }},
    {"icy_metaint", [](const Value& v, RelayConfig& c) { assign(c.icy_metaint, v.metaint()); }},
    {"hls_segment_seconds",
     [](const Value& v, RelayConfig& c) {
       if (const auto n = v.count(1, 60)) c.fanout.hls_segment_ms = static_cast<std::uint32_t>(*n) * 1000;
     }},
};

// Keys of a [[relays]] entry.
constexpr Key<StaticRelay> kStaticRelayKeys[] = {
    {"url", [](const Value& v, StaticRelay& r) { assign(r.url, v.relayed_mount_url()); }},
    {"mount", [](const Value& v, StaticRelay& r) { assign(r.mount, v.mount_name()); }},
    {"on_demand", [](const Value& v, StaticRelay& r) { assign(r.on_demand, v.boolean()); }},
};

// Keys of the [master] section.
constexpr Key<MasterSettings> kMasterKeys[] = {
    {"url", [](const Value& v, MasterSettings& m) { assign(m.url, v.server_url()); }},
    {"update_interval",
     [](const Value& v, MasterSettings& m) { assign(m.update_interval_ms, v.seconds_as_ms()); }},
    {"on_demand", [](const Value& v, MasterSettings& m) { assign(m.on_demand, v.boolean()); }},
};

// Keys of a [mounts."/name"] section.
constexpr Key<MountSettings> kMountKeys[] = {
    {"source_password",
     [](const Value& v, MountSettings& m) { assign(m.source_password, v.nonempty_text()); }},
    {"burst", [](const Value& v, MountSettings& m) { assign(m.burst_bytes, v.size()); }},
    {"ring_size",
     [](const Value& v, MountSettings& m) { assign(m.ring_bytes, v.size(1, kMaxRingBytes)); }},
    {"ring_seconds",
     [](const Value& v, MountSettings& m) { assign(m.ring_seconds, v.count(1, 3600)); }},
    {"hls_segment_seconds",
     [](const Value& v, MountSettings& m) {
       if (const auto n = v.count(1, 60)) m.hls_segment_ms = static_cast<std::uint32_t>(*n) * 1000;
     }},
    {"latency_budget",
     [](const Value& v, MountSettings& m) {
       assign(m.latency_budget_ms, v.count(0, std::numeric_limits<std::uint32_t>::max()));
     }},
    {"max_viewers",
     [](const Value& v, MountSettings& m) { assign(m.max_viewers, v.count(0, kMaxSize)); }},
    {"content_type",
     [](const Value& v, MountSettings& m) { assign(m.content_type, v.header_text()); }},
    {"icy_metaint", [](const Value& v, MountSettings& m) { assign(m.icy_metaint, v.metaint()); }},
    {"hidden", [](const Value& v, MountSettings& m) { assign(m.hidden, v.boolean()); }},
    {"stream_name", [](const Value& v, MountSettings& m) { assign(m.stream_name, v.display_text()); }},
    {"stream_description",
     [](const Value& v, MountSettings& m) { assign(m.stream_description, v.display_text()); }},
    {"stream_url", [](const Value& v, MountSettings& m) { assign(m.stream_url, v.display_text()); }},
    {"genre", [](const Value& v, MountSettings& m) { assign(m.stream_genre, v.display_text()); }},
    {"bitrate", [](const Value& v, MountSettings& m) { assign(m.stream_bitrate, v.count(1, 1'000'000)); }},
    {"public", [](const Value& v, MountSettings& m) { assign(m.stream_public, v.boolean()); }},
    {"charset", [](const Value& v, MountSettings& m) { assign(m.charset, v.charset()); }},
    {"fallback_mount",
     [](const Value& v, MountSettings& m) { assign(m.fallback_mount, v.mount_name()); }},
    {"fallback_override",
     [](const Value& v, MountSettings& m) { assign(m.fallback_override, v.boolean()); }},
    {"fallback_when_full",
     [](const Value& v, MountSettings& m) { assign(m.fallback_when_full, v.boolean()); }},
    {"listener_users_file",
     [](const Value& v, MountSettings& m) { assign(m.listener_users_file, v.nonempty_text()); }},
    {"listener_add_url", [](const Value& v, MountSettings& m) { assign(m.listener_add_url, v.url()); }},
    {"listener_remove_url",
     [](const Value& v, MountSettings& m) { assign(m.listener_remove_url, v.url()); }},
    {"stream_auth_url", [](const Value& v, MountSettings& m) { assign(m.stream_auth_url, v.url()); }},
    {"mount_add_url", [](const Value& v, MountSettings& m) { assign(m.mount_add_url, v.url()); }},
    {"mount_remove_url", [](const Value& v, MountSettings& m) { assign(m.mount_remove_url, v.url()); }},
    {"auth_timeout",
     [](const Value& v, MountSettings& m) { assign(m.auth_timeout_ms, v.seconds_as_ms()); }},
    {"auth_header", [](const Value& v, MountSettings& m) { assign(m.auth_header, v.header_text()); }},
    {"auth_headers",
     [](const Value& v, MountSettings& m) {
       // "Referer, X-Token": Icecast's comma-separated `headers` option.
       if (const auto text = v.header_text()) {
         m.auth_forward_headers.clear();
         std::string_view rest = *text;
         while (!rest.empty()) {
           const std::size_t comma = rest.find(',');
           std::string_view name = rest.substr(0, comma);
           rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
           while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
           while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
           if (!name.empty()) m.auth_forward_headers.emplace_back(name);
         }
       }
     }},
    {"allow_duplicate_users",
     [](const Value& v, MountSettings& m) { assign(m.allow_duplicate_users, v.boolean()); }},
    {"auth_header_prefix",
     [](const Value& v, MountSettings& m) { assign(m.auth_header_prefix, v.header_text()); }},
};

// Edit distance between two key names, with '-' read as '_' (flags are spelled with dashes).
std::size_t distance(std::string_view a, std::string_view b) {
  const auto normal = [](char c) {
    return c == '-' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  };
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      const bool same = normal(a[i - 1]) == normal(b[j - 1]);
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

template <typename Target, std::size_t N>
const Key<Target>* find_key(const Key<Target> (&keys)[N], std::string_view name) {
  for (const auto& key : keys) {
    if (key.name == name) return &key;
  }
  return nullptr;
}

template <typename Target, std::size_t N>
std::string suggestion(const Key<Target> (&keys)[N], std::string_view name) {
  const std::size_t tolerance = std::max<std::size_t>(2, name.size() / 4);
  std::string_view best;
  std::size_t best_distance = tolerance + 1;
  for (const auto& key : keys) {
    if (const std::size_t d = distance(name, key.name); d < best_distance) {
      best = key.name;
      best_distance = d;
    }
  }
  return best.empty() ? "" : " (did you mean '" + std::string(best) + "'?)";
}

std::string unknown_relay_key(std::string_view name) {
  std::string message = "unknown key '" + std::string(name) + "'";
  if (find_key(kMountKeys, name)) {
    return message + ": '" + std::string(name) +
           "' is a per-mount key, put it under [mounts.\"/name\"]";
  }
  return message + suggestion(kRelayKeys, name);
}

std::string unknown_mount_key(std::string_view mount, std::string_view name) {
  std::string message =
      "unknown key '" + std::string(name) + "' in [mounts.\"" + std::string(mount) + "\"]";
  if (find_key(kRelayKeys, name)) {
    // In TOML, keys below a [section] header belong to that section.
    return message + ": '" + std::string(name) +
           "' applies to the whole relay, put it above the first [section] header";
  }
  return message + suggestion(kMountKeys, name);
}

void read_mount(std::string_view mount, const toml::table& section, MountSettings& settings,
                Problems& problems) {
  for (const auto& [key, node] : section) {
    const auto* known = find_key(kMountKeys, key.str());
    if (!known) {
      problems.push_back(problem_at(key.source(), unknown_mount_key(mount, key.str())));
      continue;
    }
    known->apply(Value(known->name, node, problems), settings);
  }
}

void read_mounts(const toml::node& node, std::size_t max_mount_length,
                 std::map<std::string, MountSettings>& mounts, Problems& problems) {
  const auto* table = node.as_table();
  if (!table) {
    problems.push_back(problem_at(
        node.source(),
        "mounts: expected sections [mounts.\"/name\"], got " + std::string(type_name(node))));
    return;
  }
  mounts.clear();
  for (const auto& [key, section] : *table) {
    const std::string name(key.str());
    if (auto problem = mount_name_problem(name, max_mount_length)) {
      problems.push_back(
          problem_at(key.source(), "[mounts.\"" + name + "\"]: " + std::string(*problem)));
    }
    const auto* settings = section.as_table();
    if (!settings) {
      problems.push_back(problem_at(
          section.source(),
          "[mounts.\"" + name + "\"]: expected a table, got " + std::string(type_name(section))));
      continue;
    }
    read_mount(name, *settings, mounts[name], problems);
  }
  if (const auto loop = fallback_loop(mounts)) {
    problems.push_back(problem_at(node.source(), "mounts: fallback_mount loops: " + *loop));
  }
  for (auto& [name, settings] : mounts) {
    if (!settings.listener_users_file) continue;
    const std::string where = "[mounts.\"" + name + "\"] listener_users_file " + *settings.listener_users_file + ": ";
    auto loaded = load_users_file(*settings.listener_users_file);
    if (auto* problem = std::get_if<std::string>(&loaded)) {
      problems.push_back(problem_at(node.source(), where + *problem));
      continue;
    }
    settings.listener_users = std::move(std::get<std::shared_ptr<const UsersFile>>(loaded));
  }
}

// A section's keys applied to `target`; an unknown one is reported with the nearest name.
template <typename Target, std::size_t N>
void read_section_keys(const toml::table& section, const Key<Target> (&keys)[N], std::string_view where,
                       Target& target, Problems& problems) {
  for (const auto& [key, value] : section) {
    const auto* known = find_key(keys, key.str());
    if (!known) {
      problems.push_back(problem_at(key.source(), "unknown key '" + std::string(key.str()) + "' in " +
                                                      std::string(where) + suggestion(keys, key.str())));
      continue;
    }
    known->apply(Value(known->name, value, problems), target);
  }
}

// [[relays]]: each entry's keys, then the entry as a whole (a url; one entry per local mount).
void read_static_relays(const toml::node& node, std::vector<StaticRelay>& relays, Problems& problems) {
  const auto* array = node.as_array();
  if (!array || !array->is_array_of_tables()) {
    problems.push_back(problem_at(node.source(), "relays: expected [[relays]] sections, got " +
                                                     std::string(type_name(node))));
    return;
  }
  relays.clear();
  for (const auto& element : *array) {
    const auto& section = *element.as_table();
    StaticRelay relay;
    read_section_keys(section, kStaticRelayKeys, "[[relays]]", relay, problems);
    if (relay.url.empty()) {
      // (A url that is there but wrong was reported already.)
      if (!section.contains("url")) {
        problems.push_back(problem_at(section.source(), "[[relays]]: url is required (http://host:port/mount)"));
      }
      continue;
    }
    if (relay.mount.empty()) relay.mount = parse_origin_url(relay.url)->path;
    const bool taken = std::any_of(relays.begin(), relays.end(), [&](const auto& other) { return other.mount == relay.mount; });
    if (taken) {
      problems.push_back(problem_at(section.source(), "[[relays]]: " + relay.mount + " is relayed twice"));
      continue;
    }
    relays.push_back(std::move(relay));
  }
}

// [master]: the master's address is required; the rest has defaults.
void read_master(const toml::node& node, std::optional<MasterSettings>& master, Problems& problems) {
  const auto* section = node.as_table();
  if (!section) {
    problems.push_back(problem_at(node.source(), "master: expected a [master] section, got " +
                                                     std::string(type_name(node))));
    return;
  }
  MasterSettings settings;
  read_section_keys(*section, kMasterKeys, "[master]", settings, problems);
  if (settings.url.empty()) {
    if (!section->contains("url")) {
      problems.push_back(problem_at(section->source(), "[master]: url is required (http://relay:password@host:port)"));
    }
    return;
  }
  if (settings.update_interval_ms < 1000) {
    problems.push_back(problem_at(section->source(), "[master]: update_interval must be at least 1 second"));
    return;
  }
  master = std::move(settings);
}

}  // namespace

std::vector<ConfigProblem> parse_config_text(std::string_view text, std::string_view source_name,
                                             RelayConfig& config) {
  toml::table document;
  try {
    document = toml::parse(text, source_name);
  } catch (const toml::parse_error& error) {
    return {problem_at(error.source(), std::string(error.description()))};
  }

  Problems problems;
  RelayConfig updated = config;
  for (const auto& [key, node] : document) {
    if (key.str() == "mounts") {
      read_mounts(node, updated.max_mount_length, updated.mounts, problems);
    } else if (key.str() == "relays") {
      read_static_relays(node, updated.relays, problems);
    } else if (key.str() == "master") {
      read_master(node, updated.master, problems);
    } else if (const auto* known = find_key(kRelayKeys, key.str())) {
      known->apply(Value(known->name, node, problems), updated);
    } else {
      problems.push_back(problem_at(key.source(), unknown_relay_key(key.str())));
    }
  }
  std::stable_sort(problems.begin(), problems.end(), [](const auto& a, const auto& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
  if (const auto problem = proxy_settings_problem(updated)) problems.push_back({0, 0, *problem});
  if (problems.empty()) config = std::move(updated);
  return problems;
}

std::optional<std::string> proxy_settings_problem(const RelayConfig& config) {
  if (config.proxy_protocol && config.trusted_proxies.empty()) {
    return "proxy_protocol needs trusted_proxies: the addresses of the proxies that send the header "
           "(a PROXY header from anyone would let any client claim any address)";
  }
  return std::nullopt;
}

std::vector<ConfigProblem> load_config_file(const std::string& path, RelayConfig& config,
                                            std::vector<ConfigProblem>* notes) {
  std::string text;
  if (!read_whole_file(path, text)) return {{0, 0, std::string("cannot read: ") + std::strerror(errno)}};
  if (!looks_like_xml(text)) return parse_config_text(text, path, config);
  // An icecast.xml: converted to TOML, which then means what it means in a TOML file.
  IcecastConversion converted = convert_icecast_config(text);
  if (notes != nullptr) *notes = std::move(converted.unsupported);
  if (!converted.errors.empty()) return converted.errors;
  std::vector<ConfigProblem> problems = parse_config_text(converted.toml, path, config);
  for (ConfigProblem& problem : problems) {
    problem.message = "in the TOML converted from it (--convert-icecast-config prints it), line " +
                      std::to_string(problem.line) + ": " + problem.message;
    problem.line = problem.column = 0;
  }
  return problems;
}

std::variant<std::shared_ptr<const UsersFile>, std::string> load_users_file(const std::string& path) {
  std::string text;
  if (!read_whole_file(path, text)) return std::string("cannot read: ") + std::strerror(errno);
  auto parsed = parse_users_file(text);
  if (auto* problem = std::get_if<std::string>(&parsed)) return std::move(*problem);
  return std::make_shared<const UsersFile>(std::move(std::get<UsersFile>(parsed)));
}

std::string format_problem(std::string_view path, const ConfigProblem& problem) {
  std::string line(path);
  if (problem.line != 0) {
    line += ":" + std::to_string(problem.line);
    if (problem.column != 0) line += ":" + std::to_string(problem.column);
  }
  return line + ": " + problem.message;
}

std::optional<std::size_t> parse_size(std::string_view text) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t'; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);

  std::size_t number = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (end == text.data() || error != std::errc{}) return std::nullopt;
  std::string unit;
  for (const char* c = end; c != text.data() + text.size(); ++c) {
    if (unit.empty() && is_space(*c)) continue;
    unit += static_cast<char>(std::tolower(static_cast<unsigned char>(*c)));
  }

  // "", "b", or a prefix letter followed by "", "b", "i" or "ib".
  std::size_t factor = 1;
  if (!unit.empty() && unit != "b") {
    static constexpr std::string_view kPrefixes = "kmgtpe";
    const auto power = kPrefixes.find(unit.front());
    const std::string_view rest = std::string_view(unit).substr(1);
    if (power == std::string_view::npos ||
        !(rest.empty() || rest == "b" || rest == "i" || rest == "ib")) {
      return std::nullopt;
    }
    for (std::size_t i = 0; i <= power; ++i) factor *= 1024;
  }
  if (number > kMaxSize / factor) return std::nullopt;
  return number * factor;
}

std::string format_listen_address(const std::string& host, std::uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace ringcast::relay
