// LogPipe: line splitting with a carried partial line, written out when the app goes quiet;
// EOF ends what is left.
#include "daemon/log_pipe.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace pmx::daemon {

std::shared_ptr<LogPipe> LogPipe::open(boost::asio::io_context& io, int read_fd, std::shared_ptr<LineWriter> writer) {
  return std::make_shared<LogPipe>(io, read_fd, std::move(writer));
}

LogPipe::LogPipe(boost::asio::io_context& io, int read_fd, std::shared_ptr<LineWriter> writer)
    : pipe_(io, read_fd), idle_(io), writer_(std::move(writer)) {}

void LogPipe::start() {
  pipe_.non_blocking(true);
  wait_readable();
}

void LogPipe::settle() {
  if (!pipe_.is_open()) return;
  drain();
  write_partial();
  writer_->end_line();
}

void LogPipe::close() {
  if (!pipe_.is_open()) return;
  settle();
  idle_.cancel();
  boost::system::error_code ignored;
  pipe_.close(ignored);
}

void LogPipe::write_partial() {
  if (partial_.empty()) return;
  writer_->write_partial(partial_);
  partial_.clear();
}

void LogPipe::take(const char* data, std::size_t n) {
  // Everything up to the last newline goes out in one write, after the carried part.
  std::size_t last_nl = std::string_view(data, n).rfind('\n');
  if (last_nl == std::string_view::npos) {
    partial_.append(data, n);
  } else {
    if (partial_.empty()) {
      writer_->write_lines(std::string_view(data, last_nl + 1));
    } else {
      partial_.append(data, last_nl + 1);
      writer_->write_lines(partial_);
      partial_.clear();
    }
    partial_.append(data + last_nl + 1, n - last_nl - 1);
  }
  if (partial_.size() >= kMaxLine) write_partial();
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
    // End of file (every writer is gone) or an error: end the unterminated last line.
    write_partial();
    writer_->end_line();
    return false;
  }
  return true;
}

void LogPipe::arm_idle() {
  if (partial_.empty() || idle_armed_) return;
  idle_armed_ = true;
  idle_.expires_after(kPartialIdle);
  idle_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    self->idle_armed_ = false;
    if (ec == boost::asio::error::operation_aborted) return;
    self->write_partial();
  });
}

void LogPipe::wait_readable() {
  pipe_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                   [self = shared_from_this()](const boost::system::error_code& ec) {
                     if (ec == boost::asio::error::operation_aborted) return;
                     if (!self->drain()) return;
                     self->arm_idle();
                     self->wait_readable();
                   });
}

}  // namespace pmx::daemon
