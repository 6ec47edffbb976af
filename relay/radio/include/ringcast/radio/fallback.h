// Fallback mounts (Icecast's fallback-mount): which mount a listener hears while the one it
// asked for has no source, and the loops a configuration must not contain. Pure: the mounts'
// settings and whether a mount is live are passed in.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "ringcast/core/config.h"

namespace ringcast::relay {

// A chain longer than this is treated as ending there (Icecast stops at the same kind of depth).
inline constexpr std::size_t kMaxFallbackHops = 8;

using MountSettingsLookup = std::function<const MountSettings*(std::string_view mount)>;
using MountLive = std::function<bool(std::string_view mount)>;

// The first live mount down `mount`'s fallback chain, `mount` itself excluded; nullopt when
// none is (a loop or kMaxFallbackHops ends the walk).
std::optional<std::string> live_fallback(std::string_view mount, const MountSettingsLookup& settings,
                                         const MountLive& live);

// The first fallback loop in a configuration, as "/a -> /b -> /a"; nullopt when there is none.
std::optional<std::string> fallback_loop(const std::map<std::string, MountSettings>& mounts);

}  // namespace ringcast::relay
