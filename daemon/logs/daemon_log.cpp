// DaemonLog: spdlog lines buffered and appended through the daemon log's LogSink.
#include "daemon/logs/daemon_log.hpp"

#include <iostream>

namespace pmx::daemon {

namespace {
/// Past this the buffer is written without waiting for the tick.
constexpr std::size_t kFlushAt = 16 * 1024;
}  // namespace

DaemonLog::DaemonLog(const std::string& path)
    : sink_(std::make_shared<LogSink>(path, [](bool error, const std::string& text) {
        // The daemon's log cannot log about itself: trouble goes to stderr (the terminal in
        // --foreground, the journal under systemd).
        if (error) std::cerr << "pmxd: " << text << "\n";
      })) {}

void DaemonLog::sink_it_(const spdlog::details::log_msg& msg) {
  formatter_->format(msg, buffer_);
  if (buffer_.size() >= kFlushAt) flush_();
}

void DaemonLog::flush_() {
  if (buffer_.size() == 0) return;
  sink_->write(buffer_.data(), buffer_.size());
  buffer_.clear();
}

}  // namespace pmx::daemon
