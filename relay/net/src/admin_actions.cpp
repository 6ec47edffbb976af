// The operators' surface on a worker: /, /stats, /metrics and /admin/..., their access rules
// (--stats-access, --admin-password, --admin-listen), and admin tasks that span loops.
#include "ringcast/net/admin_actions.h"

#include <spdlog/spdlog.h>

#include "admin_task.h"
#include "ringcast/net/connection.h"
#include "ringcast/ops/dashboard.h"
#include "ringcast/admission/admission.h"
#include "ringcast/http/http_request.h"
#include "ringcast/radio/icecast.h"
#include "ringcast/radio/icecast_admin.h"
#include "ringcast/net/relay.h"
#include "ringcast/net/source_session.h"
#include "ringcast/net/stream.h"
#include "ringcast/net/viewer_session.h"
#include "ringcast/net/worker.h"

namespace ringcast::relay {

namespace {

// A page for the main loop to render for this request.
std::shared_ptr<AdminTask> render_task(const RequestHead& head, AdminTask::Kind kind, std::string mount = {}) {
  auto task = std::make_shared<AdminTask>();
  task->kind = kind;
  task->head_only = head.method == Method::head;
  task->host = std::string(head.header("Host").value_or(""));
  task->mount = std::move(mount);
  return task;
}

}  // namespace

AdminActions::AdminActions(Worker& worker) : worker_(worker) {}

bool AdminActions::authorized(Connection& connection, const RequestHead& head) {
  const auto policy = worker_.relay().policy();
  if (policy->admin_password.empty()) {
    worker_.counters().auth_failures.add(1);
    spdlog::warn("{} {} refused: no admin password is set: 403", connection.peer(), head.path);
    connection.respond_and_close(403, "the admin interface is off: set --admin-password\n");
    return false;
  }
  const auto authorization = head.header("Authorization");
  if (!basic_credentials_match(authorization, policy->admin_user, policy->admin_password)) {
    worker_.counters().auth_failures.add(1);
    spdlog::warn("{} {} refused: {}: 401", connection.peer(), head.path,
                 authorization ? "wrong admin credentials" : "no admin credentials");
    connection.respond(Response::challenge("admin authentication required\n", policy->realm));
    return false;
  }
  return true;
}

void AdminActions::handle(Connection& connection, RequestHead& head, Route route) {
  if (route == Route::admin_metadata) {
    handle_metadata(connection, head);
    return;
  }
  if (route == Route::admin_stream_list) {
    // Icecast slaves ask with the relay user; the admin may too.
    const auto policy = worker_.relay().policy();
    const auto authorization = head.header("Authorization");
    const bool relay_user = !policy->relay_password.empty() &&
                            basic_credentials_match(authorization, policy->relay_user, policy->relay_password);
    if (!relay_user && !authorized(connection, head)) return;
    post_render(connection, render_task(head, AdminTask::Kind::render_stream_list));
    return;
  }
  if (is_admin_route(route)) {
    if (authorized(connection, head)) handle_admin(connection, head, route);
    return;
  }
  if (route == Route::no_page) {
    worker_.counters().not_found.add(1);
    connection.respond_and_close(404, "no such page\n");
    return;
  }
  switch (worker_.relay().config().stats_access) {
    case StatsAccess::open:
      break;
    case StatsAccess::password:
      if (!authorized(connection, head)) return;
      break;
    case StatsAccess::admin_listener:
      if (!connection.on_admin_listener()) {
        worker_.counters().not_found.add(1);
        connection.respond_and_close(404, "served on the admin listener only\n");
        return;
      }
      break;
  }
  const bool head_only = head.method == Method::head;
  if (route == Route::dashboard) {
    connection.respond_ok("text/html; charset=utf-8", std::string(dashboard_html()), head_only);
    return;
  }
  switch (route) {
    case Route::stats: post_render(connection, render_task(head, AdminTask::Kind::render_stats)); break;
    case Route::stats_history: post_render(connection, render_task(head, AdminTask::Kind::render_history)); break;
    case Route::status_json: post_render(connection, render_task(head, AdminTask::Kind::render_status_json)); break;
    default: post_render(connection, render_task(head, AdminTask::Kind::render_metrics)); break;
  }
}

void AdminActions::post_render(Connection& connection, std::shared_ptr<AdminTask> task) {
  // Rendered on the main loop: over thousands of mounts it takes long enough to stall this
  // loop's sources and viewers.
  task->origin_worker = worker_.index();
  task->origin = &connection;
  connection.await_admin(task);
  worker_.post_to_main(LoopEvent{LoopEvent::Kind::admin_task, -1, nullptr, 0, task});
}

void AdminActions::handle_metadata(Connection& connection, const RequestHead& head) {
  // What libshout, liquidsoap and ezstream send on every track change, with the mount's source
  // credentials; the admin's work too. Icecast's XML answers.
  const auto policy = worker_.relay().policy();
  const std::optional<std::string> mount = query_parameter(head.target, "mount");
  const MountSettings* mount_settings = mount ? policy->mount(*mount) : nullptr;
  const std::string& source_password = policy->source_password_for(mount_settings);
  const auto authorization = head.header("Authorization");
  const bool allowed =
      basic_credentials_match(authorization, kSourceUser, source_password) ||
      (!policy->admin_password.empty() &&
       basic_credentials_match(authorization, policy->admin_user, policy->admin_password));
  if (!allowed) {
    worker_.counters().auth_failures.add(1);
    spdlog::warn("{} metadata update for {} refused: {}: 401", connection.peer(),
                 mount.value_or("?"), authorization ? "wrong credentials" : "no credentials");
    connection.respond(Response::challenge("authentication required\n", policy->realm));
    return;
  }
  auto parsed = parse_metadata_update(head.target, mount_settings ? mount_settings->charset : std::nullopt);
  if (auto* problem = std::get_if<std::string>(&parsed)) {
    worker_.counters().bad_requests.add(1);
    spdlog::info("{} metadata update refused: {}: 400", connection.peer(), *problem);
    connection.respond(Response::icecast_xml(400, icecast_admin_failure(*problem)));
    return;
  }
  auto& update = std::get<MetadataUpdate>(parsed);
  const std::shared_ptr<Stream> stream = worker_.relay().registry().find(update.mount);
  if (!stream) {
    worker_.counters().not_found.add(1);
    spdlog::info("{} metadata update for {}: no such mount: 400", connection.peer(), update.mount);
    connection.respond(Response::icecast_xml(400, icecast_admin_failure("Source does not exist")));
    return;
  }
  spdlog::info("{} title of {}: {}", connection.peer(), update.mount, update.song.str());
  worker_.counters().metadata_updates.add(1);
  stream->set_title(std::move(update.song), std::move(update.url), unix_ms());
  connection.respond(Response::icecast_xml(200, icecast_admin_success("Metadata update successful")));
}

void AdminActions::handle_move(Connection& connection, const RequestHead& head) {
  const std::optional<std::string> mount = query_parameter(head.target, "mount");
  const std::optional<std::string> destination = query_parameter(head.target, "destination");
  const auto from = mount ? worker_.relay().registry().find(*mount) : nullptr;
  const auto to = destination ? worker_.relay().registry().find(*destination) : nullptr;
  const auto refuse = [&](int status, std::string_view why) {
    (status == 404 ? worker_.counters().not_found : worker_.counters().bad_requests).add(1);
    spdlog::info("{} moveclients refused: {}: {}", connection.peer(), why, status);
    connection.respond(Response::icecast_xml(status, icecast_admin_failure(why)));
  };
  if (!mount || !destination) return refuse(400, "give ?mount=/from&destination=/to");
  if (!from) return refuse(404, "Source does not exist");
  if (!to || !to->has_source()) return refuse(404, "No such destination");
  if (from == to) return refuse(400, "supplied mountpoints are identical");
  spdlog::warn("viewers of {} moved to {} by an admin", *mount, *destination);
  worker_.post_to_all(LoopEvent{LoopEvent::Kind::move_viewers, -1, from, 0, nullptr, to});
  connection.respond(Response::icecast_xml(
      200, icecast_admin_success("Clients moved from " + *mount + " to " + *destination)));
}

void AdminActions::handle_admin(Connection& connection, const RequestHead& head, Route route) {
  if (route == Route::admin_move_viewers) {
    handle_move(connection, head);
    return;
  }
  if (route == Route::admin_stats || route == Route::admin_list_mounts) {
    // Icecast's documents, rendered on the main loop; /admin/stats?mount=M narrows to one.
    std::string mount;
    if (route == Route::admin_stats && has_query_parameter(head.target, "mount")) {
      mount = query_parameter(head.target, "mount").value_or("");
      if (mount_name_problem(mount, worker_.relay().config().max_mount_length) || !worker_.relay().registry().find(mount)) {
        worker_.counters().bad_requests.add(1);
        connection.respond(Response::icecast_xml(400, icecast_admin_failure("Source does not exist")));
        return;
      }
    }
    post_render(connection, render_task(head, route == Route::admin_stats ? AdminTask::Kind::render_admin_stats : AdminTask::Kind::render_list_mounts,
                std::move(mount)));
    return;
  }
  auto task = std::make_shared<AdminTask>();
  switch (route) {
    case Route::admin_list_viewers: task->kind = AdminTask::Kind::list_viewers; break;
    case Route::admin_kick_viewer: task->kind = AdminTask::Kind::kick_viewer; break;
    case Route::admin_kick_source: task->kind = AdminTask::Kind::kick_source; break;
    default:
      worker_.counters().not_found.add(1);
      connection.respond_and_close(
          404, "admin endpoints: /admin/stats[?mount=M], /admin/stats.xml, /admin/listmounts, "
               "/admin/streamlist.txt, /admin/listclients?mount=M[&format=json], "
               "/admin/killclient?mount=M&id=N, /admin/killsource?mount=M, "
               "/admin/metadata?mount=M&mode=updinfo&song=S, /admin/moveclients?mount=M&destination=D\n");
      return;
  }
  const std::optional<std::string> mount = query_parameter(head.target, "mount");
  if (!mount || mount_name_problem(*mount, worker_.relay().config().max_mount_length)) {
    worker_.counters().bad_requests.add(1);
    connection.respond_and_close(400, "give a valid mount: ?mount=/name\n");
    return;
  }
  const std::shared_ptr<Stream> stream = worker_.relay().registry().find(*mount);
  if (!stream) {
    worker_.counters().not_found.add(1);
    connection.respond_and_close(404, "no such mount\n");
    return;
  }
  task->mount = *mount;
  // listclients: Icecast's XML, unless the client asks for JSON (format=json, or an Accept
  // that names application/json and not XML).
  const std::string_view accept = head.header("Accept").value_or("");
  task->json = query_parameter(head.target, "format").value_or("") == "json" ||
               (accept.find("application/json") != std::string_view::npos && accept.find("xml") == std::string_view::npos);
  task->origin_worker = worker_.index();
  task->origin = &connection;

  // Which loops run it: every loop holds some viewers; a viewer id names its loop; the source
  // lives on the writer's loop.
  std::vector<std::size_t> targets;
  const std::size_t workers = worker_.relay().worker_count();
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
      worker_.counters().bad_requests.add(1);
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
  for (std::size_t target : targets) worker_.post_to(target, LoopEvent{LoopEvent::Kind::admin_task, -1, nullptr, 0, task});
}

void AdminActions::run(AdminTask& task) {
  const std::uint64_t now = monotonic_ms();
  const std::uint64_t now_unix = unix_ms();
  for (Connection* connection : worker_.connections()) {
    switch (task.kind) {
      case AdminTask::Kind::render_stats:  // the main loop's
      case AdminTask::Kind::render_history:
      case AdminTask::Kind::render_metrics:
      case AdminTask::Kind::render_status_json:
      case AdminTask::Kind::render_admin_stats:
      case AdminTask::Kind::render_list_mounts:
      case AdminTask::Kind::render_stream_list:
        return;
      case AdminTask::Kind::list_viewers: {
        ViewerSession* viewer = connection->viewer();
        // HLS segment downloads are requests, not listeners (counted as HLS sessions instead).
        if (connection->state() != Connection::State::viewer || viewer->is_segment() ||
            viewer->stream().mount() != task.mount) {
          break;
        }
        const std::uint64_t connected_ms = now - connection->accepted_ms();
        const std::uint64_t head = viewer->stream().ring().head();
        nlohmann::json entry = {
            {"id", connection->id()},
            {"address", connection->peer()},
            {"connected_at", static_cast<double>(now_unix - connected_ms) / 1000.0},
            {"connected_seconds", static_cast<double>(connected_ms) / 1000.0},
            {"bytes_sent", viewer->bytes_sent()},
            {"lag_bytes", head > viewer->position() ? head - viewer->position() : 0},
            {"worker", worker_.index()},
            {"ip", address_of(connection->peer())},
            {"user_agent", connection->user_agent().str()},
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
                       connection->peer(), task.mount, worker_.relay().config().grace_ms);
          connection->close("kicked by admin");
          std::lock_guard lock(task.mutex);
          ++task.kicked;
        }
        break;
    }
  }
}

void AdminActions::answer(AdminTask& task) {
  Connection* connection = task.origin;
  if (connection == nullptr) return;  // the client left before the answer
  connection->admin_answered();
  std::lock_guard lock(task.mutex);
  if (task.failed) {
    connection->respond_and_close(500, "the page could not be rendered (the relay logged why)\n");
    return;
  }
  try {
    answer_task(connection, task);
  } catch (const std::exception& error) {
    spdlog::error("answering an admin request failed: {}: 500", error.what());
    connection->respond_and_close(500, "the answer could not be rendered (the relay logged why)\n");
  }
}

void AdminActions::answer_task(Connection* connection, AdminTask& task) {
  switch (task.kind) {
    case AdminTask::Kind::list_viewers: {
      std::sort(task.viewers.begin(), task.viewers.end(),
                [](const nlohmann::json& a, const nlohmann::json& b) { return a["id"] < b["id"]; });
      if (!task.json) {
        std::vector<IcecastListener> listeners;
        for (const nlohmann::json& viewer : task.viewers) {
          listeners.push_back({viewer["id"].get<std::uint64_t>(), viewer["ip"].get<std::string>(),
                               viewer["user_agent"].get<std::string>(),
                               static_cast<std::uint64_t>(viewer["connected_seconds"].get<double>())});
        }
        connection->respond_ok(std::string(kIcecastXmlType), render_admin_listclients(task.mount, listeners));
        return;
      }
      const nlohmann::json body = {{"mount", task.mount}, {"viewers", std::move(task.viewers)}};
      connection->respond_ok("application/json", body.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
      return;
    }
    case AdminTask::Kind::kick_viewer:
    case AdminTask::Kind::kick_source: {
      const bool viewer = task.kind == AdminTask::Kind::kick_viewer;
      if (task.kicked == 0) {
        worker_.counters().not_found.add(1);
        connection->respond_and_close(404, viewer ? "no such viewer on that mount\n" : "no source on that mount\n");
        return;
      }
      nlohmann::json body = {{"mount", task.mount}, {"kicked", viewer ? "viewer" : "source"}};
      if (viewer) body["id"] = task.viewer_id;
      connection->respond_ok("application/json", body.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
      return;
    }
    case AdminTask::Kind::render_stats:
    case AdminTask::Kind::render_history:
      connection->respond_ok("application/json", std::move(task.body), task.head_only);
      return;
    case AdminTask::Kind::render_metrics:
      connection->respond_ok("text/plain; version=0.0.4; charset=utf-8", std::move(task.body), task.head_only);
      return;
    case AdminTask::Kind::render_status_json:
      // Web players and now-playing widgets poll it; Access-Control-Allow-Origin is on every answer.
      connection->respond_ok("application/json; charset=utf-8", std::move(task.body), task.head_only);
      return;
    case AdminTask::Kind::render_admin_stats:
    case AdminTask::Kind::render_list_mounts:
      connection->respond_ok(std::string(kIcecastXmlType), std::move(task.body), task.head_only);
      return;
    case AdminTask::Kind::render_stream_list:
      connection->respond_ok("text/plain; charset=utf-8", std::move(task.body), task.head_only);
      return;
  }
}

}  // namespace ringcast::relay
