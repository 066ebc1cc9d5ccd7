// LogPipe: reads one of an instance's output pipes and hands its lines to the stream's writer.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "daemon/logs/line_writer.hpp"

namespace pmx::daemon {

/// Waits for readability and then reads into one buffer shared by every pipe (the daemon has
/// one thread), so an idle pipe costs no buffer. Lives until the pipe's write ends are all
/// closed (the app and anything that inherited its stdout), which may be after the instance
/// was restarted: it owns itself through shared_from_this while a read is pending. Complete
/// lines go out with one write(2) to an O_APPEND file (through the file's one LogSink), so
/// lines never interleave. An unterminated line is carried to the next read, and written out
/// as it is once the app has been quiet for kPartialIdle (`printf 'progress...'` then a long
/// sleep shows at once), without cutting the line: its end follows on the same line.
class LogPipe : public std::enable_shared_from_this<LogPipe> {
 public:
  /// Longest partial line held before it is written out (the line goes on in the file).
  static constexpr std::size_t kMaxLine = 64 * 1024;
  /// Bytes asked for per read(2): a default pipe's whole capacity.
  static constexpr std::size_t kReadSize = 64 * 1024;
  /// How long an unterminated line waits for its end before it is written out.
  static constexpr std::chrono::milliseconds kPartialIdle{25};

  /// Takes ownership of read_fd; writes through writer.
  static std::shared_ptr<LogPipe> open(boost::asio::io_context& io, int read_fd, std::shared_ptr<LineWriter> writer);

  LogPipe(boost::asio::io_context& io, int read_fd, std::shared_ptr<LineWriter> writer);

  /// Starts reading; the pipe keeps itself alive until EOF or close().
  void start();
  /// Reads what the pipe holds now and ends the unterminated last line too (the instance's
  /// leader has exited: what it printed last must not wait for more).
  void settle();
  /// Stops reading and closes the pipe (the instance is deleted).
  void close();

  LineWriter& writer() { return *writer_; }

 private:
  void wait_readable();
  /// Reads what the pipe holds into the shared buffer and writes out the complete lines.
  /// Returns false at end of file or on error.
  bool drain();
  /// data: `carried` bytes of the partial line, then `n` bytes just read.
  void take(const char* data, std::size_t carried, std::size_t n);
  /// Writes the carried partial line out as it is.
  void write_partial();
  void arm_idle();

  boost::asio::posix::stream_descriptor pipe_;
  boost::asio::steady_timer idle_;
  std::shared_ptr<LineWriter> writer_;
  std::string partial_;  ///< an unterminated last line, carried to the next read
  bool idle_armed_ = false;
};

}  // namespace pmx::daemon
