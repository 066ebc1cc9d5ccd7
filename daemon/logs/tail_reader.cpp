// TailReader: the backward search for the tail's first line, one block per step, and the
// forward read of the tail's text.
#include "daemon/logs/tail_reader.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace pmx::daemon {

TailReader::TailReader(int fd, off_t size, std::size_t n, std::size_t max_bytes)
    : fd_(fd), size_(size), n_(n) {
  floor_ = size > static_cast<off_t>(max_bytes) ? size - static_cast<off_t>(max_bytes) : 0;
}

bool TailReader::read_at(char* to, std::size_t len, off_t at) const {
  std::size_t done = 0;
  while (done < len) {
    ssize_t got = ::pread(fd_, to + done, len - done, at + static_cast<off_t>(done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    done += static_cast<std::size_t>(got);
  }
  return true;
}

bool TailReader::locate_step() {
  if (located_) return true;
  auto give_up = [this] {
    located_ = true;
    has_lines_ = false;
    return true;
  };
  if (!started_) {
    started_ = true;
    if (n_ == 0 || fd_ < 0 || size_ <= 0) return give_up();
    char last = 0;
    if (!read_at(&last, 1, size_ - 1)) return give_up();
    // The lines end at end_: a final '\n' ends the last line, it does not start an empty one.
    end_ = last == '\n' ? size_ - 1 : size_;
    pos_ = end_;
  }
  if (pos_ > floor_) {
    const auto len = static_cast<std::size_t>(std::min<off_t>(static_cast<off_t>(kBlock), pos_ - floor_));
    pos_ -= static_cast<off_t>(len);
    block_.resize(len);
    if (!read_at(block_.data(), len, pos_)) return give_up();
    for (std::size_t i = len; i-- > 0;) {
      if (block_[i] != '\n') continue;
      lowest_nl_ = pos_ + static_cast<off_t>(i);
      if (++seen_ == n_) {
        begin_ = lowest_nl_ + 1;
        located_ = has_lines_ = true;
        break;
      }
    }
    if (!located_ && pos_ > floor_) return false;
  }
  if (!located_) {
    // All of [floor_, end_) read, fewer than n lines found.
    located_ = has_lines_ = true;
    begin_ = floor_;
    if (floor_ > 0) {
      // Cut at the byte cap: the first line read is only the end of a line; leave it out.
      if (lowest_nl_ < 0) return give_up();
      begin_ = lowest_nl_ + 1;
    }
  }
  block_ = std::string();
  next_ = begin_;
  return true;
}

bool TailReader::read_next(std::string& out) {
  out.clear();
  if (!has_lines() || next_ >= end_) return false;
  const auto len = static_cast<std::size_t>(std::min<off_t>(static_cast<off_t>(kBlock), end_ - next_));
  out.resize(len);
  if (!read_at(out.data(), len, next_)) {
    // Truncated or unreadable since: the tail ends here.
    out.clear();
    next_ = end_;
    return false;
  }
  next_ += static_cast<off_t>(len);
  return true;
}

}  // namespace pmx::daemon
