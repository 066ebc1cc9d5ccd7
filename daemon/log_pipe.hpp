// LogPipe: reads one of an instance's output pipes and appends whole lines to its log file.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <memory>
#include <string>

#include "daemon/log_sink.hpp"

namespace pmx::daemon {

/// Waits for readability and then reads into one buffer shared by every pipe (the daemon has
/// one thread), so an idle pipe costs no buffer. Lives until the pipe's write ends are all closed (the app and anything that inherited its
/// stdout), which may be after the instance was restarted: it owns itself through
/// shared_from_this while a read is pending. Lines are written whole with one write(2) to an
/// O_APPEND file (through the file's one LogSink), so lines never interleave.
class LogPipe : public std::enable_shared_from_this<LogPipe> {
 public:
  /// Longest partial line held before it is written out on its own.
  static constexpr std::size_t kMaxLine = 64 * 1024;

  /// Takes ownership of read_fd; appends through sink.
  static std::shared_ptr<LogPipe> open(boost::asio::io_context& io, int read_fd, std::shared_ptr<LogSink> sink);

  LogPipe(boost::asio::io_context& io, int read_fd, std::shared_ptr<LogSink> sink);

  /// Starts reading; the pipe keeps itself alive until EOF or close().
  void start();
  /// Reads what the pipe holds now and writes out the unterminated last line too (the
  /// instance's leader has exited: what it printed last must not wait for more).
  void settle();
  /// Stops reading and closes the pipe (the instance is deleted).
  void close();

 private:
  void wait_readable();
  /// Reads what the pipe holds into the shared buffer and writes out the complete lines.
  /// Returns false at end of file or on error.
  bool drain();
  void take(const char* data, std::size_t n);
  void write_out(const char* data, std::size_t len);

  boost::asio::posix::stream_descriptor pipe_;
  std::shared_ptr<LogSink> sink_;
  std::string partial_;  ///< an unterminated last line, carried to the next read
};

}  // namespace pmx::daemon
