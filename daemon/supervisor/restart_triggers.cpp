// RestartTriggers: cron_restart's deadlines and the apps' file watchers.
#include "daemon/supervisor/restart_triggers.hpp"

#include <chrono>
#include <memory>
#include <set>
#include <utility>
#include <spdlog/spdlog.h>

#include "config/cron.hpp"
#include "config/paths.hpp"
#include "daemon/listeners/file_watcher.hpp"

namespace pmx::daemon {

RestartTriggers::RestartTriggers(boost::asio::io_context& io, Timers& timers, std::string home, Registry& registry,
                                 std::function<bool()> shutting_down, Restart restart)
    : io_(io),
      timers_(timers),
      home_(std::move(home)),
      registry_(registry),
      shutting_down_(std::move(shutting_down)),
      restart_(std::move(restart)) {}

void RestartTriggers::update_watch(App& app) {
  const Instance* first = app.instances().empty() ? nullptr : app.instances().begin()->second.get();
  const bool wanted = first && first->spec.watch;
  if (!wanted) {
    app.watcher.reset();
    return;
  }
  if (app.watcher) return;
  FileWatcher::Rules rules;
  for (const auto& p : first->spec.watch_paths) rules.roots.push_back(config::absolute_path(p, first->spec.cwd));
  if (rules.roots.empty()) rules.roots.push_back(first->spec.cwd);
  rules.ignore = first->spec.ignore_watch;
  rules.ours = [this](const std::string& path) { return written_by_pmx(path); };
  const Millis delay{first->spec.watch_delay_ms ? first->spec.watch_delay_ms : 1000};
  app.watcher = std::make_unique<FileWatcher>(io_, std::move(rules), delay,
                                              [this, name = app.name()](const std::string& path, std::size_t changes) {
                                                files_changed(name, path, changes);
                                              });
  spdlog::info("{}: watching {} for changes", app.name(), first->spec.watch_paths.empty() ? first->spec.cwd : "its watch paths");
}

void RestartTriggers::files_changed(const std::string& name, const std::string& path, std::size_t changes) {
  auto it = registry_.apps().find(name);
  if (it == registry_.apps().end()) return;
  if (shutting_down_()) {
    spdlog::info("{}: watch: {} changed, ignored: pmxd is shutting down", name, path);
    return;
  }
  spdlog::info("{}: watch: {} changed ({} change{}), restarting", name, path, changes, changes == 1 ? "" : "s");
  for (const auto& [id, in] : it->second.instances()) {
    if (in->deleting || is_stopped(in->fsm.state())) continue;
    in->restart_cause = ExitReason::Watch;
    restart_(*in);
  }
}

void RestartTriggers::set_watch(const std::vector<int>& ids, std::optional<bool> on) {
  std::set<std::string> names;
  for (int id : ids) names.insert(registry_.find(id)->spec.name);
  for (const auto& name : names) {
    App& app = registry_.apps().at(name);
    const bool watch = on ? *on : !app.watcher;  // a toggle flips what the app does now
    for (const auto& [id, in] : app.instances()) in->spec.watch = watch;
    update_watch(app);
    if (!watch) spdlog::info("{}: no longer watching its files", name);
  }
}

bool RestartTriggers::written_by_pmx(const std::string& path) const {
  const std::string& home = home_;
  for (const char* own : {"/logs/", "/pids/", "/fifos/", "/pmx.log", "/state.json", "/pmx.sock", "/pmxd.pid"}) {
    if (path.rfind(home + own, 0) == 0) return true;
  }
  for (const auto& [id, in] : registry_.by_id()) {
    if (path == in->out_path || path == in->err_path || path == in->log_path || path == in->pid_path) return true;
  }
  return false;
}

void RestartTriggers::arm_cron(Instance& in) {
  if (in.spec.cron_restart.empty()) return;
  auto schedule = config::CronSchedule::parse(in.spec.cron_restart);  // checked at start already
  const WallTime now = timers_.wall_now();
  const auto next = schedule ? schedule->next(now) : std::nullopt;
  if (!next) {
    spdlog::warn("{} cron_restart '{}' matches no date, ignoring it", label(in), in.spec.cron_restart);
    return;
  }
  in.cron.arm_after(timers_, std::chrono::ceil<Millis>(*next - now), [this, id = in.id, at = *next] {
    Instance* in = registry_.find(id);
    if (!in) return;
    // The deadline counts steady time; the schedule is the wall clock's. Early (the clock was
    // set back): wait for the rest.
    if (timers_.wall_now() + std::chrono::milliseconds(500) < at) return arm_cron(*in);
    if (shutting_down_()) {
      spdlog::info("{} cron_restart '{}' ignored: pmxd is shutting down", label(*in), in->spec.cron_restart);
      return;
    }
    if (in->fsm.state() == State::Online) {
      spdlog::info("{} cron_restart '{}': restarting", label(*in), in->spec.cron_restart);
      in->restart_cause = ExitReason::Cron;
      restart_(*in);
    }
    arm_cron(*in);
  });
}

}  // namespace pmx::daemon
