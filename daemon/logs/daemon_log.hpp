// DaemonLog: pmxd's own log (pmx.log) as an spdlog sink that writes through a LogSink, so the
// daemon's log is reopened, noticed when removed, and rotated like the apps' logs.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include <spdlog/details/null_mutex.h>
#include <spdlog/sinks/base_sink.h>

#include "daemon/logs/log_sink.hpp"

namespace pmx::daemon {

/// Buffers formatted lines and writes them on flush (once a tick, and at once for warnings),
/// one write(2) for many lines. Single-threaded, as the daemon is.
class DaemonLog : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
 public:
  explicit DaemonLog(const std::string& path);
  ~DaemonLog() override { flush_(); }
  /// The file's writer, for reloadLogs and rotation.
  const std::shared_ptr<LogSink>& sink() const { return sink_; }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override;

 private:
  std::shared_ptr<LogSink> sink_;
  spdlog::memory_buf_t buffer_;
};

}  // namespace pmx::daemon
