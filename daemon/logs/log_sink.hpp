// LogSink: one log file and its only writer. Every pipe that feeds the file (the instance's
// runs, merged instances, the combined log_file) writes through the same sink; trouble with the
// file (it cannot be opened, the disk is full) is logged once per episode and the bytes dropped
// are counted, while the app runs on undisturbed. A file deleted or moved away by someone else
// is noticed (at the first write after a pause, or within a second) and made anew.
//
// Rotation is done by this one writer, between two lines: rename the file to its rotated name,
// open a new one. Nothing is copied or truncated, so no line is lost, split or written twice.
// Compression and retention follow off the event loop (LogHousekeeper).
//
// The file's folder may be an app's own (`--output /home/app/logs/out.log` with `--uid app`):
// the sink reaches it through SafePath, never following a link someone other than root could
// have planted, and writes only a regular file. A path refused so (a link, a FIFO) is reported
// once, and while it stays refused the lines go to the sink's fallback file (in pmx's own logs
// folder), where `pmx logs` finds them; the path is tried again once a second.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "config/daemon_settings.hpp"
#include "daemon/logs/log_housekeeper.hpp"
#include "daemon/state/safe_path.hpp"

namespace pmx::daemon {

class LogSink {
 public:
  /// How the sink reports trouble with its file (the daemon's own log cannot log about itself).
  using Report = std::function<void(bool error, const std::string& text)>;

  /// Opens (creating 0640, and its missing folders) path for appending; a failure is reported
  /// and retried on writes. While path is refused (see above), lines go to fallback (none:
  /// they are dropped and counted).
  explicit LogSink(std::string path, Report report = {}, std::string fallback = {});
  ~LogSink();
  LogSink(const LogSink&) = delete;
  LogSink& operator=(const LogSink&) = delete;

  /// Appends data with one write(2) where possible (O_APPEND: lines of different writers never
  /// interleave inside a line). writer names who writes: when data of another writer follows an
  /// unterminated line, the line is ended first. What cannot be written is counted as dropped.
  void write(const char* data, std::size_t len, const void* writer = nullptr);

  /// Closes the file and opens path again (reloadLogs: an external logrotate moved it away).
  void reopen();
  /// Empties the file (flush); false with errno when it could not be truncated.
  bool truncate();

  /// Where the next write lands: the open file's identity and size (for a pipe's capture
  /// journal, which takes back a write a killed pmxd may have left half done).
  struct Position {
    std::uint64_t dev = 0;
    std::uint64_t ino = 0;
    std::uint64_t size = 0;
    bool valid() const { return ino != 0; }
  };
  /// The open file's position (opening it if due); an invalid one when no file is open.
  Position position();
  /// Takes back what was written after p, when the file open now is p's file and longer: a
  /// killed pmxd's write whose bytes are still in the app's pipe and are written again.
  /// False (nothing done) otherwise.
  bool roll_back(const Position& p);
  /// The file ends inside writer's line, left unterminated by a previous pmxd: writer's next
  /// bytes continue it, another writer's end it first. False (no-op) when the file ends with
  /// '\n', is empty or cannot be read.
  bool continue_line(const void* writer);

  /// How the file rotates (a default-made sink does not); housekeeper compresses and prunes
  /// after a rotation and must outlive the sink or be unset first.
  void set_rotation(const config::LogRotation& rotation, LogHousekeeper* housekeeper);
  const config::LogRotation& rotation() const { return rotation_; }
  /// Renames the file to its rotated name and starts a new one; false when the file is empty
  /// or cannot be renamed (reported).
  bool rotate();
  /// The timer of rotate_interval (made by LogSinks).
  std::unique_ptr<boost::asio::steady_timer> interval_timer;

  const std::string& path() const { return path_; }
  /// The file written now: path, or the fallback while path is refused.
  const std::string& writing_to() const { return writing_to_; }
  /// The file written now, open for reading too (the tail of `pmx logs`), -1 when none is.
  int fd() const { return fd_; }
  /// Bytes in the file as the sink knows it (what it opened plus what it wrote).
  std::uint64_t size() const { return size_; }
  /// Bytes that could not be written since the sink was made.
  std::uint64_t dropped_bytes() const { return dropped_; }
  /// What is wrong with the file now ("Permission denied", or its refusal and where its lines
  /// go instead), empty while it is written.
  std::string error() const;

 private:
  bool ensure_open();
  /// Opens path, or the fallback while path is refused; false with error set.
  bool open_file(PathError& error);
  /// Whether path still names the open file (checked at most once a second); while on the
  /// fallback, false once a second (time to try path again).
  bool still_ours(std::chrono::steady_clock::time_point now);
  void close_file();
  /// Writes len bytes to the open file; false (counted, reported) when it cannot.
  bool write_all(const char* data, std::size_t len);
  /// Counts lost bytes; reports the first failure of an episode (why: what went wrong).
  void fail(const std::string& why, std::size_t lost);

  std::string path_;
  Report report_;
  std::string fallback_;
  std::string writing_to_;  ///< path_ or fallback_: the file fd_ is open on
  SafeDir dir_;             ///< its folder, held: identity checks and rotation happen there
  std::string name_;        ///< its name in dir_
  std::string refusal_;     ///< why path_ is refused, empty while it is not
  int fd_ = -1;
  dev_t dev_ = 0;  ///< the open file's identity, to notice it was replaced or removed
  ino_t ino_ = 0;
  std::uint64_t size_ = 0;
  std::uint64_t dropped_ = 0;
  std::uint64_t dropped_in_episode_ = 0;
  bool failing_ = false;
  std::string error_;
  const void* dangling_ = nullptr;  ///< the writer whose unterminated line ends the file
  /// The stamp of this log's newest rotated file (read from its folder at the first rotation):
  /// every rotation is stamped after it, so names sort in the order the rotations happened
  /// even when several fall in one millisecond, and retention removes the oldest.
  std::optional<std::chrono::system_clock::time_point> last_rotated_;
  std::chrono::steady_clock::time_point recovered_at_{};  ///< when writing last came back after a failure
  std::chrono::steady_clock::time_point next_open_try_{};
  std::chrono::steady_clock::time_point next_identity_check_{};
  std::chrono::steady_clock::time_point last_write_{};
  std::chrono::steady_clock::time_point last_removed_check_{};
  config::LogRotation rotation_{.max_size = 0, .retain = 0, .compress = false, .interval = {}};
  LogHousekeeper* housekeeper_ = nullptr;
};

/// The sinks by path: one writer per file however many pipes feed it; they rotate by size
/// when written, and by rotate_interval on a timer of their own.
class LogSinks {
 public:
  /// fallback_dir holds the fallback files of refused paths (none: their lines are dropped).
  explicit LogSinks(boost::asio::io_context& io, std::string fallback_dir = {});
  /// Stops every sink's rotation (their housekeeper goes with this).
  ~LogSinks();
  LogSinks(const LogSinks&) = delete;
  LogSinks& operator=(const LogSinks&) = delete;

  /// The sink of path, made on first use (rotating as rotation says) and shared while anything
  /// writes to it; a file already open keeps the rotation it was made with.
  std::shared_ptr<LogSink> get(const std::string& path, const config::LogRotation& rotation);
  /// Gives a sink (made elsewhere: the daemon's own log) its rotation and makes it one of them.
  void add(const std::shared_ptr<LogSink>& sink, const config::LogRotation& rotation);
  /// Calls f on every live sink.
  void for_each(const std::function<void(LogSink&)>& f);
  /// Gives the sink a new rotation (pmx.yaml changed).
  void configure(const std::shared_ptr<LogSink>& sink, const config::LogRotation& rotation);
  LogHousekeeper& housekeeper() { return housekeeper_; }

 private:
  /// Arms the sink's rotate_interval timer for the next date of its schedule.
  void arm_interval(const std::shared_ptr<LogSink>& sink);

  boost::asio::io_context& io_;
  std::string fallback_dir_;
  LogHousekeeper housekeeper_;
  std::map<std::string, std::weak_ptr<LogSink>> sinks_;
};

}  // namespace pmx::daemon
