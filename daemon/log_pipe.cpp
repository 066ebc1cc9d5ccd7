// LogPipe: line splitting with a carried partial line; EOF flushes what is left.
#include "daemon/log_pipe.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/read.hpp>
#include <cerrno>

namespace pmx::daemon {

std::shared_ptr<LogPipe> LogPipe::open(boost::asio::io_context& io, int read_fd, const std::string& path) {
  int file_fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  return std::make_shared<LogPipe>(io, read_fd, file_fd);
}

LogPipe::LogPipe(boost::asio::io_context& io, int read_fd, int file_fd)
    : pipe_(io, read_fd), file_fd_(file_fd) {}

LogPipe::~LogPipe() {
  if (file_fd_ >= 0) ::close(file_fd_);
}

void LogPipe::start() { read_some(); }

void LogPipe::write_out(const char* data, std::size_t len) {
  if (file_fd_ < 0) return;  // the file could not be opened: lines are dropped, the app runs on
  while (len > 0) {
    ssize_t n = ::write(file_fd_, data, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data += n;
    len -= static_cast<std::size_t>(n);
  }
}

void LogPipe::read_some() {
  pipe_.async_read_some(
      boost::asio::buffer(buf_),
      [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
        if (n > 0) {
          const char* data = self->buf_.data();
          // Everything up to the last newline goes out in one write, after the carried part.
          std::size_t last_nl = std::string_view(data, n).rfind('\n');
          if (last_nl == std::string_view::npos) {
            self->partial_.append(data, n);
          } else {
            if (self->partial_.empty()) {
              self->write_out(data, last_nl + 1);
            } else {
              self->partial_.append(data, last_nl + 1);
              self->write_out(self->partial_.data(), self->partial_.size());
              self->partial_.clear();
            }
            self->partial_.append(data + last_nl + 1, n - last_nl - 1);
          }
          if (self->partial_.size() >= kMaxLine) {
            self->partial_ += '\n';
            self->write_out(self->partial_.data(), self->partial_.size());
            self->partial_.clear();
          }
        }
        if (ec) {
          if (ec == boost::asio::error::operation_aborted) return;
          // EOF or error: flush the unterminated last line.
          if (!self->partial_.empty()) {
            self->partial_ += '\n';
            self->write_out(self->partial_.data(), self->partial_.size());
            self->partial_.clear();
          }
          return;
        }
        self->read_some();
      });
}

}  // namespace pmx::daemon
