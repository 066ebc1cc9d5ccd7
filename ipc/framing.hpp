// Newline framing with a size cap: turns a byte stream into complete lines.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace pmx::ipc {

/// Accumulates bytes and hands out complete lines (without the '\n'). A line longer than the
/// cap puts the buffer in the overflowed state: the caller answers and closes the connection.
class LineBuffer {
 public:
  explicit LineBuffer(std::size_t max_line) : max_line_(max_line) {}

  /// Appends received bytes.
  void append(std::string_view bytes);

  /// The next complete line, if any. Trailing '\r' is removed.
  std::optional<std::string> next_line();

  /// True once a line exceeded the cap; no more lines come out after that.
  bool overflowed() const { return overflowed_; }

  /// Bytes held that do not yet form a line.
  std::size_t pending() const { return buf_.size() - start_; }

 private:
  std::size_t max_line_;
  std::string buf_;
  std::size_t start_ = 0;
  bool overflowed_ = false;
};

}  // namespace pmx::ipc
