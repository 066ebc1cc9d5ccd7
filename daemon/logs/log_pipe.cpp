// LogPipe: line splitting with a carried partial line, written out when the app goes quiet;
// EOF ends what is left.
#include "daemon/logs/log_pipe.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

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

void LogPipe::take(const char* data, std::size_t carried, std::size_t n) {
  // data holds the carried partial line (no newline in it) and then what was just read.
  // Everything up to the last newline goes out in one write; the rest is carried.
  const std::size_t total = carried + n;
  std::size_t last_nl = std::string_view(data + carried, n).rfind('\n');
  if (last_nl == std::string_view::npos) {
    partial_.append(data + carried, n);
  } else {
    last_nl += carried;
    writer_->write_lines(std::string_view(data, last_nl + 1));
    partial_.assign(data + last_nl + 1, total - last_nl - 1);
  }
  if (partial_.size() >= kMaxLine) write_partial();
}

bool LogPipe::drain() {
  // Shared by every pipe: reads complete before the next handler runs. The carried partial
  // line (short, as a rule) is put in front of what is read, so the complete lines are one
  // contiguous run without copying the read bytes again.
  static char buffer[kMaxLine + kReadSize];
  // A bounded number of reads per wake-up, so one chatty app cannot starve the loop.
  for (int reads = 0; reads < 16;) {
    const std::size_t carried = partial_.size();  // < kMaxLine: take() writes longer ones out
    std::memcpy(buffer, partial_.data(), carried);
    ssize_t n = ::read(pipe_.native_handle(), buffer + carried, kReadSize);
    if (n > 0) {
      take(buffer, carried, static_cast<std::size_t>(n));
      // A short read emptied the pipe. Asking again would mostly meet EAGAIN, or spin on the
      // pipe's lock while the app fills it: wait for the wake-up its next write brings instead.
      if (static_cast<std::size_t>(n) < kReadSize) return true;
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
