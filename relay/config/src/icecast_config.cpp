// icecast.xml to TOML (icecast_config.h), element by element as Icecast 2.4.4 reads them
// (src/cfgfile.c): every element either maps to a ringcast key, is refused, or is listed as
// unsupported with its line. Nothing is dropped silently.
#include "ringcast/config/icecast_config.h"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <charconv>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>

#include "ringcast/radio/icecast.h"

namespace ringcast::relay {

namespace {

const bool kLibxmlReady = [] {
  xmlInitParser();
  return true;
}();

std::string name_of(xmlNodePtr node) { return reinterpret_cast<const char*>(node->name); }

std::uint32_t line_of(xmlNodePtr node) { return static_cast<std::uint32_t>(xmlGetLineNo(node)); }

// An element's text, trimmed.
std::string text_of(xmlNodePtr node) {
  xmlChar* content = xmlNodeGetContent(node);
  std::string text = content ? reinterpret_cast<const char*>(content) : "";
  xmlFree(content);
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

std::string attribute(xmlNodePtr node, const char* name) {
  xmlChar* value = xmlGetProp(node, reinterpret_cast<const xmlChar*>(name));
  std::string out = value ? reinterpret_cast<const char*>(value) : "";
  xmlFree(value);
  return out;
}

template <typename F>
void for_each_element(xmlNodePtr parent, F&& f) {
  for (xmlNodePtr child = parent->children; child != nullptr; child = child->next) {
    if (child->type == XML_ELEMENT_NODE) f(child);
  }
}

// A TOML basic string.
std::string quoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20 || byte == 0x7F) {
      char escape[8];
      std::snprintf(escape, sizeof escape, "\\u%04X", byte);
      out += escape;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::optional<long long> integer(const std::string& text) {
  long long value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// One TOML table's lines, keys in the order they were set (a later one replaces).
class Table {
 public:
  void set(const std::string& key, std::string value, std::string comment = {}) {
    for (auto& line : lines_) {
      if (line.key == key) {
        line.value = std::move(value);
        line.comment = std::move(comment);
        return;
      }
    }
    lines_.push_back({key, std::move(value), std::move(comment)});
  }
  bool empty() const { return lines_.empty(); }
  std::string text() const {
    std::string out;
    for (const auto& line : lines_) {
      out += line.key + " = " + line.value;
      if (!line.comment.empty()) out += "  # " + line.comment;
      out += "\n";
    }
    return out;
  }

 private:
  struct Line {
    std::string key, value, comment;
  };
  std::vector<Line> lines_;
};

class Converter {
 public:
  IcecastConversion run(std::string_view xml) {
    (void)kLibxmlReady;
    // The first error is the one to show (later ones follow from it). libxml2's handler is
    // per thread: set for this parse only.
    struct FirstError {
      std::uint32_t line = 0;
      std::string message;
    } first;
    xmlSetStructuredErrorFunc(&first, [](void* data, xmlErrorPtr error) {
      auto* first = static_cast<FirstError*>(data);
      if (first->message.empty() && error != nullptr && error->level >= XML_ERR_ERROR) {
        first->line = static_cast<std::uint32_t>(error->line);
        first->message = error->message != nullptr ? error->message : "unreadable";
      }
    });
    const std::unique_ptr<xmlDoc, void (*)(xmlDoc*)> doc(
        xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "icecast.xml", nullptr,
                      XML_PARSE_NONET | XML_PARSE_NOWARNING),
        xmlFreeDoc);
    xmlSetStructuredErrorFunc(nullptr, nullptr);
    if (!doc) {
      error_at(first.line, "not well-formed XML: " + trim(first.message.empty() ? "unreadable" : first.message));
      return finish();
    }
    xmlNodePtr root = xmlDocGetRootElement(doc.get());
    if (root == nullptr || name_of(root) != "icecast") {
      error_at(root ? line_of(root) : 0, "not an icecast.xml: the root element is not <icecast>");
      return finish();
    }
    for_each_element(root, [&](xmlNodePtr node) { top_level(node); });
    return finish();
  }

 private:
  static std::string trim(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return text;
  }
  void error_at(std::uint32_t line, std::string message) { result_.errors.push_back({line, 0, std::move(message)}); }
  void unsupported(xmlNodePtr node, const std::string& what, const std::string& instead) {
    result_.unsupported.push_back({line_of(node), 0, "<" + what + "> is not supported: " + instead});
  }

  void top_level(xmlNodePtr node) {
    const std::string name = name_of(node);
    if (name == "limits") {
      for_each_element(node, [&](xmlNodePtr n) { limit(n); });
    } else if (name == "authentication") {
      for_each_element(node, [&](xmlNodePtr n) { authentication(n); });
    } else if (name == "listen-socket") {
      listen_socket(node);
    } else if (name == "mount") {
      mount(node);
    } else if (name == "paths") {
      for_each_element(node, [&](xmlNodePtr n) { path(n); });
    } else if (name == "logging") {
      for_each_element(node, [&](xmlNodePtr n) { logging(n); });
    } else if (name == "location" || name == "admin") {
      relay_.set(name == "location" ? "location" : "admin_contact", quoted(text_of(node)),
                 "status-json and /admin/stats show it");
    } else if (name == "hostname") {
      unsupported(node, name, "listen URLs name the host each client used (its Host header)");
    } else if (name == "fileserve") {
      if (text_of(node) != "0") unsupported(node, name, "ringcast serves no files; serve a web root with a web server in front");
    } else if (name == "security") {
      unsupported(node, name, "run ringcast as an unprivileged user (the systemd unit's User=), no chroot needed");
    } else if (name == "http-headers") {
      unsupported(node, name, "ringcast sends CORS headers on every answer; add others in the front (haproxy)");
    } else if (name == "directory") {
      unsupported(node, name, "YP directory listings are not sent");
    } else if (name == "relay") {
      relay(node);
    } else if (name == "relays-on-demand") {
      relays_on_demand_ = text_of(node) != "0";
    } else if (name == "master-server") {
      master_server_ = text_of(node);
    } else if (name == "master-server-port") {
      master_port_ = text_of(node);
    } else if (name == "master-username") {
      master_user_ = text_of(node);
    } else if (name == "master-password") {
      master_password_ = text_of(node);
    } else if (name == "master-update-interval") {
      if (!integer(text_of(node))) {
        error_at(line_of(node), "<master-update-interval> is not a number: " + text_of(node));
      } else {
        master_interval_ = text_of(node);
      }
    } else if (name == "master-relay-auth" || name == "master-ssl-port") {
      unsupported(node, name, "a slave relays its master's mounts over http with the relay user");
    } else if (name == "shoutcast-mount") {
      unsupported(node, name, "SHOUTcast v1 sources are not accepted; use an Icecast (PUT/SOURCE) source");
    } else if (name == "server-id") {
      unsupported(node, name, "the server id is ringcast's");
    } else {
      unsupported(node, name, "unknown to ringcast");
    }
  }

  void limit(xmlNodePtr node) {
    const std::string name = name_of(node);
    const std::string value = text_of(node);
    const auto number = integer(value);
    if (!number || *number < 0) {
      if (name != "burst-on-connect") error_at(line_of(node), "<" + name + "> is not a number: " + value);
      return;
    }
    if (name == "clients") {
      relay_.set("max_connections", std::to_string(*number), "Icecast's <clients>");
    } else if (name == "sources") {
      relay_.set("max_mounts", std::to_string(*number), "Icecast's <sources>: mounts at most");
    } else if (name == "queue-size") {
      relay_.set("max_lag", std::to_string(*number), "Icecast's <queue-size>: a listener further behind is slow");
    } else if (name == "burst-size") {
      relay_.set("burst", std::to_string(*number));
    } else if (name == "burst-on-connect") {
      if (*number == 0) relay_.set("burst", "1", "Icecast's <burst-on-connect>0: (almost) no burst");
    } else if (name == "header-timeout") {
      relay_.set("head_timeout", std::to_string(*number));
    } else if (name == "source-timeout") {
      relay_.set("source_timeout", std::to_string(*number));
    } else if (name == "client-timeout") {
      relay_.set("viewer_stall_timeout", std::to_string(*number), "Icecast's <client-timeout>");
    } else if (name == "threadpool") {
      unsupported(node, name, "ringcast's event loops are --workers");
    } else {
      unsupported(node, "limits/" + name, "unknown to ringcast");
    }
  }

  void authentication(xmlNodePtr node) {
    const std::string name = name_of(node);
    const std::string value = text_of(node);
    if (name == "source-password") {
      relay_.set("source_password", quoted(value));
    } else if (name == "admin-password") {
      relay_.set("admin_password", quoted(value));
    } else if (name == "admin-user") {
      relay_.set("admin_user", quoted(value));
    } else if (name == "relay-user") {
      relay_.set("relay_user", quoted(value));
    } else if (name == "relay-password") {
      relay_.set("relay_password", quoted(value));
    } else {
      unsupported(node, "authentication/" + name, "unknown to ringcast");
    }
  }

  void listen_socket(xmlNodePtr node) {
    std::string port, bind = "0.0.0.0";
    bool ssl = false;
    for_each_element(node, [&](xmlNodePtr n) {
      const std::string name = name_of(n);
      if (name == "port") {
        port = text_of(n);
      } else if (name == "bind-address") {
        bind = text_of(n);
      } else if (name == "ssl" || name == "tls") {
        ssl = text_of(n) != "0";
      } else if (name == "shoutcast-compat" || name == "shoutcast-mount") {
        unsupported(n, "listen-socket/" + name, "SHOUTcast v1 sources are not accepted");
      } else {
        unsupported(n, "listen-socket/" + name, "unknown to ringcast");
      }
    });
    if (ssl) {
      error_at(line_of(node), "an <ssl> listen-socket: ringcast leaves TLS to the front (haproxy); see "
                              "docs/operations.md, \"TLS at the front\", and drop this socket");
      return;
    }
    const auto number = integer(port);
    if (!number || *number <= 0 || *number > 65535) {
      error_at(line_of(node), "<listen-socket> without a valid <port>");
      return;
    }
    if (listen_sockets_++ > 0) {
      unsupported(node, "listen-socket", "ringcast listens on one address (and --admin-listen); this port " +
                                             port + " is not opened");
      return;
    }
    const std::string host = bind.find(':') != std::string::npos ? "[" + bind + "]" : bind;
    relay_.set("listen", quoted(host + ":" + port));
  }

  void path(xmlNodePtr node) {
    const std::string name = name_of(node);
    if (name == "logdir") {
      logdir_ = text_of(node);
    } else if (name == "basedir" || name == "webroot" || name == "adminroot" || name == "pidfile" ||
               name == "alias" || name == "ssl-certificate" || name == "allow-ip" || name == "deny-ip") {
      if (name == "allow-ip" || name == "deny-ip") {
        unsupported(node, "paths/" + name, "filter addresses in the front (haproxy) or the firewall");
      }
      // The others name Icecast's own files: nothing of ringcast's lives there.
    } else if (name == "x-forwarded-for") {
      // Icecast believes X-Forwarded-For from this address (one element per proxy).
      trusted_proxies_.push_back(text_of(node));
    } else {
      unsupported(node, "paths/" + name, "unknown to ringcast");
    }
  }

  void logging(xmlNodePtr node) {
    const std::string name = name_of(node);
    const std::string value = text_of(node);
    if (name == "accesslog") {
      accesslog_ = value;
    } else if (name == "loglevel") {
      static const std::map<std::string, std::string> levels = {{"1", "error"}, {"2", "warn"}, {"3", "info"}, {"4", "debug"}};
      const auto level = levels.find(value);
      if (level == levels.end()) {
        error_at(line_of(node), "<loglevel> is 1 to 4, not " + value);
      } else {
        relay_.set("log_level", quoted(level->second));
      }
    } else if (name == "errorlog") {
      unsupported(node, "logging/errorlog", "ringcast logs to stderr (journald under systemd)");
    } else if (name == "logsize" || name == "logarchive" || name == "playlistlog") {
      if (name == "playlistlog") unsupported(node, "logging/playlistlog", "titles are logged with the rest");
      // logsize, logarchive: rotation is logrotate's (SIGHUP reopens the access log).
    } else {
      unsupported(node, "logging/" + name, "unknown to ringcast");
    }
  }

  // <relay>: one mount pulled from another server, as a [[relays]] entry.
  void relay(xmlNodePtr node) {
    std::string server, port = "8000", mount, local_mount, user, password;
    std::optional<bool> on_demand;
    for_each_element(node, [&](xmlNodePtr n) {
      const std::string name = name_of(n);
      const std::string value = text_of(n);
      if (name == "server") {
        server = value;
      } else if (name == "port") {
        port = value;
      } else if (name == "mount") {
        mount = value;
      } else if (name == "local-mount") {
        local_mount = value;
      } else if (name == "username") {
        user = value;
      } else if (name == "password") {
        password = value;
      } else if (name == "on-demand") {
        on_demand = value != "0";
      } else if (name == "relay-shoutcast-metadata") {
        if (value == "0") unsupported(n, "relay/" + name, "ringcast always asks for the titles and relays them");
      } else {
        unsupported(n, "relay/" + name, "unknown to ringcast");
      }
    });
    if (server.empty() || mount.empty()) {
      error_at(line_of(node), "<relay> needs a <server> and a <mount>");
      return;
    }
    if (!integer(port)) {
      error_at(line_of(node), "<relay><port> is not a number: " + port);
      return;
    }
    const std::string credentials = user.empty() ? "" : user + ":" + password + "@";
    Table table;
    table.set("url", quoted("http://" + credentials + server + ":" + port + mount));
    if (!local_mount.empty() && local_mount != mount) table.set("mount", quoted(local_mount));
    relays_.push_back({std::move(table), on_demand});
  }

  void mount(xmlNodePtr node) {
    const std::string type = attribute(node, "type");
    if (!type.empty() && type != "normal") {
      unsupported(node, "mount type=\"" + type + "\"", "set relay-wide keys instead of a default mount");
      return;
    }
    Table table;
    std::string mount_name;
    for_each_element(node, [&](xmlNodePtr n) {
      const std::string name = name_of(n);
      const std::string value = text_of(n);
      const auto number = integer(value);
      const auto need_number = [&]() {
        if (!number) error_at(line_of(n), "<" + name + "> is not a number: " + value);
        return number.has_value();
      };
      if (name == "mount-name") {
        mount_name = value;
      } else if (name == "password") {
        table.set("source_password", quoted(value));
      } else if (name == "username") {
        if (value != "source") unsupported(n, "mount/username", "a source's user is always 'source'; " + value + " is not accepted");
      } else if (name == "max-listeners") {
        if (need_number() && *number >= 0) table.set("max_viewers", std::to_string(*number));
      } else if (name == "burst-size") {
        if (need_number() && *number >= 0) table.set("burst", std::to_string(*number));
      } else if (name == "mp3-metadata-interval") {
        if (need_number() && *number >= 0) table.set("icy_metaint", std::to_string(*number));
      } else if (name == "fallback-mount") {
        table.set("fallback_mount", quoted(value));
      } else if (name == "fallback-override") {
        table.set("fallback_override", value != "0" ? "true" : "false");
      } else if (name == "hidden") {
        table.set("hidden", value != "0" ? "true" : "false");
      } else if (name == "type" || name == "subtype") {
        table.set("content_type", quoted(value));
      } else if (name == "authentication") {
        mount_authentication(n, table);
      } else if (name == "fallback-when-full") {
        table.set("fallback_when_full", value != "0" ? "true" : "false");
      } else if (name == "stream-name" || name == "stream-description" || name == "stream-url" || name == "genre") {
        static const std::map<std::string, std::string> keys = {{"stream-name", "stream_name"},
                                                                {"stream-description", "stream_description"},
                                                                {"stream-url", "stream_url"},
                                                                {"genre", "genre"}};
        if (!value.empty()) table.set(keys.at(name), quoted(value));
      } else if (name == "bitrate") {
        if (need_number() && *number > 0) table.set("bitrate", std::to_string(*number));
      } else if (name == "public") {
        // -1 (Icecast's default): the source decides.
        if (need_number() && *number >= 0) table.set("public", *number != 0 ? "true" : "false");
      } else if (name == "charset") {
        if (is_known_charset(value)) {
          table.set("charset", quoted(value));
        } else {
          unsupported(n, "mount/charset " + value, "titles are converted from UTF-8 or ISO-8859-1 only");
        }
      } else if (name == "intro" || name == "dump-file" || name == "on-connect" ||
                 name == "on-disconnect" || name == "max-listener-duration" ||
                 name == "http-headers" || name == "no-yp" ||
                 name == "queue-size" || name == "source-timeout" || name == "cluster-password" || name == "no-mount") {
        unsupported(n, "mount/" + name, mount_instead(name));
      } else {
        unsupported(n, "mount/" + name, "unknown to ringcast");
      }
    });
    if (mount_name.empty()) {
      error_at(line_of(node), "<mount> without <mount-name>");
      return;
    }
    mounts_.emplace_back(mount_name, std::move(table));
  }

  static std::string mount_instead(const std::string& name) {
    if (name == "on-connect" || name == "on-disconnect") return "use mount_add_url / mount_remove_url (the url authenticator)";
    return "not done by ringcast";
  }

  void mount_authentication(xmlNodePtr node, Table& table) {
    const std::string type = attribute(node, "type");
    std::map<std::string, std::string> options;
    for_each_element(node, [&](xmlNodePtr n) {
      if (name_of(n) == "option") options[attribute(n, "name")] = attribute(n, "value");
    });
    if (type == "htpasswd") {
      if (options.count("filename")) table.set("listener_users_file", quoted(options["filename"]));
      if (options.count("allow_duplicate_users")) {
        table.set("allow_duplicate_users", options["allow_duplicate_users"] != "0" ? "true" : "false");
      }
      return;
    }
    if (type == "url") {
      static const std::map<std::string, std::string> keys = {
          {"listener_add", "listener_add_url"}, {"listener_remove", "listener_remove_url"},
          {"mount_add", "mount_add_url"},       {"mount_remove", "mount_remove_url"},
          {"stream_auth", "stream_auth_url"},   {"auth_header", "auth_header"},
          {"headers", "auth_headers"},          {"header_prefix", "auth_header_prefix"}};
      for (const auto& [option, value] : options) {
        if (const auto key = keys.find(option); key != keys.end()) {
          table.set(key->second, quoted(value));
        } else if (option == "timeout") {
          table.set("auth_timeout", value);
        } else if (option != "username" && option != "password") {
          unsupported(node, "authentication/option " + option, "not passed on by ringcast's url authenticator");
        }
      }
      return;
    }
    unsupported(node, "authentication type=\"" + type + "\"", "use type htpasswd (a users file) or url");
  }

  IcecastConversion finish() {
    if (!logdir_.empty() || !accesslog_.empty()) {
      const std::string file = accesslog_.empty() ? "access.log" : accesslog_;
      const std::string path = file.starts_with('/') || logdir_.empty() ? file : logdir_ + "/" + file;
      relay_.set("access_log", quoted(path), "Icecast's <logdir>/<accesslog>");
    }
    if (!trusted_proxies_.empty()) {
      std::string list;
      for (const std::string& proxy : trusted_proxies_) list += (list.empty() ? "" : ", ") + quoted(proxy);
      relay_.set("trusted_proxies", "[" + list + "]", "Icecast's <x-forwarded-for>");
    }
    if (!result_.errors.empty()) return std::move(result_);
    std::string& out = result_.toml;
    out = "# Converted from an icecast.xml by ringcast --convert-icecast-config.\n";
    for (const auto& problem : result_.unsupported) {
      out += "# not carried over (line " + std::to_string(problem.line) + "): " + problem.message + "\n";
    }
    out += "\n" + relay_.text();
    for (const auto& [name, table] : mounts_) {
      out += "\n[mounts." + quoted(name) + "]\n" + table.text();
    }
    if (!master_server_.empty()) {
      // Icecast's slave: every mount the master lists, with its relay user (default "relay").
      Table master;
      master.set("url", quoted("http://" + master_user_ + ":" + master_password_ + "@" + master_server_ + ":" +
                               master_port_));
      master.set("update_interval", master_interval_);
      if (relays_on_demand_) master.set("on_demand", "true");
      out += "\n[master]\n" + master.text();
    }
    for (auto& [table, on_demand] : relays_) {
      // <on-demand> of the relay, else <relays-on-demand>, else Icecast's default: always on.
      if (on_demand.value_or(relays_on_demand_)) table.set("on_demand", "true");
      out += "\n[[relays]]\n" + table.text();
    }
    return std::move(result_);
  }

  IcecastConversion result_;
  Table relay_;
  std::vector<std::pair<std::string, Table>> mounts_;
  std::vector<std::pair<Table, std::optional<bool>>> relays_;  // each with its own <on-demand>
  bool relays_on_demand_ = false;
  // <master-*>, with Icecast's defaults.
  std::string master_server_, master_port_ = "8000", master_user_ = "relay", master_password_,
      master_interval_ = "120";
  std::string logdir_, accesslog_;
  std::vector<std::string> trusted_proxies_;
  int listen_sockets_ = 0;
};

}  // namespace

IcecastConversion convert_icecast_config(std::string_view xml) { return Converter().run(xml); }

bool looks_like_xml(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && text.substr(first, 3) == "\xEF\xBB\xBF") return looks_like_xml(text.substr(first + 3));
  return first != std::string_view::npos && text[first] == '<';
}

}  // namespace ringcast::relay
