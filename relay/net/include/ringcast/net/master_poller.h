// A slave's view of its master (config [master]; Icecast's <master-server>): every
// update_interval it reads the master's GET /admin/streamlist.txt with the relay user's
// credentials, as Icecast 2.4's slaves do, and tells the relay which mounts appeared (pulled
// from now on) and which went (their pulls stop). Runs on worker 0, with that loop's HTTP client.
#pragma once

#include <cstdint>
#include <string>

#include "ringcast/core/config.h"
#include "ringcast/uv/handles.h"

namespace ringcast::relay {

class Worker;

class MasterPoller {
 public:
  MasterPoller(Worker& worker, MasterSettings settings);
  MasterPoller(const MasterPoller&) = delete;
  MasterPoller& operator=(const MasterPoller&) = delete;

  // Reads the list at once, then every update_interval.
  void start();
  // The worker is stopping: the timer closes (answers in flight were dropped with the client).
  void close();

 private:
  void poll();
  void on_list(bool transport_ok, long status, const std::string& body, const std::string& error);

  Worker& worker_;
  const MasterSettings settings_;
  std::string list_url_;  // the master's /admin/streamlist.txt, credentials included
  std::string shown_;     // the master's address without the password, for logs
  uv::Timer timer_;
  bool in_flight_ = false;
  bool failing_ = false;  // the last poll failed (log the next failure at debug)
};

}  // namespace ringcast::relay
