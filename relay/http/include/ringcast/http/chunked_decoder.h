// The HTTP/1.1 chunked transfer coding (RFC 9112 §7.1) of a source's PUT body, removed in place:
// each read's bytes are decoded where they landed in the ring, so only the body is committed.
// Pure and allocation-free: bytes in, a verdict out, no I/O; it can be fuzzed and tested alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace ringcast::relay {

class ChunkedDecoder {
 public:
  enum class Status {
    more,       // the body goes on: decode the next bytes received
    done,       // the last chunk (size 0) and its trailer section ended
    malformed,  // the framing is broken; error() says how
  };
  struct Result {
    std::size_t body_bytes;  // data[0, body_bytes) is the body the decoded bytes carried
    Status status;
  };
  // What a peer may send around the body, so that it cannot keep the relay reading framing.
  struct Limits {
    std::size_t max_size_line = 1024;        // a size line, its extensions and its line end
    std::size_t max_trailer_section = 8192;  // every trailer line and the final empty line
  };

  ChunkedDecoder() = default;
  explicit ChunkedDecoder(Limits limits) : limits_(limits) {}

  // Decodes `data`, the bytes just received, in place: the body is moved left over the framing,
  // within `data` only, and data[0, body_bytes) is then the body those bytes carried, in order.
  // Framing may be split across calls at any byte. done: bytes after the trailer section are
  // ignored. malformed: body_bytes counts the valid body before the fault. Once done or
  // malformed, every call returns that status and 0 body bytes.
  Result decode(std::span<std::byte> data);

  Status status() const;
  // Why the framing is malformed, a short phrase for the log; empty otherwise.
  std::string_view error() const { return error_; }
  // The body bytes decoded by every call so far.
  std::uint64_t body_total() const { return body_total_; }

 private:
  enum class State : std::uint8_t {
    size_start,     // a size line's first byte: a hex digit
    size_digits,    // more hex digits, whitespace, ';' or the line end
    size_space,     // whitespace after the digits: more, ';' or the line end
    extension,      // skipped up to the line end
    size_lf,        // a CR ended the size line: LF must follow
    data,           // chunk_left_ body bytes to go
    data_end,       // CRLF (or LF) after the chunk data
    data_lf,        // the LF of that CRLF
    trailer_start,  // a trailer line's first byte, or the final empty line
    trailer_field,  // skipped up to the line end
    trailer_lf,     // a CR ended a trailer line: LF must follow
    final_lf,       // a CR began the final empty line: LF must follow
    done,
    malformed,
  };

  void step(char c);
  // ';', CR or LF after a chunk size (and its whitespace): true when `c` was one of them.
  bool after_size(char c);
  void end_size_line();
  void fail(std::string_view reason);

  Limits limits_;
  State state_ = State::size_start;
  std::uint64_t chunk_left_ = 0;   // while the size line is read: the size so far
  std::size_t framing_bytes_ = 0;  // of the current size line, or of the trailer section
  std::size_t size_digits_ = 0;    // hex digits of the current size line
  std::uint64_t body_total_ = 0;
  std::string_view error_;  // a string literal
};

}  // namespace ringcast::relay
