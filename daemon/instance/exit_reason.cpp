// ExitReason: the names of the reasons, and which one a run's end or a transition gives.
#include "daemon/instance/exit_reason.hpp"

#include <csignal>

#include "config/app_spec.hpp"

namespace pmx::daemon {
namespace {

struct ReasonName {
  ExitReason reason;
  const char* name;
};

constexpr ReasonName kReasonNames[] = {
    {ExitReason::Exit, "exit"},
    {ExitReason::Signal, "signal"},
    {ExitReason::Oom, "oom"},
    {ExitReason::MaxMemoryRestart, "max_memory_restart"},
    {ExitReason::HealthCheck, "health_check"},
    {ExitReason::Cron, "cron"},
    {ExitReason::Watch, "watch"},
    {ExitReason::Restart, "restart"},
    {ExitReason::Reload, "reload"},
    {ExitReason::Stop, "stop"},
};

}  // namespace

const char* to_string(ExitReason reason) {
  for (const auto& n : kReasonNames) {
    if (n.reason == reason) return n.name;
  }
  return "?";
}

std::optional<ExitReason> exit_reason_from_string(const std::string& name) {
  for (const auto& n : kReasonNames) {
    if (name == n.name) return n.reason;
  }
  return std::nullopt;
}

ExitReason own_end(const ExitStatus& exit, std::uint64_t oom_kills) {
  if (exit.unknown) return ExitReason::Exit;
  if (exit.signal == SIGKILL && oom_kills > 0) return ExitReason::Oom;
  if (exit.signal != 0) return ExitReason::Signal;
  return ExitReason::Exit;
}

std::optional<ExitReason> ending_cause(const Transition& t, std::optional<ExitReason> requested) {
  if (t.from == t.to) return std::nullopt;
  // ONLINE/LAUNCHING/RESTARTING -> STOPPING: a stop wins over the restart it interrupts, since
  // the run then ends for good.
  if (t.to == State::Stopping) return ExitReason::Stop;
  if (t.to == State::RestartingUnhealthy) return ExitReason::HealthCheck;
  if (t.to != State::Restarting) return std::nullopt;
  if (t.event == Event::MemoryExceeded) return ExitReason::MaxMemoryRestart;
  return requested.value_or(ExitReason::Restart);
}

std::string exit_reason_text(ExitReason reason, const ExitStatus& exit) {
  std::string text = to_string(reason);
  switch (reason) {
    case ExitReason::Exit:
      return text + (exit.unknown ? " (code unknown)" : " (code " + std::to_string(exit.code) + ")");
    case ExitReason::Signal:
    case ExitReason::Oom:
      return text + " (" + config::signal_name(exit.signal) + ")";
    default:
      return text;
  }
}

}  // namespace pmx::daemon
