// DaemonOptions: how main configures pmxd's supervisor (its home, cgroups, the sampling tick,
// the sd_notify and preload paths, resurrect at start, the callbacks systemd's protocol needs,
// the lock handed across `update`).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "config/paths.hpp"
#include "daemon/logs/log_sink.hpp"
#include "daemon/process/exit_status.hpp"

namespace pmx::daemon {

struct DaemonOptions {
  config::Paths paths;
  bool use_cgroups = true;  ///< read by main, which builds the process layer
  Millis sample_interval{1000};  ///< how often memory limits are checked
  /// The writer of pmx.log (main makes it), reopened and rotated with the apps' logs.
  std::shared_ptr<LogSink> daemon_log;
  /// node/preload.js as installed: cluster-mode Node instances run with --require it. Empty:
  /// none was found, and they run without it (each listen() binds on its own).
  std::string node_preload;
  /// Where root pmxd binds the sd_notify socket, outside the 0700 home so that apps run as other
  /// users reach it (main: /run/pmx); empty: $PMX_HOME/notify.sock (see notify_socket_path).
  std::string runtime_dir;
  /// Starts the apps of $PMX_HOME/dump.pmx once the state file's are adopted (pmxd --resurrect,
  /// as the systemd unit runs it).
  bool resurrect = false;
  /// Called once, when pmxd is ready: the apps adopted and resurrected have settled (main
  /// tells systemd READY=1).
  std::function<void()> on_ready;
  /// Called when pmxd begins stopping every app to exit (kill, SIGTERM): STOPPING=1.
  std::function<void()> on_stopping;
  /// The descriptor holding the home's lock (DaemonLock), passed on across `update`'s exec;
  /// -1: none (tests).
  int lock_fd = -1;
};

}  // namespace pmx::daemon
