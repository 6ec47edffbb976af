// The operators' surface on one worker loop: the dashboard, /stats, /metrics, status-json and
// Icecast's admin endpoints, with their access rules (--stats-access, --admin-password,
// --admin-listen). Pages are rendered on the main loop; tasks that span loops (listclients,
// killclient, killsource) run on each loop they concern and are answered on the one the
// request arrived on.
#pragma once

#include <memory>

namespace ringcast::relay {

struct AdminTask;
struct RequestHead;
class Connection;
class Worker;
enum class Route;

class AdminActions {
 public:
  explicit AdminActions(Worker& worker);
  AdminActions(const AdminActions&) = delete;
  AdminActions& operator=(const AdminActions&) = delete;

  // A request the router sent to an operators' page or an admin endpoint.
  void handle(Connection& connection, RequestHead& head, Route route);
  // An admin task posted to this loop: its part, over this loop's connections.
  void run(AdminTask& task);
  // The task is done (or its page rendered): the answer, on the loop the request came to.
  void answer(AdminTask& task);

 private:
  bool authorized(Connection& connection, const RequestHead& head);
  void handle_metadata(Connection& connection, const RequestHead& head);
  void handle_move(Connection& connection, const RequestHead& head);
  void handle_admin(Connection& connection, const RequestHead& head, Route route);
  // Posts a page to the main loop to render; answered when it comes back.
  void post_render(Connection& connection, std::shared_ptr<AdminTask> task);
  void answer_task(Connection* connection, AdminTask& task);  // answer()'s happy path

  Worker& worker_;
};

}  // namespace ringcast::relay
