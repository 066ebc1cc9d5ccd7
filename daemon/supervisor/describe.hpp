// describe: an instance as PM2's jlist shows it ({pid, name, pm_id, monit, pm2_env}).
#pragma once

#include <nlohmann/json.hpp>

#include "daemon/instance/instance.hpp"

namespace pmx::daemon {

/// The jlist entry of an instance, as JSON text; monit shows the last sampling tick's reading.
std::string describe(const Instance& in, std::int64_t now_ms, const std::string& home);

/// pm2_env.exit_code of in: the code of its last exit, null when it never exited or was signalled.
nlohmann::json exit_code_json(const Instance& in);
/// pm2_env.exit_signal of in: the signal that ended its last run ("SIGKILL"), null otherwise.
nlohmann::json exit_signal_json(const Instance& in);

}  // namespace pmx::daemon
