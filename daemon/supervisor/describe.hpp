// describe: an instance as PM2's jlist shows it ({pid, name, pm_id, monit, pm2_env}).
#pragma once

#include <nlohmann/json.hpp>

#include "daemon/instance/instance.hpp"

namespace pmx::daemon {

/// The jlist entry of an instance, as JSON text; monit shows the last sampling tick's reading.
std::string describe(const Instance& in, std::int64_t now_ms, const std::string& home);

}  // namespace pmx::daemon
