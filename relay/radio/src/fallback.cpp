// Fallback chains (fallback.h).
#include "ringcast/radio/fallback.h"

#include <algorithm>
#include <vector>

namespace ringcast::relay {

std::optional<std::string> live_fallback(std::string_view mount, const MountSettingsLookup& settings,
                                         const MountLive& live) {
  std::vector<std::string> seen{std::string(mount)};
  std::string current(mount);
  for (std::size_t hop = 0; hop < kMaxFallbackHops; ++hop) {
    const MountSettings* s = settings(current);
    if (s == nullptr || !s->fallback_mount) return std::nullopt;
    current = *s->fallback_mount;
    if (std::find(seen.begin(), seen.end(), current) != seen.end()) return std::nullopt;  // a loop
    if (live(current)) return current;
    seen.push_back(current);
  }
  return std::nullopt;
}

std::optional<std::string> fallback_loop(const std::map<std::string, MountSettings>& mounts) {
  for (const auto& [start, unused] : mounts) {
    std::vector<std::string> path{start};
    std::string current = start;
    while (true) {
      const auto found = mounts.find(current);
      if (found == mounts.end() || !found->second.fallback_mount) break;
      current = *found->second.fallback_mount;
      path.push_back(current);
      if (current == start) {
        std::string text;
        for (const std::string& mount : path) text += (text.empty() ? "" : " -> ") + mount;
        return text;
      }
      if (path.size() > mounts.size() + 1) break;  // a loop further down, found from its own start
    }
  }
  return std::nullopt;
}

}  // namespace ringcast::relay
