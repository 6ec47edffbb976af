// How a receive path meets an in-place decoder, for fuzz targets: the wire arrives in reads of
// given sizes; each read lands at the ring's head and is decoded where it landed, and only what
// the decoder keeps stays (the head moves by that much). The ring holds exactly the wire, so
// ASan sees a stray write past it; the bytes after each read's span are checked unchanged.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include "fuzz_check.h"

// decode(i, span) decodes read i in place and returns the bytes it keeps at the span's start.
// `reads` reads of read_sizes[i] bytes (clamped), then one of the rest. Returns the bytes kept,
// at the ring's front.
template <typename Decode>
std::size_t decode_in_place(std::string_view wire, std::size_t reads,
                            const std::uint8_t* read_sizes, std::vector<std::byte>& ring,
                            Decode decode) {
  ring.assign(wire.size(), std::byte{0});
  std::vector<std::byte> after(wire.size());
  std::size_t head = 0;
  std::size_t offset = 0;
  for (std::size_t i = 0; i <= reads; ++i) {
    const std::size_t n = i == reads ? wire.size() - offset
                                     : std::min<std::size_t>(read_sizes[i], wire.size() - offset);
    const std::size_t beyond = ring.size() - head - n;  // the ring's bytes after the span
    if (n > 0) std::memcpy(ring.data() + head, wire.data() + offset, n);
    if (beyond > 0) std::memcpy(after.data(), ring.data() + head + n, beyond);
    const std::size_t kept = decode(i, std::span(ring.data() + head, n));
    FUZZ_CHECK(beyond == 0 || std::memcmp(after.data(), ring.data() + head + n, beyond) == 0,
               "read %zu wrote past its %zu bytes", i, n);
    FUZZ_CHECK(kept <= n, "read %zu: kept %zu bytes of %zu", i, kept, n);
    head += kept;
    offset += n;
  }
  return head;
}
