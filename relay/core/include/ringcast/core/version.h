#pragma once

namespace ringcast::relay {
inline constexpr const char* kVersion = "0.1.0";
}  // namespace ringcast::relay
