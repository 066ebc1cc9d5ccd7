// The Prometheus exposition of pmxd (text format 0.0.4): every instance's status, restarts, CPU
// time, memory and start time, a Node app's heap, handles and event-loop delay, @pm2/io's
// numeric metrics, and pmxd's own memory, descriptors, requests and build. What GET /metrics
// and `pmx metrics` answer; built from what pmxd keeps (the sampler's readings, the runs'
// reports), a string per scrape that is freed once sent. docs/metrics.md lists the families.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "daemon/supervisor/registry.hpp"

namespace pmx::daemon {

/// pmxd's own figures for the pmx_daemon_* families.
struct DaemonFigures {
  std::uint64_t resident_bytes = 0;
  std::uint64_t open_fds = 0;
  std::uint64_t requests = 0;  ///< control requests and scrapes answered
  double uptime_seconds = 0;   ///< since pmxd's process started (an upgrade's exec keeps it)
  std::string version;
  std::string commit;
};

/// pmxd's resident memory, open descriptors and uptime, from /proc (procfs: never blocks).
DaemonFigures read_daemon_figures();

/// The exposition for every instance of registry. ticks_per_second: sysconf(_SC_CLK_TCK).
std::string prometheus_text(const Registry& registry, const DaemonFigures& daemon, double ticks_per_second);

/// The exposition pmxd answers (GET /metrics, `pmx metrics`): prometheus_text with pmxd's
/// figures, requests: those answered so far.
std::string pmxd_exposition(const Registry& registry, std::uint64_t requests);

/// The commit pmxd was built from ("unknown" outside a git checkout).
const char* build_commit();

/// A label value escaped as the text format wants it (\\, \", \n).
std::string prometheus_label(std::string_view value);

}  // namespace pmx::daemon
