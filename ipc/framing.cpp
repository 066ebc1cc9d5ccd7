// LineBuffer: newline framing with a cap, never holding more than cap + one read of bytes.
#include "ipc/framing.hpp"

namespace pmx::ipc {

void LineBuffer::append(std::string_view bytes) {
  if (overflowed_) return;
  if (start_ > 0 && start_ >= buf_.size() / 2) {
    buf_.erase(0, start_);
    start_ = 0;
  }
  buf_.append(bytes);
}

std::optional<std::string> LineBuffer::next_line() {
  if (overflowed_) return std::nullopt;
  auto nl = buf_.find('\n', start_);
  if (nl == std::string::npos) {
    if (pending() > max_line_) overflowed_ = true;
    return std::nullopt;
  }
  if (nl - start_ > max_line_) {
    overflowed_ = true;
    return std::nullopt;
  }
  std::string line = buf_.substr(start_, nl - start_);
  start_ = nl + 1;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace pmx::ipc
