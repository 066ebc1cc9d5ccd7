// describe: an instance as PM2's jlist shows it ({pid, name, pm_id, monit, pm2_env}).
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>

#include "daemon/instance/instance.hpp"

namespace pmx::daemon {

/// The callers' environments (Instance::caller_env) as JSON text, each encoded once: for one
/// reply, where a hundred instances started by one command share one.
class CallerEnvTexts {
 public:
  const std::string& text_of(const config::Env& env);

 private:
  std::map<const config::Env*, std::string> texts_;
};

/// The jlist entry of an instance, as JSON text; monit shows the last sampling tick's reading.
std::string describe(const Instance& in, std::int64_t now_ms, const std::string& home, CallerEnvTexts& callers);

/// pm2_env.exit_code of in: the code of its last exit, null when it never exited or was signalled.
nlohmann::json exit_code_json(const Instance& in);
/// pm2_env.exit_signal of in: the signal that ended its last run ("SIGKILL"), null otherwise.
nlohmann::json exit_signal_json(const Instance& in);

}  // namespace pmx::daemon
