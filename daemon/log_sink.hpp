// LogSink: one log file and its only writer. Every pipe that feeds the file (the instance's
// runs, merged instances, the combined log_file) writes through the same sink; trouble with the
// file (it cannot be opened, the disk is full) is logged once per episode and the bytes dropped
// are counted, while the app runs on undisturbed. A file deleted or moved away by someone else
// is noticed (at the first write after a pause, or within a second) and made anew.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace pmx::daemon {

class LogSink {
 public:
  /// How the sink reports trouble with its file (the daemon's own log cannot log about itself).
  using Report = std::function<void(bool error, const std::string& text)>;

  /// Opens (creating 0640, and its missing folders) path for appending; a failure is reported
  /// and retried on writes.
  explicit LogSink(std::string path, Report report = {});
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

  const std::string& path() const { return path_; }
  /// Bytes in the file as the sink knows it (what it opened plus what it wrote).
  std::uint64_t size() const { return size_; }
  /// Bytes that could not be written since the sink was made.
  std::uint64_t dropped_bytes() const { return dropped_; }
  /// What is wrong with the file now ("Permission denied"), empty while it is written.
  const std::string& error() const { return error_; }

 private:
  bool ensure_open();
  /// Whether path still names the open file (checked at most once a second).
  bool still_ours(std::chrono::steady_clock::time_point now);
  void close_file();
  void fail(int err, std::size_t lost);

  std::string path_;
  Report report_;
  int fd_ = -1;
  dev_t dev_ = 0;  ///< the open file's identity, to notice it was replaced or removed
  ino_t ino_ = 0;
  std::uint64_t size_ = 0;
  std::uint64_t dropped_ = 0;
  std::uint64_t dropped_in_episode_ = 0;
  bool failing_ = false;
  std::string error_;
  const void* dangling_ = nullptr;  ///< the writer whose unterminated line ends the file
  std::chrono::steady_clock::time_point next_open_try_{};
  std::chrono::steady_clock::time_point next_identity_check_{};
  std::chrono::steady_clock::time_point last_write_{};
};

/// The sinks by path: one writer per file however many pipes feed it.
class LogSinks {
 public:
  /// The sink of path, made on first use and shared while anything writes to it.
  std::shared_ptr<LogSink> get(const std::string& path);
  /// Makes a sink made elsewhere (the daemon's own log) one of them.
  void add(const std::shared_ptr<LogSink>& sink) { sinks_[sink->path()] = sink; }
  /// Calls f on every live sink.
  void for_each(const std::function<void(LogSink&)>& f);

 private:
  std::map<std::string, std::weak_ptr<LogSink>> sinks_;
};

}  // namespace pmx::daemon
