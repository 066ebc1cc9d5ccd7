// Supervisor: routing of requests and events to apps: effects of transitions, exits, messages.
#include "daemon/supervisor/supervisor.hpp"
#include "daemon/supervisor/prometheus_text.hpp"

#include <signal.h>

#include <algorithm>
#include <utility>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "config/json_access.hpp"
#include "config/units.hpp"
#include "daemon/supervisor/describe.hpp"
#include "daemon/state/pid_file.hpp"
#include "daemon/process/process_tree.hpp"
#include "daemon/process/spawn.hpp"
#include "daemon/state/state_file.hpp"
#include "daemon/supervisor/env_param.hpp"
#include "daemon/supervisor/limits_param.hpp"
#include "daemon/supervisor/run_cgroups.hpp"

namespace pmx::daemon {

namespace asio = boost::asio;
using ipc::ErrorCode;
using ipc::make_error;

Supervisor::Supervisor(asio::io_context& io, DaemonOptions options, ControlServer& server, ProcessOps& processes,
                       Timers& timers)
    : io_(io),
      options_(std::move(options)),
      server_(server),
      processes_(processes),
      timers_(timers),
      signals_(io),
      waiters_(io, timers, processes, registry_),
      notify_(io, [this](const Notification& n) { on_notify(n); }),
      sockets_(registry_, [this](const std::string& user, const std::string& group) {
        return launcher_.credentials(user, group);
      }),
      launcher_(io, Launcher::Options{options_.paths, options_.node_preload, options_.daemon_log}, processes, registry_,
                server, notify_, [this](App& app, const config::AppSpec& spec) { return sockets_.bind(app, spec); },
                [this](Instance& in, NodeChannel& channel, const NodeMessage& msg) { on_node_message(in, channel, msg); }),
      writer_(io),
      state_(io, options_.paths.home + "/state.json", registry_),
      restart_triggers_(io, timers, options_.paths.home, registry_, [this] { return shutting_down(); },
                        [this](Instance& in) { dispatch(in, Event::Restart); }),
      sampler_(timers, options_.sample_interval, processes, registry_, server, [this](const std::vector<int>& over) {
        for (int id : over) {
          Instance* in = registry_.find(id);
          if (in && shutting_down()) spdlog::info("{} memory restart ignored: pmxd is shutting down", label(*in));
          else if (in) dispatch(*in, Event::MemoryExceeded);
        }
      }),
      app_messages_(timers, registry_, server),
      replacer_(io, timers, processes, registry_, launcher_, waiters_, state_, [this](Instance& in) {
        dispatch(in, std::exchange(in.replacing_unhealthy, false) ? Event::ReplacedUnhealthy : Event::Replaced);
        health_.update(in);  // the new run is probed from its start (start_period)
      }),
      exits_(processes, server),
      health_(io, timers, processes, registry_, options_.paths.home,
              [this](const std::string& user, const std::string& group) { return launcher_.credentials(user, group); },
              [this](Instance& in, Event event) { health_verdict(in, event); }),
      start_order_(registry_),
      adopter_(registry_, launcher_, processes, exits_, state_, timers, *this,
               [this](Instance& in, pid_t pid, ExitStatus exit) { leader_exited(in, pid, exit); }),
      start_verb_(registry_, processes, launcher_.credentials_cache(), start_order_, state_, envs_, sockets_, waiters_,
                  *this),
      scale_verb_(registry_, state_, waiters_, *this),
      logs_verb_(io, registry_, server, launcher_.feed()),
      dumps_(options_.paths, registry_, processes, sockets_, envs_, launcher_.credentials_cache(), writer_, waiters_,
             *this),
      update_verb_(options_, registry_, writer_, state_),
      metrics_endpoint_(io, [this] { return pmxd_exposition(registry_, server_.requests() + metrics_endpoint_.scrapes()); }) {}

Supervisor::~Supervisor() = default;

std::string Supervisor::listen_metrics() {
  auto served = metrics_endpoint_.listen(launcher_.settings().metrics_listen);
  if (served) return "";
  spdlog::error("cannot serve metrics on {}, ignoring", served.error());
  return served.error();
}

void Supervisor::start() {
  launcher_.load_settings();
  listen_metrics();
  if (processes_.cgroups()) {
    spdlog::info("tracking instances with cgroup v2 under {}", processes_.cgroup_root());
  } else {
    spdlog::info("tracking instances by process group, /proc parent links and markers (no cgroup v2)");
  }
  launcher_.open();
  std::string note;
  const std::string notify_path = notify_socket_path(options_.paths.home, options_.runtime_dir, note);
  if (!note.empty()) spdlog::warn("{}: apps run as another user (uid) cannot reach the sd_notify socket", note);
  if (auto opened = notify_.open(notify_path); !opened) {
    spdlog::warn("no sd_notify socket, apps cannot signal readiness with it: {}", opened.error());
  }
  adopter_.adopt_from_state();
  adopter_.warn_of_unknown_cgroups();
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGHUP, SIG_IGN);
  signals_.add(SIGTERM);
  signals_.add(SIGINT);
  // Reopen the log files, as `pmx reloadLogs` does: SIGUSR2 (PM2's), and SIGUSR1, which
  // logrotate configurations commonly send and whose default action would end pmxd.
  signals_.add(SIGUSR1);
  signals_.add(SIGUSR2);
  wait_signals();
  processes_.start_reaping([this](pid_t pid, ExitStatus exit) { on_exit(pid, exit); },
                           [this] { after_reaping(); });
  register_verbs();
  sampler_.start();
  auto ready = [this] {
    spdlog::info("pmxd is ready: {} app instance(s)", registry_.by_id().size());
    if (options_.on_ready) options_.on_ready();
  };
  if (options_.resurrect) dumps_.resurrect_at_start(ready);
  else ready();
}

const Instance* Supervisor::instance(int id) const {
  auto it = registry_.by_id().find(id);
  return it == registry_.by_id().end() ? nullptr : it->second;
}

const App* Supervisor::app(const std::string& name) const {
  auto it = registry_.apps().find(name);
  return it == registry_.apps().end() ? nullptr : &it->second;
}

Instance& Supervisor::insert(std::unique_ptr<Instance> in) {
  Instance& ref = registry_.insert(std::move(in));
  restart_triggers_.arm_cron(ref);
  restart_triggers_.update_watch(*registry_.app(ref.spec.name));
  return ref;
}


// ---------------------------------------------------------------------------------------------
// Events and effects

void Supervisor::dispatch(Instance& in, Event event, ExitStatus exit) {
  if (shutting_down() && (event == Event::Start || event == Event::Restart || event == Event::MemoryExceeded ||
                          event == Event::Unhealthy)) {
    spdlog::info("{} {} ignored: pmxd is shutting down", label(in), to_string(event));
    return;
  }
  const State before = in.fsm.state();
  Effects fx = in.fsm.handle(event, timers_.now(), exit);
  exits_.note(in, fx);
  if (fx.changed) {
    spdlog::info("{} {} -> {} ({})", label(in), to_string(before), to_string(in.fsm.state()), in.fsm.reason());
    // launching -> online changes nothing a successor needs: the pid was written at the spawn.
    if (!(before == State::Launching && in.fsm.state() == State::Online)) state_.soon();
  }
  // Before the effects: a stopping run leaves the turn of new connections before its signal.
  if (fx.changed) sockets_.update_slots(registry_.apps().at(in.spec.name));
  apply(in, fx);
  if (fx.transition) health_.update(in);
  // A stop of an instance whose spawn waits for its turn (or for its dependencies): nothing was
  // forked, nothing to wait for.
  const bool was_held = fx.changed && in.fsm.state() != State::Launching && start_order_.cancel(in.id);
  if (fx.changed && in.fsm.state() != State::Launching && (launcher_.spawns().cancel(in.id) || was_held)) {
    asio::post(io_, [this, id = in.id] { if (Instance* i = registry_.find(id)) dispatch(*i, Event::SpawnCancelled); });
  }
  // A reload's replacement does not outlive a change of the run it was to replace.
  if (fx.changed && in.candidate) replacer_.abort_candidate(in, std::string("the instance went ") + status_name(in.fsm.state()) + " meanwhile (" + in.fsm.reason() + ")");
  if (fx.changed && is_stopped(in.fsm.state())) sockets_.release_if_idle(registry_.apps().at(in.spec.name));
  if (fx.transition) {
    // Every transition goes to the subscribers of the events topic (`pmx` dashboards, tools).
    server_.publish(ControlServer::kEventsTopic, "instance.state",
                    {{"pm_id", in.id},
                     {"name", in.spec.name},
                     {"from", to_string(fx.transition->from)},
                     {"to", to_string(fx.transition->to)},
                     {"status", status_name(fx.transition->to)},
                     {"event", to_string(fx.transition->event)},
                     {"reason", fx.transition->reason},
                     {"pid", in.run.pid}});
  }
  // The held instances first: a reply waiting on them reads their reason.
  if (fx.transition) start_order_.check();
  waiters_.check();
}

void Supervisor::apply(Instance& in, const Effects& fx) {
  // The one deadline belongs to the state (systemd's service_set_state): a state left drops the
  // kill or restart deadline it owned (the state machine says when), and any change ends the
  // wait for a ready message, which only a launching run has.
  if (fx.cancel_timers || (fx.changed && in.awaiting_ready)) {
    in.awaiting_ready = false;
    in.deadline.cancel();
  }
  if (fx.signal == SIGKILL) {
    spdlog::warn("{} did not stop within kill_timeout {} ms, sending SIGKILL", label(in), in.spec.kill_timeout_ms);
    processes_.signal_all(in.membership(), SIGKILL);
  } else if (fx.signal != 0) {
    launcher_.stop_run(in, in.membership(), in.run.channel.get());
  }
  if (fx.kill_rest) {
    if (std::size_t left = processes_.kill_rest(in.membership()); left > 0) {
      spdlog::info("{} left {} process(es) behind, killed them", label(in), left);
    }
  }
  if (fx.spawn) do_spawn(in);
  if (fx.arm_kill_timer) arm_deadline(in, *fx.arm_kill_timer, Event::KillTimeout);
  if (fx.arm_restart_timer) arm_deadline(in, *fx.arm_restart_timer, Event::RestartTimer);
}

void Supervisor::arm_deadline(Instance& in, Millis after, Event event) {
  // The deadline goes with the instance: its callback never runs for one deleted.
  in.deadline.arm_after(timers_, after, [this, id = in.id, event] {
    if (Instance* in = registry_.find(id)) dispatch(*in, event);
  });
}

void Supervisor::spawned(Instance& in) {
  if (!launcher_.needs_ready(in)) return dispatch(in, Event::Spawned);
  // LAUNCHING until the app says it is ready, or listen_timeout.
  in.awaiting_ready = true;
  in.ready_warning.clear();
  in.deadline.arm_after(timers_, Millis(in.spec.listen_timeout_ms), [this, id = in.id] {
    if (Instance* in = registry_.find(id)) ready_timed_out(*in);
  });
}

void Supervisor::ready_timed_out(Instance& in) {
  if (!in.spec.wait_ready) {
    // A cluster instance that never listens (a worker without a server): online, as in PM2,
    // and start says why it waited.
    in.ready_warning = "did not listen within listen_timeout " + std::to_string(in.spec.listen_timeout_ms) +
                       " ms (a cluster-mode Node instance is ready when it listens); online anyway";
    spdlog::info("{} {}", label(in), in.ready_warning);
    return dispatch(in, Event::Spawned);
  }
  // wait_ready and no ready message: online anyway once listen_timeout has passed, as PM2
  // does (many copied configs set wait_ready and never send 'ready'), and said so.
  in.ready_warning = no_ready_message(in.spec);
  spdlog::warn("{} {}", label(in), in.ready_warning);
  dispatch(in, Event::Spawned);
}

void Supervisor::ready(Instance& in, pid_t pid, const char* how) {
  if (in.candidate && in.candidate->run.pid == pid) return replacer_.take_over(in, how);
  if (pid != in.run.pid || !in.awaiting_ready || in.fsm.state() != State::Launching) return;
  spdlog::info("{} ready ({})", label(in), how);
  dispatch(in, Event::Spawned);
}

std::optional<ipc::RpcError> Supervisor::update_env(const json& params, const std::vector<int>& ids) {
  // Both environments are checked before any instance changes.
  std::shared_ptr<const config::Env> caller_env;
  std::optional<config::Env> app_env;
  if (const json* env = config::member(params, "env"); env && !env->is_null()) {
    auto parsed = env_from_json(*env, "params.env");
    if (!parsed) return make_error(ErrorCode::InvalidParams, parsed.error(), {{"param", "env"}});
    caller_env = envs_.intern(std::move(*parsed));
  }
  if (const json* env = config::member(params, "app_env"); env && !env->is_null()) {
    auto parsed = env_from_json(*env, "params.app_env");
    if (!parsed) return make_error(ErrorCode::InvalidParams, parsed.error(), {{"param", "app_env"}});
    app_env = std::move(*parsed);
  }
  auto limits = limits_param(params);  // from an ecosystem file: its apps' cgroup limits again
  if (!limits) return make_error(ErrorCode::InvalidParams, limits.error(), {{"param", "limits"}});
  for (const auto& [name, l] : *limits) {
    if (auto ok = processes_.check_limits(l); !ok) return make_error(ErrorCode::InvalidParams, "app '" + name + "': " + ok.error());
  }
  for (int id : ids) {
    Instance& in = *registry_.find(id);
    if (caller_env) in.caller_env = caller_env;
    if (app_env) in.spec.env = *app_env;
    if (auto l = limits->find(in.spec.name); l != limits->end()) set_limits(in.spec, l->second);
  }
  return std::nullopt;
}

void Supervisor::on_notify(const Notification& n) {
  // The sender is an instance's leader, or a process below it (a shell script's
  // systemd-notify): up the parent links from the pid the kernel wrote.
  Instance* in = nullptr;
  pid_t pid = n.pid;
  for (int depth = 0; depth < 8 && pid > 1 && !in; ++depth) {
    if (auto id = registry_.leader_of(pid)) in = registry_.find(*id);
    if (!in) pid = parent_of(pid);
  }
  // Not an app of this pmxd, or a run a reload replaced: ignored.
  if (!in || (in->run.pid != pid && !(in->candidate && in->candidate->run.pid == pid))) return;
  if (n.status) in->notify_status = *n.status;
  if (n.stopping) spdlog::info("{} is stopping (sd_notify STOPPING=1)", label(*in));
  if (n.ready) ready(*in, pid, "sd_notify READY=1");
}

void Supervisor::on_node_message(Instance& in, NodeChannel& channel, const NodeMessage& msg) {
  // From the current run, or from reload's replacement; a replaced run on its way out is not heard.
  pid_t pid = 0;
  std::vector<std::string>* actions = nullptr;
  if (in.run.channel.get() == &channel) {
    pid = in.run.pid;
    actions = &in.run.actions;
  } else if (in.candidate && in.candidate->run.channel.get() == &channel) {
    pid = in.candidate->run.pid;
    actions = &in.candidate->run.actions;
  } else {
    return;
  }
  // The message was typed by decode_node_message: its fields are what their kind says.
  using Kind = NodeMessage::Kind;
  switch (msg.kind) {
    case Kind::Ready: return ready(in, pid, "process.send('ready')");
    case Kind::Listen: return sockets_.answer_listen(in, channel, msg.raw, launcher_.with_preload(in.spec));
    case Kind::BadListen:
      spdlog::warn("{} asked to listen with a port or index that is not an integer of its range, refusing", label(in));
      return channel.send(json{{"cmd", "NODE_PMX"}, {"pmx", "listen"}, {"id", msg.id}, {"errno", -EINVAL}});
    case Kind::Listening:
      if (!in.spec.wait_ready) ready(in, pid, "listening");
      return;
    case Kind::Action:
    case Kind::ActionReply:
    case Kind::ProcessMsg:
    case Kind::Metrics:
    case Kind::Monitor: return app_messages_.on_message(in, *actions, actions == &in.run.actions, msg);
    default: return;  // the app's own messages
  }
}

void Supervisor::do_spawn(Instance& in) {
  // depends_on: launching with no pid until the apps it depends on are ready.
  if (start_order_.hold(in, [this](Instance& i) { do_spawn(i); })) return;
  // Its turn comes when a slot is free (SpawnQueue): launching meanwhile, nothing forked.
  if (!launcher_.spawns().admit(in.id, [this, id = in.id] {
        Instance* i = registry_.find(id);
        if (i && i->fsm.state() == State::Launching && i->run.pid == 0) do_spawn(*i);
      })) {
    return;
  }
  if (in.run.channel) in.run.channel->close();
  in.run.channel.reset();
  if (!in.run.cgroup.empty()) in.old_cgroups.push_back(std::move(in.run.cgroup));
  in.run.cgroup = take_spare_cgroup(processes_, in);
  // LAUNCHING until the child's exec is confirmed; the loop goes on meanwhile.
  auto failed = [this](Instance& in, const std::string& error) {
    in.run.exec_error = error;
    spdlog::error("{} {}", label(in), in.run.exec_error);
  };
  auto run = launcher_.launch(in, in.run.cgroup, [this, failed](Instance& in, pid_t pid, const std::string& error) {
    if (!error.empty()) return failed(in, error);
    if (in.run.pid != pid) return;  // that process is already gone
    in.run.exec_error.clear();
    spawned(in);
  });
  if (!run) {
    failed(in, run.error());
    asio::post(io_, [this, id = in.id] {
      if (Instance* i = registry_.find(id)) dispatch(*i, Event::SpawnFailed);
    });
    return;
  }
  const std::string exec_error = std::move(run->exec_error);
  run->exec_error = std::move(in.run.exec_error);  // the last failure, until this exec's outcome is known
  launcher_.become_current(in, std::move(*run));
  // While more spawns wait for a slot (a start of many apps), the write waits for the last of
  // them instead of following each: one write instead of a hundred. A pmxd killed meanwhile
  // leaves runs whose pid the file does not have yet (start_registered wrote their instances),
  // which the next one adopts by their marker.
  if (launcher_.spawns().waiting_count() == 0) state_.soon();
  if (!exec_error.empty()) failed(in, exec_error);  // its exit follows
  launcher_.prepare_spare_cgroup(in);
}

void Supervisor::wait_signals() {
  signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    if (signo == SIGUSR1 || signo == SIGUSR2) {
      spdlog::info("received {}, reopening the log files", config::signal_name(signo));
      launcher_.reopen_logs();
    } else {
      spdlog::info("received {}, stopping every app", config::signal_name(signo));
      stop_all_then([this] { io_.stop(); });
    }
    wait_signals();
  });
}

void Supervisor::after_reaping() {
  for (auto& [id, in] : registry_.by_id()) {
    if (!in->old_cgroups.empty()) remove_old_cgroups(processes_, *in);
  }
  waiters_.check();
}

void Supervisor::on_exit(pid_t pid, ExitStatus exit) {
  if (health_.probe_exited(pid, exit)) return;
  const auto id = registry_.take_leader(pid);
  if (!id) {
    spdlog::debug("reaped pid {} (a descendant of an app)", pid);
    return;
  }
  Instance* in = registry_.find(*id);
  if (!in) {
    processes_.set_leader(pid, false);
    return;
  }
  leader_exited(*in, pid, exit);
}

void Supervisor::leader_exited(Instance& in, pid_t pid, ExitStatus exit) {
  const int id = in.id;
  processes_.set_leader(pid, false);
  processes_.forget_watch(pid);
  if (pid != in.run.pid) {
    for (const RetiringRun& old : in.retiring) {
      if (old.run.pid != pid) continue;
      in.last_exit = exit;
      exits_.record(in, pid, exit, old.run.cgroup, wall_clock_ms(), old.reason);
    }
    return replacer_.other_run_exited(in, pid, exit);
  }
  const ExitReason reason = exits_.record(in, pid, exit, in.run.cgroup, wall_clock_ms());
  in.run.pid = 0;
  in.run.pid_start = 0;
  in.last_exit = exit;
  in.exited_once = true;
  // What the leader printed last goes out before its exit is logged and acted upon.
  if (in.out_pipe) in.out_pipe->settle();
  if (in.err_pipe) in.err_pipe->settle();
  // The run's channel ends with its leader (a grandchild may still hold the other end).
  if (in.run.channel) in.run.channel->close();
  in.run.channel.reset();
  spdlog::info("{} pid {} {} (exit reason: {})", label(in), pid, how_it_ended(exit), to_string(reason));
  dispatch(in, Event::Exited, exit);
  state_.soon();
  // A replacement spawned at once has already rewritten the pid file.
  if (Instance* still = registry_.find(id); still && still->run.pid == 0) remove_pid_file(still->pid_path);
}

// ---------------------------------------------------------------------------------------------
// Verbs (their table: verb_table.cpp)

int Supervisor::add_instance(const config::AppSpec& spec, std::shared_ptr<const config::Env> caller_env, int id) {
  id = registry_.take_id(id);
  auto in = std::make_unique<Instance>(id, spec);
  in->caller_env = std::move(caller_env);
  in->created_at_ms = wall_clock_ms();
  if (const App* same = registry_.app(spec.name)) in->app_instance = same->free_app_instance();
  launcher_.name_files(*in);
  Instance& ref = insert(std::move(in));
  spdlog::info("{} registered: {}", label(ref), ref.spec.script);
  launcher_.open_output(ref);
  state_.soon();
  return id;
}

void Supervisor::start_registered(const std::vector<int>& ids) {
  // Nothing starts while pmxd shuts down (the verbs refuse before they register anything).
  if (ids.empty() || shutting_down()) return;
  // Recorded launching before their spawns; a failed write is retried (StateWriter), and the
  // start's own check found the file writable.
  state_.now({ids.begin(), ids.end()});
  for (int id : ids) {
    if (Instance* in = registry_.find(id)) dispatch(*in, Event::Start);
  }
}

void Supervisor::stop_all_then(std::function<void()> done) {
  if (!shutting_down() && options_.on_stopping) options_.on_stopping();
  lifecycle_ = Lifecycle::ShuttingDown;
  std::vector<int> ids;
  for (const auto& [id, in] : registry_.by_id()) ids.push_back(id);
  // Dependents first (depends_on), each wave stopped and quiet before the next.
  stop_in_order(ids, [this, done = std::move(done)] {
             for (auto& [id, in] : registry_.by_id()) retire_cgroups(processes_, *in);
             forget_state();
             server_.close();
             spdlog::info("every app is stopped, pmxd exits");
             done();
           });
}

void Supervisor::remove(int id) {
  Instance* in = registry_.find(id);
  if (!in) return;
  spdlog::info("{} deleted", label(*in));
  health_.forget(id);
  if (!retire_cgroups(processes_, *in)) spdlog::warn("{} cgroup still has processes, leaving it", label(*in));
  launcher_.close_output(*in);
  if (in->run.channel) in->run.channel->close();
  launcher_.feed().untrack(id);
  remove_pid_file(in->pid_path);
  registry_.erase(id);  // in is gone from here on
  state_.soon();
}

void Supervisor::forget_state() {
  launcher_.close_all_output();
  state_.forget();  // nothing more is written: a clean exit leaves nothing to adopt
}

std::string Supervisor::describe_all(const std::vector<int>& ids, EntryShape shape) {
  std::string out = "[";
  const std::int64_t wall = wall_clock_ms();
  CallerEnvTexts callers;
  for (int id : ids) {
    Instance* in = registry_.find(id);
    if (!in) continue;
    if (out.size() > 1) out += ',';
    out += describe(*in, wall, options_.paths.home, callers, shape);
  }
  out += ']';
  return out;
}

}  // namespace pmx::daemon
