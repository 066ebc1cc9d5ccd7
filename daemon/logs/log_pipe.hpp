// LogPipe: reads one of an instance's output pipes and hands its lines to the stream's writer.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "daemon/logs/capture_journal.hpp"
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
///
/// Nothing is taken out of the pipe before it is in the files (crash-only: pmxd may be killed
/// between any two instructions). The pipe's head is looked at with tee(2) into a pipe of the
/// daemon's and read from there; the lines are written; only then are their bytes consumed
/// (spliced to /dev/null). An unterminated line stays in the pipe until it is written. The
/// CaptureJournal beside the FIFO lets the next pmxd take back a write that was cut short or
/// not yet consumed, and continue a line left unterminated. A descriptor that is not a pipe
/// (tee fails with EINVAL) is read the plain way, without that guarantee.
class LogPipe : public std::enable_shared_from_this<LogPipe> {
 public:
  /// Longest partial line held before it is written out (the line goes on in the file).
  static constexpr std::size_t kMaxLine = 64 * 1024;
  /// Bytes asked for per read(2): a default pipe's whole capacity; a look at the pipe that
  /// finds less has emptied it.
  static constexpr std::size_t kReadSize = 64 * 1024;
  /// Most bytes looked at in one go (a pipe an app enlarged with F_SETPIPE_SZ holds more).
  static constexpr std::size_t kPeekMax = 1024 * 1024;
  /// How long an unterminated line waits for its end before it is written out.
  static constexpr std::chrono::milliseconds kPartialIdle{25};

  /// Takes ownership of read_fd; writes through writer. journal: the stream's capture journal
  /// (JournalBook::journal; none: no crash guarantee).
  static std::shared_ptr<LogPipe> open(boost::asio::io_context& io, int read_fd, std::shared_ptr<LineWriter> writer,
                                       CaptureJournal journal = {});

  LogPipe(boost::asio::io_context& io, int read_fd, std::shared_ptr<LineWriter> writer, CaptureJournal journal = {});

  /// Opens what every pipe shares for the daemon's life (the pipe tee(2) copies into, /dev/null
  /// for consumed bytes); done at the first pipe otherwise.
  static void prepare();

  /// Finishes what a killed pmxd left in the journal, then starts reading; the pipe keeps
  /// itself alive until EOF or close().
  void start();
  /// Reads what the pipe holds now and ends the unterminated last line too (the instance's
  /// leader has exited: what it printed last must not wait for more).
  void settle();
  /// Stops reading and closes the pipe, removing its journal (the instance is deleted).
  void close();

  LineWriter& writer() { return *writer_; }

 private:
  void wait_readable();
  /// Writes out the complete lines the pipe holds. Returns false at end of file or on error.
  bool drain();
  /// drain() by tee(2): the lines are consumed once written.
  bool drain_by_peek();
  /// drain() by read(2), for a descriptor tee(2) refuses.
  bool drain_by_read();
  /// Copies up to max bytes from the pipe's head into buffer without consuming them: the count,
  /// 0 at end of file, -1 with errno.
  ssize_t peek(char* buffer, std::size_t max);
  /// Writes len bytes from the pipe's head (data holds them) as lines or as the start of one,
  /// then consumes them, journalled. False when they could not be consumed.
  bool commit(const char* data, std::size_t len, bool whole);
  /// What the journal says a killed pmxd left half done: taken back or continued.
  void recover();
  /// data: `carried` bytes of the partial line, then `n` bytes just read (drain_by_read).
  void take(const char* data, std::size_t carried, std::size_t n);
  /// Writes the unterminated line out as it is.
  void write_partial();
  /// The stream ended inside a line: ends it.
  void end_line();
  /// Bytes of an unterminated line held: at the pipe's head, or carried.
  std::size_t held() const { return peeking_ ? seen_ : partial_.size(); }
  void arm_idle();

  boost::asio::posix::stream_descriptor pipe_;
  boost::asio::steady_timer idle_;
  std::shared_ptr<LineWriter> writer_;
  CaptureJournal journal_;
  bool peeking_ = true;   ///< tee(2) works on the descriptor
  std::size_t seen_ = 0;  ///< peeking: bytes at the pipe's head already looked at (a line's start)
  std::string partial_;   ///< reading: an unterminated last line, carried to the next read
  bool idle_armed_ = false;
};

}  // namespace pmx::daemon
