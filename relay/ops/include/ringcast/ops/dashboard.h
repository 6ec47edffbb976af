// The live dashboard served at /: one self-contained page (relay/ops/assets/dashboard.html, no
// external scripts, styles or fonts) compiled into the binary at build time.
#pragma once

#include <string_view>

namespace ringcast::relay {

// The page's HTML, UTF-8; served as `text/html; charset=utf-8`.
std::string_view dashboard_html();

}  // namespace ringcast::relay
