// Reload: the online cluster-mode instances replaced one at a time, each by a run started beside
// it. The replacement takes over once it is ready; only then is the old run stopped (gracefully,
// SIGKILL after kill_timeout). A replacement that ends or never becomes ready is killed and the
// old run goes on serving; the reload stops there and says so. Fork-mode and instances that are
// not online are restarted. Both runs serve from the app's sockets, which pmxd holds throughout.
// The plan is here; each step (the replacement, its take-over or failure) is RunReplacer's.
// An unhealthy cluster-mode instance is replaced the same way (health_verdict).
#include <algorithm>
#include <csignal>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "config/listen_address.hpp"
#include "daemon/supervisor/run_cgroups.hpp"
#include "daemon/supervisor/supervisor.hpp"

namespace pmx::daemon {

namespace asio = boost::asio;

void Supervisor::reload_verb(const json& params, const std::vector<int>& ids, const Reply& reply) {
  if (auto err = update_env(params, ids)) return reply.fail(*err);
  auto plan = std::make_shared<ReloadPlan>(ReloadPlan{ids, {}, 0, reply, entry_shape(params)});
  for (int id : ids) {
    Instance& in = *registry_.find(id);
    if (config::runs_in_cluster_mode(in.spec) && in.fsm.state() == State::Online) plan->rolling.push_back(id);
    else {
      in.restart_cause = ExitReason::Reload;
      dispatch(in, Event::Restart);
    }
  }
  reload_next(plan);
}

void Supervisor::reload_next(std::shared_ptr<ReloadPlan> plan) {
  if (plan->next == plan->rolling.size()) {
    return waiters_.wait_for(plan->ids, settled_or_gone,
                    [this, plan] { plan->reply.ok_text(describe_all(plan->ids, plan->shape)); });
  }
  const int id = plan->rolling[plan->next++];
  Instance* in = registry_.find(id);
  // Stopped meanwhile, or already being replaced by another reload.
  if (!in || in->fsm.state() != State::Online || in->candidate) return reload_next(plan);
  replacer_.replace_run(*in, [this, plan, id](const std::string& error) {
    if (error.empty()) return reload_next(plan);
    Instance* in = registry_.find(id);
    const std::size_t left = plan->rolling.size() - plan->next;
    const std::string name = in ? in->spec.name : "?";
    std::string serving = in && in->run.pid > 0 ? "; pid " + std::to_string(in->run.pid) + " goes on serving" : "";
    spdlog::error("reload of {}:{} failed ({}), {} instance(s) not reloaded", name, id, error, left);
    plan->reply.fail(make_error(ipc::ErrorCode::Failed,
                                "reload of " + name + " (id " + std::to_string(id) + ") failed: " + error + serving +
                                    "; the reload stopped there, " + std::to_string(left) +
                                    " instance(s) not reloaded",
                                {{"id", id}, {"name", name}}));
  });
}

void Supervisor::health_verdict(Instance& in, Event event) {
  const bool replace = event == Event::Unhealthy && config::runs_in_cluster_mode(in.spec) &&
                       in.fsm.state() == State::Online && !shutting_down() &&
                       in.fsm.consecutive_unstable() + 1 < in.fsm.policy().max_restarts;
  if (!replace) return dispatch(in, event);
  // A reload's replacement, or the one of an earlier verdict, is on its way: it ends this run.
  if (in.candidate) return;
  spdlog::info("{} unhealthy: its replacement starts beside it", label(in));
  in.replacing_unhealthy = true;
  replacer_.replace_run(in, [this, id = in.id](const std::string& error) {
    Instance* i = registry_.find(id);
    if (error.empty() || !i) return;
    i->replacing_unhealthy = false;
    if (i->fsm.state() != State::Online) return;  // stopped or restarted meanwhile
    spdlog::warn("{} replacement failed ({}): restarting in place", label(*i), error);
    dispatch(*i, Event::Unhealthy);
  });
}

}  // namespace pmx::daemon
