// describe: an instance as PM2's jlist shows it ({pid, name, pm_id, monit, pm2_env}).
#pragma once

#include <nlohmann/json.hpp>

#include "daemon/instance.hpp"

namespace pmx::daemon {

/// The jlist entry of an instance, as JSON text. usage is its current resource use;
/// cpu_percent is computed by the caller over the last sampling interval.
std::string describe(const Instance& in, const Usage& usage, double cpu_percent,
                        std::int64_t now_ms, const std::string& home);

}  // namespace pmx::daemon
