// When a source is read (source_hold.h).
#include "ringcast/core/source_hold.h"

#include <algorithm>

namespace ringcast::relay {

std::size_t source_hold_bytes(const SourceHoldInput& input) {
  if (input.video || input.paused || input.viewers_elsewhere) return 0;
  if (input.rate_bytes_per_second == 0) return 0;
  if (input.own_viewers > 0 && input.own_period_us < kMinHoldPeriodUs) return 0;
  const std::uint64_t budget_bytes = input.rate_bytes_per_second * input.latency_budget_ms / 1000;
  return static_cast<std::size_t>(
      std::clamp<std::uint64_t>(2 * budget_bytes, kMinHoldBytes, kMaxHoldBytes));
}

bool source_hold_changes(std::size_t current, std::size_t wanted) {
  if ((current == 0) != (wanted == 0)) return true;
  const std::size_t difference = current > wanted ? current - wanted : wanted - current;
  return difference * 4 > current;
}

}  // namespace ringcast::relay
