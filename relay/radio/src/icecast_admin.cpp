// Icecast's admin documents (icecast_admin.h), built as libxml2 trees and dumped the way
// Icecast's admin.c does (xmlDocDumpMemory: `<?xml version="1.0"?>`, no indentation,
// non-ASCII as character references).
#include "ringcast/radio/icecast_admin.h"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <algorithm>
#include <map>
#include <memory>
#include <stdexcept>

namespace ringcast::relay {

namespace {

// libxml2 must be initialised once before threads use it: here, at static initialisation.
const bool kLibxmlReady = [] {
  xmlInitParser();
  return true;
}();

const xmlChar* text(const std::string& s) { return reinterpret_cast<const xmlChar*>(s.c_str()); }
const xmlChar* text(const char* s) { return reinterpret_cast<const xmlChar*>(s); }

struct DocDeleter {
  void operator()(xmlDoc* doc) const { xmlFreeDoc(doc); }
};
using Doc = std::unique_ptr<xmlDoc, DocDeleter>;

// A document with the root element Icecast's documents all have.
std::pair<Doc, xmlNodePtr> icestats_document() {
  (void)kLibxmlReady;
  Doc doc(xmlNewDoc(text("1.0")));
  if (!doc) throw std::runtime_error("libxml2: no document");
  xmlNodePtr root = xmlNewDocNode(doc.get(), nullptr, text("icestats"), nullptr);
  xmlDocSetRootElement(doc.get(), root);
  return {std::move(doc), root};
}

std::string dump(const Doc& doc) {
  xmlChar* buffer = nullptr;
  int size = 0;
  xmlDocDumpMemory(doc.get(), &buffer, &size);
  if (buffer == nullptr) throw std::runtime_error("libxml2: document not written");
  std::string out(reinterpret_cast<const char*>(buffer), static_cast<std::size_t>(size));
  xmlFree(buffer);
  return out;
}

// A child element with text content (escaped by libxml2).
void child(xmlNodePtr parent, const char* name, const std::string& value) {
  xmlNewTextChild(parent, nullptr, text(name), text(value));
}

xmlNodePtr source_node(xmlNodePtr parent, const std::string& mount) {
  xmlNodePtr node = xmlNewChild(parent, nullptr, text("source"), nullptr);
  xmlSetProp(node, text("mount"), text(mount));
  return node;
}

// The sources in the order Icecast lists them: by mount, byte-sorted.
std::vector<const IcecastAdminSource*> by_mount(const std::vector<IcecastAdminSource>& sources) {
  std::vector<const IcecastAdminSource*> sorted;
  for (const auto& source : sources) sorted.push_back(&source);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->mount < b->mount; });
  return sorted;
}

// A source's stats as Icecast keeps them: name -> value, emitted in byte order.
std::map<std::string, std::string> source_stats(const IcecastAdminSource& admin) {
  const IcecastSource& s = admin.source;
  std::map<std::string, std::string> stats = {
      {"genre", s.shown_genre()},
      {"listener_peak", std::to_string(s.listener_peak)},
      {"listeners", std::to_string(s.listeners)},
      {"listenurl", s.listenurl},
      {"max_listeners", admin.max_listeners ? std::to_string(*admin.max_listeners) : "unlimited"},
      {"public", admin.is_public ? "1" : "0"},
      {"server_description", s.shown_description()},
      {"server_name", s.shown_name()},
      {"server_type", s.server_type},
      {"slow_listeners", std::to_string(admin.slow_listeners)},
      {"stream_start", icecast_time(s.stream_start_unix_ms)},
      {"stream_start_iso8601", icecast_time_iso8601(s.stream_start_unix_ms)},
      {"total_bytes_read", std::to_string(admin.total_bytes_read)},
      {"total_bytes_sent", std::to_string(admin.total_bytes_sent)},
  };
  // Set only when known, as Icecast removes a stat that has no value.
  const auto put_if_set = [&](const char* name, const std::string& value) {
    if (!value.empty()) stats[name] = value;
  };
  if (s.bitrate) stats["bitrate"] = std::to_string(*s.bitrate);
  put_if_set("audio_info", admin.audio_info);
  put_if_set("server_url", s.server_url);
  put_if_set("title", s.title);
  if (s.artist) put_if_set("artist", *s.artist);
  put_if_set("source_ip", admin.source_ip);
  put_if_set("user_agent", admin.user_agent);
  return stats;
}

}  // namespace

std::string render_admin_stats(const IcecastGlobals& globals, const std::vector<IcecastAdminSource>& sources) {
  auto [doc, root] = icestats_document();
  const IcecastServerInfo& server = globals.server;
  const std::map<std::string, std::string> global_stats = {
      {"admin", server.admin},
      {"client_connections", std::to_string(globals.client_connections)},
      {"clients", std::to_string(globals.clients)},
      {"connections", std::to_string(globals.connections)},
      {"file_connections", "0"},
      {"host", server.shown_host()},
      {"listener_connections", std::to_string(globals.listener_connections)},
      {"listeners", std::to_string(globals.listeners)},
      {"location", server.location},
      {"server_id", server.server_id},
      {"server_start", icecast_time(server.server_start_unix_ms)},
      {"server_start_iso8601", icecast_time_iso8601(server.server_start_unix_ms)},
      {"source_client_connections", std::to_string(globals.source_client_connections)},
      {"source_relay_connections", std::to_string(globals.source_relay_connections)},
      {"source_total_connections",
       std::to_string(globals.source_client_connections + globals.source_relay_connections)},
      {"sources", std::to_string(globals.sources)},
      {"stats", "0"},
      {"stats_connections", "0"},
  };
  for (const auto& [name, value] : global_stats) child(root, name.c_str(), value);
  for (const IcecastAdminSource* source : by_mount(sources)) {
    xmlNodePtr node = source_node(root, source->mount);
    for (const auto& [name, value] : source_stats(*source)) child(node, name.c_str(), value);
  }
  return dump(doc);
}

std::string render_admin_listmounts(const std::vector<IcecastAdminSource>& sources) {
  auto [doc, root] = icestats_document();
  for (const IcecastAdminSource* source : by_mount(sources)) {
    xmlNodePtr node = source_node(root, source->mount);
    // admin.c admin_build_sourcelist: in this order, not sorted.
    child(node, "fallback", source->fallback);
    child(node, "listeners", std::to_string(source->source.listeners));
    child(node, "Connected", std::to_string(source->connected_seconds));
    child(node, "content-type", source->source.server_type);
  }
  return dump(doc);
}

std::string render_admin_listclients(const std::string& mount, const std::vector<IcecastListener>& listeners) {
  auto [doc, root] = icestats_document();
  xmlNodePtr source = source_node(root, mount);
  child(source, "Listeners", std::to_string(listeners.size()));
  for (const IcecastListener& listener : listeners) {
    xmlNodePtr node = xmlNewChild(source, nullptr, text("listener"), nullptr);
    // admin.c add_listener_node: IP, UserAgent, Connected, ID.
    child(node, "IP", listener.ip);
    child(node, "UserAgent", listener.user_agent);
    child(node, "Connected", std::to_string(listener.connected_seconds));
    child(node, "ID", std::to_string(listener.id));
  }
  return dump(doc);
}

std::string render_streamlist(std::vector<std::string> mounts) {
  std::sort(mounts.begin(), mounts.end());
  std::string out;
  for (const std::string& mount : mounts) out += mount + "\r\n";  // CRLF, as Icecast 2.4.4
  return out;
}

}  // namespace ringcast::relay
