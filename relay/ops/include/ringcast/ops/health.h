// GET /health, as load balancers read it (haproxy's `option httpchk GET /health`, Kubernetes'
// readiness probes): 200 while the relay serves, 503 while it drains on SIGTERM or while a mount
// it must carry (`ready_mounts`) has no source. Pure: the state is passed in.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace ringcast::relay {

struct HealthAnswer {
  int status = 200;
  std::string body;  // one line a person can read: "ok", "draining", "not ready: /m has no source"
};

using MountLiveCheck = std::function<bool(std::string_view mount)>;

HealthAnswer health_answer(bool draining, const std::vector<std::string>& ready_mounts, const MountLiveCheck& live);

}  // namespace ringcast::relay
