// The command line over the config file: a flag given explicitly (or through its environment
// variable) wins, the file named by --config fills in what the flags leave out, the defaults the
// rest. Apart from main.cpp so that tests can check the precedence without starting a relay.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "ringcast/core/config.h"
#include "ringcast/config/config_file.h"

namespace ringcast::relay {

struct CommandLine {
  RelayConfig config;
  std::string config_path;              // --config or --check-config FILE; empty: none
  bool check_only = false;              // --check-config: validate, start nothing
  std::vector<ConfigProblem> problems;  // the file's; when any, `config` has none of its keys
  // An icecast.xml's elements ringcast does not do: listed at start, they stop nothing.
  std::vector<ConfigProblem> notes;
  // --convert-icecast-config FILE: the TOML to print (then exit; problems: exit 1).
  std::optional<std::string> converted;
  std::optional<int> exit_code;         // stop with it: --help, --version or a bad flag (printed)
};

CommandLine parse_command_line(int argc, const char* const* argv);

// Re-reads the config file (on SIGHUP) under the command line the relay started with, so that
// what the flags and the environment set keeps winning over the file, as it did at start.
class ConfigReloader {
 public:
  // `started`: the configuration the relay started with. Its source password (perhaps
  // generated) and its resolved connection limit stay when neither file nor flags set them.
  ConfigReloader(int argc, const char* const* argv, const RelayConfig& started);

  // True: `fresh` is the new configuration. False: the file is broken or unreadable, `error`
  // says why (one "path:line:column: message" per line) and `fresh` is untouched.
  bool reload(RelayConfig& fresh, std::string& error) const;

 private:
  std::vector<std::string> args_;
  std::string source_password_;
  std::size_t max_connections_ = 0;
};

}  // namespace ringcast::relay
