// The operators' surface on a worker: /, /stats, /metrics and /admin/..., their access rules
// (--stats-access, --admin-password, --admin-listen), and admin tasks that span loops.
#include <spdlog/spdlog.h>

#include "admin_task.h"
#include "ringcast/relay/connection.h"
#include "ringcast/relay/dashboard.h"
#include "ringcast/relay/http_request.h"
#include "ringcast/relay/relay.h"
#include "ringcast/relay/source_session.h"
#include "ringcast/relay/stream.h"
#include "ringcast/relay/viewer_session.h"
#include "ringcast/relay/worker.h"

namespace ringcast::relay {

namespace {

constexpr std::string_view kAdminUser = "admin";
constexpr std::string_view kAdminAuthenticate = "WWW-Authenticate: Basic realm=\"ringcast admin\"\r\n";

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

}  // namespace

bool is_operator_path(std::string_view path) {
  return path == "/" || path == "/stats" || path == "/metrics" || path == "/admin" ||
         starts_with(path, "/stats/") || starts_with(path, "/admin/");
}

bool Worker::admin_authorized(Connection& connection, const RequestHead& head) {
  const auto policy = relay_.policy();
  if (policy->admin_password.empty()) {
    counters_.auth_failures.add(1);
    spdlog::warn("{} {} refused: no admin password is set: 403", connection.peer(), head.path);
    connection.respond_and_close(403, "the admin interface is off: set --admin-password\n");
    return false;
  }
  const auto authorization = head.header("Authorization");
  if (!basic_credentials_match(authorization, kAdminUser, policy->admin_password)) {
    counters_.auth_failures.add(1);
    spdlog::warn("{} {} refused: {}: 401", connection.peer(), head.path,
                 authorization ? "wrong admin credentials" : "no admin credentials");
    connection.respond_and_close(401, "admin authentication required\n", kAdminAuthenticate);
    return false;
  }
  return true;
}

void Worker::handle_operator(Connection& connection, RequestHead& head) {
  const std::string& path = head.path;
  if (path == "/admin" || starts_with(path, "/admin/")) {
    if (admin_authorized(connection, head)) handle_admin(connection, head);
    return;
  }
  switch (relay_.config().stats_access) {
    case StatsAccess::open:
      break;
    case StatsAccess::password:
      if (!admin_authorized(connection, head)) return;
      break;
    case StatsAccess::admin_listener:
      if (!connection.on_admin_listener()) {
        counters_.not_found.add(1);
        connection.respond_and_close(404, "served on the admin listener only\n");
        return;
      }
      break;
  }
  const bool head_only = head.method == Method::head;
  if (path == "/stats" || path == "/stats/history" || path == "/metrics") {
    // Rendered on the main loop: over thousands of mounts it takes long enough to stall this
    // loop's sources and viewers.
    auto task = std::make_shared<AdminTask>();
    task->kind = path == "/stats"           ? AdminTask::Kind::render_stats
                 : path == "/stats/history" ? AdminTask::Kind::render_history
                                            : AdminTask::Kind::render_metrics;
    task->head_only = head_only;
    task->origin_worker = index_;
    task->origin = &connection;
    connection.await_admin(task);
    relay_.main_inbox().post(*main_token_, LoopEvent{LoopEvent::Kind::admin_task, -1, nullptr, 0, task});
  } else if (path == "/") {
    connection.respond_ok("text/html; charset=utf-8", std::string(dashboard_html()), head_only);
  } else {
    counters_.not_found.add(1);
    connection.respond_and_close(404, "no such page\n");
  }
}

void Worker::handle_admin(Connection& connection, const RequestHead& head) {
  const std::string& path = head.path;
  auto task = std::make_shared<AdminTask>();
  if (path == "/admin/listclients") {
    task->kind = AdminTask::Kind::list_viewers;
  } else if (path == "/admin/killclient") {
    task->kind = AdminTask::Kind::kick_viewer;
  } else if (path == "/admin/killsource") {
    task->kind = AdminTask::Kind::kick_source;
  } else {
    counters_.not_found.add(1);
    connection.respond_and_close(
        404, "admin endpoints: /admin/listclients?mount=M, /admin/killclient?mount=M&id=N, "
             "/admin/killsource?mount=M\n");
    return;
  }
  const std::optional<std::string> mount = query_parameter(head.target, "mount");
  if (!mount || mount_name_problem(*mount, relay_.config().max_mount_length)) {
    counters_.bad_requests.add(1);
    connection.respond_and_close(400, "give a valid mount: ?mount=/name\n");
    return;
  }
  const std::shared_ptr<Stream> stream = relay_.registry().find(*mount);
  if (!stream) {
    counters_.not_found.add(1);
    connection.respond_and_close(404, "no such mount\n");
    return;
  }
  task->mount = *mount;
  task->origin_worker = index_;
  task->origin = &connection;

  // Which loops run it: every loop holds some viewers; a viewer id names its loop; the source
  // lives on the writer's loop.
  std::vector<std::size_t> targets;
  const std::size_t workers = relay_.worker_count();
  if (task->kind == AdminTask::Kind::list_viewers) {
    for (std::size_t i = 0; i < workers; ++i) targets.push_back(i);
  } else if (task->kind == AdminTask::Kind::kick_viewer) {
    const std::optional<std::string> id = query_parameter(head.target, "id");
    std::uint64_t value = 0;
    try {
      std::size_t used = 0;
      value = id ? std::stoull(*id, &used) : 0;
      if (!id || used != id->size()) throw std::invalid_argument("id");
    } catch (const std::exception&) {
      counters_.bad_requests.add(1);
      connection.respond_and_close(400, "give a viewer id: &id=N (from /admin/listclients)\n");
      return;
    }
    task->viewer_id = value;
    targets.push_back(value % workers);
  } else {
    targets.push_back(stream->writer_worker());
  }
  task->remaining.store(targets.size(), std::memory_order_relaxed);
  connection.await_admin(task);
  for (std::size_t target : targets) post_to(target, LoopEvent{LoopEvent::Kind::admin_task, -1, nullptr, 0, task});
}

void Worker::run_admin_task(AdminTask& task) {
  const std::uint64_t now = monotonic_ms();
  const std::uint64_t now_unix = unix_ms();
  for (Connection* connection : connections_) {
    switch (task.kind) {
      case AdminTask::Kind::render_stats:  // the main loop's
      case AdminTask::Kind::render_history:
      case AdminTask::Kind::render_metrics:
        return;
      case AdminTask::Kind::list_viewers: {
        ViewerSession* viewer = connection->viewer();
        if (connection->state() != Connection::State::viewer || viewer->stream().mount() != task.mount) break;
        const std::uint64_t connected_ms = now - connection->accepted_ms();
        const std::uint64_t head = viewer->stream().ring().head();
        nlohmann::json entry = {
            {"id", connection->id()},
            {"address", connection->peer()},
            {"connected_at", static_cast<double>(now_unix - connected_ms) / 1000.0},
            {"connected_seconds", static_cast<double>(connected_ms) / 1000.0},
            {"bytes_sent", viewer->bytes_sent()},
            {"lag_bytes", head > viewer->position() ? head - viewer->position() : 0},
            {"worker", index_},
        };
        std::lock_guard lock(task.mutex);
        task.viewers.push_back(std::move(entry));
        break;
      }
      case AdminTask::Kind::kick_viewer:
        if (connection->id() == task.viewer_id && connection->state() == Connection::State::viewer &&
            connection->viewer()->stream().mount() == task.mount) {
          spdlog::warn("viewer {} on {} kicked by an admin", connection->peer(), task.mount);
          connection->close("kicked by admin");
          std::lock_guard lock(task.mutex);
          ++task.kicked;
        }
        break;
      case AdminTask::Kind::kick_source:
        if (connection->state() == Connection::State::source &&
            connection->source()->stream().mount() == task.mount) {
          spdlog::warn("source {} on {} kicked by an admin; viewers wait {} ms for a source",
                       connection->peer(), task.mount, relay_.config().grace_ms);
          connection->close("kicked by admin");
          std::lock_guard lock(task.mutex);
          ++task.kicked;
        }
        break;
    }
  }
}

void Worker::answer_admin(AdminTask& task) {
  Connection* connection = task.origin;
  if (connection == nullptr) return;  // the client left before the answer
  connection->admin_answered();
  std::lock_guard lock(task.mutex);
  switch (task.kind) {
    case AdminTask::Kind::list_viewers: {
      std::sort(task.viewers.begin(), task.viewers.end(),
                [](const nlohmann::json& a, const nlohmann::json& b) { return a["id"] < b["id"]; });
      const nlohmann::json body = {{"mount", task.mount}, {"viewers", std::move(task.viewers)}};
      connection->respond_ok("application/json", body.dump(2) + "\n");
      return;
    }
    case AdminTask::Kind::kick_viewer:
    case AdminTask::Kind::kick_source: {
      const bool viewer = task.kind == AdminTask::Kind::kick_viewer;
      if (task.kicked == 0) {
        counters_.not_found.add(1);
        connection->respond_and_close(404, viewer ? "no such viewer on that mount\n" : "no source on that mount\n");
        return;
      }
      nlohmann::json body = {{"mount", task.mount}, {"kicked", viewer ? "viewer" : "source"}};
      if (viewer) body["id"] = task.viewer_id;
      connection->respond_ok("application/json", body.dump(2) + "\n");
      return;
    }
    case AdminTask::Kind::render_stats:
    case AdminTask::Kind::render_history:
      connection->respond_ok("application/json", std::move(task.body), task.head_only);
      return;
    case AdminTask::Kind::render_metrics:
      connection->respond_ok("text/plain; version=0.0.4; charset=utf-8", std::move(task.body), task.head_only);
      return;
  }
}

}  // namespace ringcast::relay
