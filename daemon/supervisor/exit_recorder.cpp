// ExitRecorder: the reason of each run's end, kept on its instance and published.
#include "daemon/supervisor/exit_recorder.hpp"

#include <csignal>
#include <utility>

#include "config/app_spec.hpp"

namespace pmx::daemon {

void ExitRecorder::note(Instance& in, const Effects& fx) {
  // The cause asked for goes with this event only, whether a row fired or not.
  const std::optional<ExitReason> requested = std::exchange(in.restart_cause, std::nullopt);
  if (!fx.transition) return;
  if (auto cause = ending_cause(*fx.transition, requested)) in.ending_cause = cause;
  // A run that begins has nothing pmxd ends it for yet.
  if (fx.transition->to == State::Launching) in.ending_cause.reset();
}

ExitReason ExitRecorder::record(Instance& in, pid_t pid, const ExitStatus& exit, const std::string& cgroup,
                                std::int64_t now_ms, std::optional<ExitReason> cause) {
  if (!cause) cause = std::exchange(in.ending_cause, std::nullopt);
  const ExitReason reason = cause ? *cause : own_end(exit, exit.signal == SIGKILL ? processes_.oom_kills(cgroup) : 0);
  in.last_exit_reason = reason;
  in.last_exit_at_ms = now_ms;
  using json = ipc::json;
  server_.publish(ControlServer::kEventsTopic, "instance.exit",
                  {{"pm_id", in.id},
                   {"name", in.spec.name},
                   {"pid", pid},
                   {"reason", to_string(reason)},
                   {"exit_code", !exit.unknown && exit.signal == 0 ? json(exit.code) : json(nullptr)},
                   {"exit_signal", exit.signal != 0 ? json(config::signal_name(exit.signal)) : json(nullptr)},
                   {"at", now_ms}});
  return reason;
}

}  // namespace pmx::daemon
