// HealthStatus: what an instance's health checks have found in its current run.
#pragma once

#include <cstdint>
#include <string>

namespace pmx::daemon {

/// pm2_env.health: starting (within start_period, or no probe has passed yet), healthy (the
/// last probe passed), unhealthy (retries consecutive failures counted). None: no check.
enum class Health { None, Starting, Healthy, Unhealthy };

/// The name of a health ("starting"), as jlist shows it; "" for None.
inline const char* to_string(Health h) {
  switch (h) {
    case Health::None: return "";
    case Health::Starting: return "starting";
    case Health::Healthy: return "healthy";
    case Health::Unhealthy: return "unhealthy";
  }
  return "";
}

struct HealthStatus {
  Health health = Health::None;
  int failures = 0;              ///< consecutive failures counted (after start_period)
  std::string last_result;       ///< the last probe's outcome ("ok: HTTP 200", "timed out after 2000 ms")
  std::int64_t last_at_ms = 0;   ///< when the last probe ended (wall clock, epoch ms); 0: none yet
};

}  // namespace pmx::daemon
