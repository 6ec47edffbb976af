// The chunked decoder's state machine: body bytes are moved left with one memmove per run, the
// framing between them is read one byte at a time (it is a few bytes per chunk).
#include "ringcast/http/chunked_decoder.h"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace ringcast::relay {

namespace {

// At most 15 significant hex digits: the size stays below 2^60, and the next digit never
// overflows the uint64_t it is shifted into. And at most 32 digits in all, leading zeros
// included: padding is tolerated, a size line of zeros is not.
constexpr std::uint64_t kMaxChunkSize = (std::uint64_t{1} << 60) - 1;
constexpr std::size_t kMaxSizeDigits = 32;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_space(char c) {
  return c == ' ' || c == '\t';
}

}  // namespace

ChunkedDecoder::Status ChunkedDecoder::status() const {
  switch (state_) {
    case State::done:
      return Status::done;
    case State::malformed:
      return Status::malformed;
    default:
      return Status::more;
  }
}

ChunkedDecoder::Result ChunkedDecoder::decode(std::span<std::byte> data) {
  if (state_ == State::done || state_ == State::malformed) return {0, status()};
  std::byte* const bytes = data.data();
  std::size_t read = 0;
  std::size_t body = 0;  // invariant: body <= read, so moving body left never clobbers unread bytes
  while (read < data.size()) {
    if (state_ == State::data) {
      const auto n =
          static_cast<std::size_t>(std::min<std::uint64_t>(chunk_left_, data.size() - read));
      if (body != read) std::memmove(bytes + body, bytes + read, n);
      body += n;
      read += n;
      chunk_left_ -= n;
      if (chunk_left_ == 0) state_ = State::data_end;
      continue;
    }
    step(static_cast<char>(bytes[read++]));
    if (state_ == State::done || state_ == State::malformed) break;
  }
  body_total_ += body;
  return {body, status()};
}

void ChunkedDecoder::step(char c) {
  // Every byte of a size line or of the trailer section counts against its limit, the byte that
  // passes the limit included, whatever it is: so the verdict does not depend on the split.
  switch (state_) {
    case State::size_start:
    case State::size_digits:
    case State::size_space:
    case State::extension:
    case State::size_lf:
      if (++framing_bytes_ > limits_.max_size_line) return fail("chunk size line too long");
      break;
    case State::trailer_start:
    case State::trailer_field:
    case State::trailer_lf:
    case State::final_lf:
      if (++framing_bytes_ > limits_.max_trailer_section) return fail("trailer section too long");
      break;
    default:
      break;
  }

  switch (state_) {
    case State::size_start:
    case State::size_digits: {
      if (const int digit = hex_value(c); digit >= 0) {
        if (++size_digits_ > kMaxSizeDigits) return fail("chunk size has more than 32 hex digits");
        if (chunk_left_ > (kMaxChunkSize >> 4)) return fail("chunk size too large");
        chunk_left_ = chunk_left_ << 4 | static_cast<std::uint64_t>(digit);
        state_ = State::size_digits;
        return;
      }
      if (state_ == State::size_start) {
        const bool delimiter = is_space(c) || c == ';' || c == '\r' || c == '\n';
        return fail(delimiter ? "no digits in chunk size" : "bad hex digit in chunk size");
      }
      if (is_space(c)) {
        state_ = State::size_space;
      } else if (!after_size(c)) {
        fail("bad hex digit in chunk size");
      }
      return;
    }
    case State::size_space:
      // RFC 9112 allows whitespace before ';' only; before the line end it is tolerated too,
      // as nginx and Node do, since it cannot change the size.
      if (is_space(c)) return;
      if (!after_size(c)) fail("bad character after chunk size");
      return;
    case State::extension:
      // Extensions carry nothing the relay uses; a quoted value holds no CR or LF, so the line
      // ends at the first one.
      if (c == '\r') {
        state_ = State::size_lf;
      } else if (c == '\n') {
        end_size_line();
      }
      return;
    case State::size_lf:
      if (c != '\n') return fail("CR without LF in chunk size line");
      end_size_line();
      return;
    case State::data_end:
      if (c == '\r') {
        state_ = State::data_lf;
        return;
      }
      [[fallthrough]];
    case State::data_lf:
      if (c != '\n') return fail("missing CRLF after chunk data");
      state_ = State::size_start;
      framing_bytes_ = 0;
      size_digits_ = 0;
      return;
    case State::trailer_start:
      if (c == '\r') {
        state_ = State::final_lf;
      } else if (c == '\n') {
        state_ = State::done;
      } else {
        state_ = State::trailer_field;  // trailer fields are skipped, never merged into the head
      }
      return;
    case State::trailer_field:
      if (c == '\r') {
        state_ = State::trailer_lf;
      } else if (c == '\n') {
        state_ = State::trailer_start;
      }
      return;
    case State::trailer_lf:
    case State::final_lf:
      if (c != '\n') return fail("CR without LF in trailer section");
      state_ = state_ == State::final_lf ? State::done : State::trailer_start;
      return;
    case State::data:
    case State::done:
    case State::malformed:
      assert(false && "decode() handles data and stops at a final state");
      return;
  }
}

bool ChunkedDecoder::after_size(char c) {
  if (c == ';') {
    state_ = State::extension;
  } else if (c == '\r') {
    state_ = State::size_lf;
  } else if (c == '\n') {
    end_size_line();
  } else {
    return false;
  }
  return true;
}

void ChunkedDecoder::end_size_line() {
  if (chunk_left_ == 0) {
    state_ = State::trailer_start;  // the last chunk
  } else {
    state_ = State::data;
  }
  framing_bytes_ = 0;
}

void ChunkedDecoder::fail(std::string_view reason) {
  state_ = State::malformed;
  error_ = reason;
}

}  // namespace ringcast::relay
