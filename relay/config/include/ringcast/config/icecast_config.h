// An Icecast 2.4 icecast.xml as ringcast's TOML config: what `--icecast-config FILE` runs and
// `--convert-icecast-config FILE` prints. The XML is read with libxml2; the result is TOML
// text that the ordinary config loader (config_file.h) then checks and applies, so there is one
// meaning for every setting. Pure: text in, text out.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ringcast/config/config_file.h"

namespace ringcast::relay {

struct IcecastConversion {
  std::string toml;  // the equivalent config, commented; empty when there are errors
  // Nothing starts with these: XML that is not well-formed, no <icecast> root, an ssl socket,
  // a value ringcast would read differently from Icecast.
  std::vector<ConfigProblem> errors;
  // What ringcast does not do (relays, YP, intro files, ...): listed once with its line and
  // what to do instead; the rest of the config runs without it.
  std::vector<ConfigProblem> unsupported;
};

IcecastConversion convert_icecast_config(std::string_view xml);

// Whether a config file's text is XML (an icecast.xml), not TOML: its first non-blank byte.
bool looks_like_xml(std::string_view text);

}  // namespace ringcast::relay
