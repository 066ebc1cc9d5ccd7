// DaemonSettings: $PMX_HOME/pmx.yaml, the daemon-wide defaults of log rotation.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/app_spec.hpp"
#include "config/listen_address.hpp"
#include "config/result.hpp"

namespace pmx::config {

/// How one log file rotates.
struct LogRotation {
  std::uint64_t max_size = 10 * 1024 * 1024;   ///< bytes; 0: no size rotation
  int retain = 30;                             ///< rotated files kept per log file; 0: keep all
  bool compress = false;                       ///< gzip rotated files
  std::string interval;                        ///< cron expression (config/cron.hpp); empty: none

  bool operator==(const LogRotation&) const = default;
};

/// The daemon-wide settings of pmx.yaml.
struct DaemonSettings {
  LogRotation app_logs;     ///< defaults for apps' logs; each app's options override
  LogRotation daemon_log;   ///< pmx.log
  /// metrics.listen: where pmxd serves Prometheus' GET /metrics; none: off (docs/metrics.md).
  std::optional<ListenAddress> metrics_listen;
};

/// Reads path; a missing file gives the defaults. Errors name file:line:col and the key
/// ("pmx.yaml:3:3: logs.retain: expected a whole number >= 0 (got '-1')"), one line per error;
/// unknown keys are errors with a "did you mean" (config/suggest.hpp).
/// The file:
///   logs:                 # defaults for every app's logs
///     max_size: 10M       # a size (config/units: parse_size); 0: no size rotation
///     retain: 30          # rotated files kept per log file; 0: all
///     compress: false     # gzip rotated files
///     rotate_interval: "0 0 * * *"   # cron (config/cron.hpp); "" or 0: none
///   daemon_log:           # pmx.log, same keys
///     max_size: 10M
///   metrics:
///     listen: "127.0.0.1:9615"   # Prometheus endpoint (host:port, unix:/path); "": off
Result<DaemonSettings> load_daemon_settings(const std::string& path);

/// The same from the file's text; file names it in messages.
Result<DaemonSettings> parse_daemon_settings(std::string_view text, const std::string& file);

/// Applies an app's own options (log_max_size, log_retain, log_compress, log_rotate_interval)
/// over the defaults.
LogRotation rotation_for(const AppSpec& spec, const LogRotation& defaults);

}  // namespace pmx::config
