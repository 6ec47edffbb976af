// An admin request served by several worker loops: listing a mount's viewers (every loop holds
// some), kicking a viewer (its loop) or a source (the writer's loop). The loop that holds the
// client's connection posts the task to each loop concerned; the last to finish posts it back.
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

namespace ringcast::relay {

class Connection;

struct AdminTask {
  enum class Kind {
    list_viewers, kick_viewer, kick_source,
    // Rendered on the main loop, off the worker loops whose sources and viewers it would stall
    // (/metrics over 5,000 mounts takes over a second).
    render_stats, render_history, render_metrics, render_status_json,
    render_admin_stats, render_list_mounts, render_stream_list,
  };

  Kind kind = Kind::list_viewers;
  std::string mount;
  std::uint64_t viewer_id = 0;

  std::size_t origin_worker = 0;
  Connection* origin = nullptr;  // the origin loop only; null once that connection closed
  std::atomic<std::size_t> remaining{0};  // loops yet to run it

  std::mutex mutex;  // guards the results: loops run the task concurrently
  nlohmann::json viewers = nlohmann::json::array();
  std::size_t kicked = 0;
  std::string body;  // a rendered page
  bool failed = false;  // the renderer threw: the answer is a 500, the relay goes on
  std::string host;  // the request's Host header (status-json's listen URLs)
  bool head_only = false;
  bool json = false;  // listclients: the JSON document instead of Icecast's XML
};

}  // namespace ringcast::relay
