// LogPipe: line splitting with a carried partial line, written out when the app goes quiet;
// EOF ends what is left. Bytes leave the pipe only once they are in the files.
#include "daemon/logs/log_pipe.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace pmx::daemon {

namespace {

/// The pipe tee(2) copies a FIFO's head into, read at once: one for the daemon (one thread).
struct PeekPipe {
  int read_end = -1;
  int write_end = -1;
};

const PeekPipe& peek_pipe() {
  static const PeekPipe pipe = [] {
    PeekPipe p;
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return p;
    p.read_end = fds[0];
    p.write_end = fds[1];
    // Room for the largest head looked at; a smaller pipe only means shorter looks.
    ::fcntl(p.write_end, F_SETPIPE_SZ, static_cast<int>(LogPipe::kPeekMax));
    return p;
  }();
  return pipe;
}

/// Where consumed bytes go: splice(2) drops them there without copying.
int dev_null() {
  static const int fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  return fd;
}

/// The buffer every pipe looks into and reads into (one thread: each use completes before the
/// next handler runs): a partial line of up to kMaxLine in front of a read, or a look.
char* shared_buffer() {
  static char buffer[std::max(LogPipe::kMaxLine + LogPipe::kReadSize, LogPipe::kPeekMax)];
  return buffer;
}

}  // namespace

void LogPipe::prepare() {
  peek_pipe();
  dev_null();
}

std::shared_ptr<LogPipe> LogPipe::open(boost::asio::io_context& io, int read_fd, std::shared_ptr<LineWriter> writer,
                                       const std::string& journal) {
  return std::make_shared<LogPipe>(io, read_fd, std::move(writer), journal);
}

LogPipe::LogPipe(boost::asio::io_context& io, int read_fd, std::shared_ptr<LineWriter> writer, const std::string& journal)
    : pipe_(io, read_fd), idle_(io), writer_(std::move(writer)) {
  if (!journal.empty()) journal_.open(journal);
}

void LogPipe::start() {
  pipe_.non_blocking(true);
  recover();
  wait_readable();
}

void LogPipe::settle() {
  if (!pipe_.is_open()) return;
  drain();
  write_partial();
  end_line();
}

void LogPipe::close() {
  if (!pipe_.is_open()) return;
  settle();
  idle_.cancel();
  boost::system::error_code ignored;
  pipe_.close(ignored);
  journal_.remove();
}

void LogPipe::end_line() {
  writer_->end_line();
  journal_.end(writer_->mid_line());
}

ssize_t LogPipe::peek(char* buffer, std::size_t max) {
  const PeekPipe& scratch = peek_pipe();
  if (scratch.write_end < 0) {
    errno = EINVAL;
    return -1;
  }
  const ssize_t n = ::tee(pipe_.native_handle(), scratch.write_end, max, SPLICE_F_NONBLOCK);
  if (n <= 0) return n;
  std::size_t got = 0;
  while (got < static_cast<std::size_t>(n)) {
    const ssize_t r = ::read(scratch.read_end, buffer + got, static_cast<std::size_t>(n) - got);
    if (r > 0) got += static_cast<std::size_t>(r);
    else if (r < 0 && errno == EINTR) continue;
    else break;
  }
  if (got == static_cast<std::size_t>(n)) return n;
  // Cannot happen (the copy is in the scratch pipe); leave the scratch pipe empty for the next look.
  while (::read(scratch.read_end, buffer, kPeekMax) > 0) {
  }
  errno = EIO;
  return -1;
}

bool LogPipe::commit(const char* data, std::size_t len, bool whole) {
  // Journalled: a pmxd killed from here to the end is finished by the next one (recover()).
  if (journal_.enabled()) journal_.begin(len, CaptureJournal::hash_bytes(data, len), writer_->positions());
  if (whole) writer_->write_lines(std::string_view(data, len));
  else writer_->write_partial(std::string_view(data, len));
  // Consumed only now that the bytes are in the files.
  std::size_t left = len;
  while (left > 0) {
    ssize_t n = ::splice(pipe_.native_handle(), nullptr, dev_null(), nullptr, left, SPLICE_F_NONBLOCK);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // No splice to /dev/null here: read them into a buffer that is not looked at.
      static char discard[kReadSize];
      n = ::read(pipe_.native_handle(), discard, std::min(left, sizeof discard));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
    }
    left -= static_cast<std::size_t>(n);
  }
  journal_.end(writer_->mid_line());
  return true;
}

void LogPipe::recover() {
  if (!journal_.valid()) return;
  const CaptureJournal::Record& left = *journal_.record();
  bool continued = left.mid_line != 0;
  if (left.in_flight) {
    // The chunk still heads the pipe: it was not consumed, and what of it reached the files
    // (all, a part cut at a page, nothing) is taken back; it is written again whole. Otherwise
    // it was consumed after its write completed, and the files may end inside its last line.
    char* buffer = shared_buffer();
    const ssize_t n = left.length <= kPeekMax ? peek(buffer, left.length) : -1;
    if (n >= 0 && static_cast<std::uint64_t>(n) == left.length &&
        CaptureJournal::hash_bytes(buffer, left.length) == left.hash) {
      writer_->roll_back({left.file, left.combined});
    } else {
      continued = true;
    }
  }
  if (continued) writer_->continue_line();
  journal_.end(writer_->mid_line());
}

void LogPipe::write_partial() {
  if (!peeking_) {
    if (partial_.empty()) return;
    writer_->write_partial(partial_);
    partial_.clear();
    return;
  }
  if (seen_ == 0) return;
  // The line's start is still at the pipe's head (the shared buffer has served others since).
  char* buffer = shared_buffer();
  const ssize_t n = peek(buffer, seen_);
  seen_ = 0;
  if (n > 0) commit(buffer, static_cast<std::size_t>(n), false);
}

bool LogPipe::drain() {
  if (peeking_) return drain_by_peek();
  return drain_by_read();
}

bool LogPipe::drain_by_peek() {
  char* buffer = shared_buffer();
  // A bounded number of looks per wake-up, so one chatty app cannot starve the loop.
  for (int looks = 0; looks < 16;) {
    const ssize_t n = peek(buffer, kPeekMax);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (n < 0 && errno == EINVAL && looks == 0 && seen_ == 0) {
      peeking_ = false;  // not a pipe
      return drain_by_read();
    }
    if (n <= 0) {
      // End of file (every writer is gone) or an error: end the unterminated last line.
      write_partial();
      end_line();
      return false;
    }
    ++looks;
    const std::size_t got = static_cast<std::size_t>(n);
    seen_ = std::min(seen_, got);
    // Everything up to the last newline goes out in one write; the rest stays in the pipe.
    const std::size_t nl = std::string_view(buffer + seen_, got - seen_).rfind('\n');
    std::size_t start = 0;
    if (nl != std::string_view::npos) {
      start = seen_ + nl + 1;
      if (!commit(buffer, start, true)) return false;
    }
    seen_ = got - start;
    if (seen_ >= kMaxLine) {
      if (!commit(buffer + start, seen_, false)) return false;
      seen_ = 0;
    }
    // Less than a full pipe: it held nothing more (but the unterminated line). Looking again
    // would mostly find nothing: wait for the wake-up the app's next write brings instead.
    if (got < kReadSize) return true;
  }
  return true;
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

bool LogPipe::drain_by_read() {
  // The carried partial line (short, as a rule) is put in front of what is read, so the
  // complete lines are one contiguous run without copying the read bytes again.
  char* buffer = shared_buffer();
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
  if (held() == 0 || idle_armed_) return;
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
