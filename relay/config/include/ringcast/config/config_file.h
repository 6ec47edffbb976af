// The TOML config file (--config): its keys applied onto a RelayConfig, with every problem
// reported at its line so that `ringcast --check-config` explains a broken file before a restart.
// The keys and their meaning are listed in docs/operations.md ("Config file").
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ringcast/core/config.h"

namespace ringcast::relay {

struct ConfigProblem {
  std::uint32_t line = 0;  // from 1; 0: no location (the file as a whole)
  std::uint32_t column = 0;
  std::string message;
};

// Applies the keys of a TOML document onto `config`: keys the document leaves out keep their
// value, a [mounts] table replaces config.mounts. Every problem is reported, not only the
// first; when there is any, `config` is left unchanged. `source_name` names the document.
std::vector<ConfigProblem> parse_config_text(std::string_view text, std::string_view source_name,
                                             RelayConfig& config);

// Settings that are wrong together, whichever of the file and the flags gave them: proxy_protocol
// without trusted_proxies. nullopt when they agree.
std::optional<std::string> proxy_settings_problem(const RelayConfig& config);

// parse_config_text on the file's contents; a file that cannot be read is one problem. A file
// that is XML is read as an icecast.xml (icecast_config.h): what ringcast does not support of it
// goes to `notes` (listed at start and by --check-config; it does not stop the relay).
std::vector<ConfigProblem> load_config_file(const std::string& path, RelayConfig& config,
                                            std::vector<ConfigProblem>* notes = nullptr);

// A mount's users file (listener_users_file), read and parsed: at load, on SIGHUP, and when it
// changes on disk. The problem instead when it cannot be read or does not parse.
std::variant<std::shared_ptr<const UsersFile>, std::string> load_users_file(const std::string& path);

// "path:line:column: message", or "path: message" for a problem without a location.
std::string format_problem(std::string_view path, const ConfigProblem& problem);

// A byte count as the file and the size flags take it: an integer with an optional unit,
// "65536", "64k", "64KiB", "4 MiB". Units are case-insensitive powers of 1024 (k, kb, ki and kib
// alike, as CLI11's AsSizeValue(false) reads them). Nullopt: not a size, or too large.
std::optional<std::size_t> parse_size(std::string_view text);

// The inverse of parse_listen_address: "127.0.0.1:8000", "[::1]:8000".
std::string format_listen_address(const std::string& host, std::uint16_t port);

// Limits the file and the flags share. Durations are kept as uint32 milliseconds; a ring is
// rounded up to a power of two, and beyond 1 TiB a ring size is a typo.
inline constexpr double kMaxSeconds = std::numeric_limits<std::uint32_t>::max() / 1000;
inline constexpr std::size_t kMaxRingBytes = std::size_t{1} << 40;

// How the file and the flags spell the choices.
template <typename Choice>
struct ChoiceName {
  std::string_view name;
  Choice value;
};
inline constexpr ChoiceName<StatsAccess> kStatsAccessNames[] = {
    {"open", StatsAccess::open},
    {"password", StatsAccess::password},
    {"admin-listener", StatsAccess::admin_listener},
};
inline constexpr ChoiceName<SlowViewerAction> kSlowViewerNames[] = {
    {"skip", SlowViewerAction::skip},
    {"disconnect", SlowViewerAction::disconnect},
};
inline constexpr std::string_view kLogLevels[] = {"trace", "debug", "info", "warn", "error", "off"};

}  // namespace ringcast::relay
