// /health (health.h).
#include "ringcast/ops/health.h"

namespace ringcast::relay {

HealthAnswer health_answer(bool draining, const std::vector<std::string>& ready_mounts, const MountLiveCheck& live) {
  if (draining) return {503, "draining\n"};
  std::string missing;
  for (const std::string& mount : ready_mounts) {
    if (live(mount)) continue;
    missing += missing.empty() ? mount : ", " + mount;
  }
  if (!missing.empty()) return {503, "not ready: no source on " + missing + "\n"};
  return {200, "ok\n"};
}

}  // namespace ringcast::relay
