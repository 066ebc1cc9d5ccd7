// LogPipe: line splitting with a carried partial line; EOF flushes what is left.
#include "daemon/log_pipe.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace pmx::daemon {

std::shared_ptr<LogPipe> LogPipe::open(boost::asio::io_context& io, int read_fd, std::shared_ptr<LogSink> sink) {
  return std::make_shared<LogPipe>(io, read_fd, std::move(sink));
}

LogPipe::LogPipe(boost::asio::io_context& io, int read_fd, std::shared_ptr<LogSink> sink)
    : pipe_(io, read_fd), sink_(std::move(sink)) {}

void LogPipe::start() {
  pipe_.non_blocking(true);
  wait_readable();
}

void LogPipe::settle() {
  if (!pipe_.is_open()) return;
  drain();
  if (!partial_.empty()) {
    partial_ += '\n';
    write_out(partial_.data(), partial_.size());
    partial_.clear();
  }
}

void LogPipe::close() {
  if (!pipe_.is_open()) return;
  settle();
  boost::system::error_code ignored;
  pipe_.close(ignored);
}

void LogPipe::write_out(const char* data, std::size_t len) { sink_->write(data, len); }

void LogPipe::take(const char* data, std::size_t n) {
  // Everything up to the last newline goes out in one write, after the carried part.
  std::size_t last_nl = std::string_view(data, n).rfind('\n');
  if (last_nl == std::string_view::npos) {
    partial_.append(data, n);
  } else {
    if (partial_.empty()) {
      write_out(data, last_nl + 1);
    } else {
      partial_.append(data, last_nl + 1);
      write_out(partial_.data(), partial_.size());
      partial_.clear();
    }
    partial_.append(data + last_nl + 1, n - last_nl - 1);
  }
  if (partial_.size() >= kMaxLine) {
    partial_ += '\n';
    write_out(partial_.data(), partial_.size());
    partial_.clear();
  }
}

bool LogPipe::drain() {
  static char buffer[65536];  // shared: reads complete before the next handler runs
  // A bounded number of reads per wake-up, so one chatty app cannot starve the loop.
  for (int reads = 0; reads < 16;) {
    ssize_t n = ::read(pipe_.native_handle(), buffer, sizeof buffer);
    if (n > 0) {
      take(buffer, static_cast<std::size_t>(n));
      ++reads;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    // End of file (every writer is gone) or an error: flush the unterminated last line.
    if (!partial_.empty()) {
      partial_ += '\n';
      write_out(partial_.data(), partial_.size());
      partial_.clear();
    }
    return false;
  }
  return true;
}

void LogPipe::wait_readable() {
  pipe_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                   [self = shared_from_this()](const boost::system::error_code& ec) {
                     if (ec == boost::asio::error::operation_aborted) return;
                     if (self->drain()) self->wait_readable();
                   });
}

}  // namespace pmx::daemon
