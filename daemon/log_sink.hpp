// LogSink: one log file and its only writer. Every pipe that feeds the file (the instance's
// runs, merged instances) writes through the same sink; trouble with the file (it cannot be
// opened, the disk is full) is logged once per episode and the bytes dropped are counted,
// while the app runs on undisturbed.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace pmx::daemon {

class LogSink {
 public:
  /// Opens (creating 0640, and its missing folders) path for appending; a failure is reported
  /// and retried on writes.
  explicit LogSink(std::string path);
  ~LogSink();
  LogSink(const LogSink&) = delete;
  LogSink& operator=(const LogSink&) = delete;

  /// Appends whole lines in one write(2) where possible (O_APPEND: writers never interleave
  /// inside a line); what cannot be written is counted as dropped.
  void write(const char* data, std::size_t len);

  const std::string& path() const { return path_; }
  /// Bytes that could not be written since the sink was made.
  std::uint64_t dropped_bytes() const { return dropped_; }
  /// What is wrong with the file now ("Permission denied"), empty while it is written.
  const std::string& error() const { return error_; }

 private:
  bool ensure_open();
  void fail(int err, std::size_t lost);

  std::string path_;
  int fd_ = -1;
  std::uint64_t dropped_ = 0;
  std::uint64_t dropped_in_episode_ = 0;
  bool failing_ = false;
  std::string error_;
  std::chrono::steady_clock::time_point next_open_try_{};
};

/// The sinks by path: one writer per file however many pipes feed it.
class LogSinks {
 public:
  /// The sink of path, made on first use and shared while anything writes to it.
  std::shared_ptr<LogSink> get(const std::string& path);

 private:
  std::map<std::string, std::weak_ptr<LogSink>> sinks_;
};

}  // namespace pmx::daemon
