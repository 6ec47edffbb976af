// The master's list, read on worker 0's loop; what to relay follows from the list (relay.cpp).
#include "ringcast/net/master_poller.h"

#include <spdlog/spdlog.h>

#include "ringcast/auth/auth_client.h"
#include "ringcast/edge/edge.h"
#include "ringcast/net/relay.h"
#include "ringcast/net/worker.h"

namespace ringcast::relay {

namespace {
constexpr std::uint32_t kListTimeoutMs = 10'000;
}  // namespace

MasterPoller::MasterPoller(Worker& worker, MasterSettings settings)
    : worker_(worker), settings_(std::move(settings)) {
  list_url_ = settings_.url;
  while (!list_url_.empty() && list_url_.back() == '/') list_url_.pop_back();
  list_url_ += "/admin/streamlist.txt";
  const auto url = parse_origin_url(settings_.url);  // checked when read
  shown_ = url ? url->text : settings_.url;
}

void MasterPoller::start() {
  timer_.init<&MasterPoller::poll>(worker_.loop(), this);
  timer_.start(0, settings_.update_interval_ms);
}

void MasterPoller::close() { timer_.close(); }

void MasterPoller::poll() {
  if (in_flight_) return;  // the last answer is still coming (a slow master): no pile-up
  in_flight_ = true;
  worker_.http_client().get(list_url_, kListTimeoutMs, [this](const AuthClient::Result& result) {
    in_flight_ = false;
    on_list(result.transport_ok, result.status, result.body, result.error);
  });
}

void MasterPoller::on_list(bool transport_ok, long status, const std::string& body,
                           const std::string& error) {
  if (!transport_ok || status != 200) {
    // The mounts relayed so far stay: their pulls fail over and retry on their own.
    const std::string why = transport_ok ? "answered " + std::to_string(status) : error;
    if (failing_) {
      spdlog::debug("master {}: cannot list its mounts: {}", shown_, why);
    } else {
      spdlog::warn("master {}: cannot list its mounts: {} (tried again every {} s)", shown_, why,
                   settings_.update_interval_ms / 1000);
    }
    failing_ = true;
    return;
  }
  failing_ = false;
  const RelayMountChanges changes = worker_.relay().set_master_mounts(parse_stream_list(body));
  for (const std::string& mount : changes.added) {
    spdlog::info("master {}: relaying {}{}", shown_, mount,
                 settings_.on_demand ? " on demand" : "");
  }
  for (const std::string& mount : changes.removed) {
    spdlog::info("master {}: {} is no longer listed: its relay stops", shown_, mount);
  }
  worker_.apply_master_changes(changes, settings_.on_demand);
}

}  // namespace ringcast::relay
