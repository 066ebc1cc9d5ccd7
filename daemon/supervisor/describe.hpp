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

/// What an answer's entries hold. Full: jlist's entry. Brief (a request's `"brief": true`): the
/// same without the process's environment (pm2_env's copies of its variables and "env"), for
/// the CLI's tables and start's warnings, which never read it: a hundred environments are most
/// of an answer's bytes, and most of the time pmxd and the CLI spend on it.
enum class EntryShape { Full, Brief };
/// The shape a request's params ask for: Brief when "brief" is true.
EntryShape entry_shape(const nlohmann::json& params);

/// The jlist entry of an instance, as JSON text; monit shows the last sampling tick's reading.
std::string describe(const Instance& in, std::int64_t now_ms, const std::string& home, CallerEnvTexts& callers,
                     EntryShape shape = EntryShape::Full);

/// pm2_env.exit_code of in: the code of its last exit, null when it never exited or was signalled.
nlohmann::json exit_code_json(const Instance& in);
/// pm2_env.exit_signal of in: the signal that ended its last run ("SIGKILL"), null otherwise.
nlohmann::json exit_signal_json(const Instance& in);

}  // namespace pmx::daemon
