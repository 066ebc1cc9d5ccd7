// Supervisor: routing of requests and events to apps: effects of transitions, exits, messages, adoption.
#include "daemon/supervisor/supervisor.hpp"
#include "daemon/supervisor/prometheus_text.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <set>
#include <utility>
#include <spdlog/spdlog.h>

#include "config/json_access.hpp"
#include "config/units.hpp"
#include "daemon/supervisor/describe.hpp"
#include "daemon/state/pid_file.hpp"
#include "daemon/process/spawn.hpp"
#include "daemon/state/state_file.hpp"
#include "daemon/supervisor/limits_param.hpp"
#include "daemon/supervisor/run_cgroups.hpp"

namespace pmx::daemon {

namespace asio = boost::asio;
using ipc::ErrorCode;
using ipc::make_error;

namespace {


/// The parent of pid (from /proc/<pid>/stat), 0 when it cannot be read.
pid_t parent_of(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');  // the command name may hold spaces and parentheses
  if (close == std::string::npos) return 0;
  std::istringstream rest(text.substr(close + 1));
  char state = 0;
  pid_t ppid = 0;
  rest >> state >> ppid;
  return ppid;
}

/// The time now in UTC as 20240131-235959, for the names of files set aside.
std::string compact_utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return buf;
}

/// An environment sent by a client (the caller's, or an app's), checked as config checks one.
Result<config::Env> env_from_json(const ipc::json& j, const char* what) {
  if (!j.is_object()) return Error{std::string(what) + " must be an object of strings"};
  config::Env env;
  for (const auto& [k, v] : j.items()) {
    if (!v.is_string()) return Error{std::string(what) + "." + k + " must be a string"};
    env.emplace(k, v.get<std::string>());
  }
  if (auto ok = config::validate_env(env); !ok) return Error{std::string(what) + ": " + ok.error()};
  return env;
}

}  // namespace

Supervisor::Supervisor(asio::io_context& io, DaemonOptions options, ControlServer& server, ProcessOps& processes,
                       Timers& timers)
    : io_(io),
      options_(std::move(options)),
      server_(server),
      processes_(processes),
      timers_(timers),
      signals_(io),
      waiters_(io, processes, registry_),
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
      app_messages_(io, registry_, server),
      replacer_(io, timers, processes, registry_, launcher_, waiters_, state_, [this](Instance& in) {
        dispatch(in, std::exchange(in.replacing_unhealthy, false) ? Event::ReplacedUnhealthy : Event::Replaced);
        health_.update(in);  // the new run is probed from its start (start_period)
      }),
      exits_(processes, server),
      health_(io, processes, registry_, options_.paths.home,
              [this](const std::string& user, const std::string& group) { return launcher_.credentials(user, group); },
              [this](Instance& in, Event event) { health_verdict(in, event); }),
      start_order_(registry_),
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
  adopt_from_state();
  if (processes_.cgroups()) {
    for (const auto& dir : processes_.stale_cgroups()) {
      bool known = false;
      for (const auto& [id, in] : registry_.by_id()) {
        known = known || in->run.cgroup == dir ||
                std::find(in->old_cgroups.begin(), in->old_cgroups.end(), dir) != in->old_cgroups.end();
      }
      if (!known) spdlog::warn("{} holds processes that no recorded app owns, leaving them", dir);
    }
  }
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
  if (options_.resurrect) resurrect_at_start(ready);
  else ready();
}

std::int64_t Supervisor::now_ms() const {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
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
      exits_.record(in, pid, exit, old.run.cgroup, now_ms(), old.reason);
    }
    return replacer_.other_run_exited(in, pid, exit);
  }
  const ExitReason reason = exits_.record(in, pid, exit, in.run.cgroup, now_ms());
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

bool Supervisor::watch_adopted(Instance& in) {
  return processes_.watch_exit(in.run.pid, in.run.pid_start, [this, id = in.id](pid_t pid, ExitStatus exit) {
    if (Instance* in = registry_.find(id)) leader_exited(*in, pid, exit);  // the current run or a replaced one
  });
}

// ---------------------------------------------------------------------------------------------
// Verbs (their table: verb_table.cpp)

void Supervisor::start_app(const json& params, const Reply& reply) {
  // One app ("app") or several ("apps", from an ecosystem file): all are checked before any starts.
  const auto app_param = config::object_field(params, "app");
  if (!app_param) return reply.fail(ipc::invalid_param("app", app_param.error() + " of options"));
  const auto apps_param = config::array_field(params, "apps");
  if (!apps_param) return reply.fail(ipc::invalid_param("apps", apps_param.error() + " of apps"));
  const auto force_param = config::bool_field(params, "force");
  if (!force_param) return reply.fail(ipc::invalid_param("force", force_param.error()));
  json list = json::array();
  if (*app_param) list.push_back(**app_param);
  if (*apps_param) {
    for (const auto& a : **apps_param) list.push_back(a);
  }
  if (list.empty()) return reply.fail(make_error(ErrorCode::InvalidParams, "params.app or params.apps is required"));
  const bool force = force_param->value_or(false);
  std::vector<config::AppSpec> specs;
  std::vector<int> revive;  // stopped or errored apps started again
  std::map<int, Limits> revive_limits;
  for (const auto& entry : list) {
    auto parsed = config::spec_from_json(entry);
    if (!parsed) return reply.fail(make_error(ErrorCode::InvalidParams, parsed.error()));
    config::AppSpec spec = std::move(*parsed);
    if (spec.script.empty() || spec.script[0] != '/') {
      return reply.fail(make_error(ErrorCode::InvalidParams, "option 'script' must be an absolute path"));
    }
    struct stat st{};
    if (::stat(spec.script.c_str(), &st) != 0) {
      return reply.fail(make_error(ErrorCode::InvalidParams, "script not found: " + spec.script,
                                   {{"script", spec.script}}));
    }
    if (spec.cwd.empty()) spec.cwd = "/";
    if (!spec.uid.empty() || !spec.gid.empty()) {
      if (::geteuid() != 0) {
        return reply.fail(make_error(ErrorCode::InvalidParams,
                                     "options 'uid'/'gid': pmxd does not run as root, it cannot run apps as another user"));
      }
      auto creds = launcher_.credentials_cache().get(spec.uid, spec.gid);
      if (!creds) {
        // Looked up off the loop; the request is handled again, from the start, once it is in.
        launcher_.credentials_cache().resolve(spec.uid, spec.gid, [this, params, reply] { start_app(params, reply); });
        return;
      }
      if (!*creds) {
        return reply.fail(make_error(ErrorCode::InvalidParams, creds->error()));
      }
    }
    // Limits the kernel cannot enforce here are refused, never silently dropped.
    if (auto ok = processes_.check_limits(limits_of(spec)); !ok) {
      return reply.fail(make_error(ErrorCode::InvalidParams, "app '" + spec.name + "': " + ok.error()));
    }
    // PM2's duplicate rules, unless forced: the same script under another name is a new app;
    // the same name and script is that app: started again when it is stopped or errored,
    // refused while it runs; the same name for another script is refused.
    const App* same = force || spec.force ? nullptr : registry_.app(spec.name);
    if (same) {
      std::vector<int> live;
      bool running = false;
      const Instance* other = nullptr;
      for (const auto& [id, in] : same->instances()) {
        if (in->deleting) continue;
        live.push_back(id);
        running = running || !is_stopped(in->fsm.state());
        if (in->spec.script != spec.script && !other) other = in.get();
      }
      if (other) {
        return reply.fail(make_error(ErrorCode::AlreadyExists,
                                     "an app named '" + spec.name + "' already runs " + other->spec.script + " (id " +
                                         std::to_string(other->id) + "); choose another --name, or use -f",
                                     {{"id", other->id}, {"name", spec.name}}));
      }
      if (running) {
        return reply.fail(make_error(ErrorCode::AlreadyExists,
                                     "script already launched as '" + spec.name + "' (id " +
                                         std::to_string(live.front()) + "); use -f to start another copy",
                                     {{"id", live.front()}, {"name", spec.name}}));
      }
      if (!live.empty()) {
        for (int id : live) revive_limits[id] = limits_of(spec);  // the file's limits again, once all is checked
        revive.insert(revive.end(), live.begin(), live.end());
        continue;
      }
    }
    specs.push_back(std::move(spec));
  }
  if (auto bad = start_order_.check_new(specs)) return reply.fail(make_error(ErrorCode::InvalidParams, *bad));
  // What the state file does not record, the next pmxd would not know: nothing starts while it
  // cannot be written.
  if (auto ec = state_.now(); ec) {
    return reply.fail(make_error(ErrorCode::Failed, "cannot start: " + state_.path() + " cannot be written: " + ec.message()));
  }
  auto env_param = params.find("env");
  std::shared_ptr<const config::Env> caller_env;
  if (env_param != params.end() && !env_param->is_null()) {
    auto parsed = env_from_json(*env_param, "params.env");
    if (!parsed) return reply.fail(make_error(ErrorCode::InvalidParams, parsed.error(), {{"param", "env"}}));
    caller_env = envs_.intern(std::move(*parsed));
  } else {
    caller_env = envs_.intern({});
  }

  // The sockets of new cluster-mode apps are bound before anything starts: a port in use fails
  // the whole start, naming the address, and nothing runs.
  std::vector<std::string> bound_now;
  for (const auto& spec : specs) {
    if (!spec.autostart || !config::runs_in_cluster_mode(spec) || spec.reuse_port) continue;
    App& owner = registry_.app_for(spec.name);
    if (owner.listeners.bound()) continue;
    if (auto bound = sockets_.bind(owner, spec); !bound) {
      for (const auto& name : bound_now) registry_.apps().at(name).listeners.close();
      for (const auto& s : specs) {
        registry_.drop_if_empty(s.name);
      }
      return reply.fail(make_error(ErrorCode::Failed, "app '" + spec.name + "': cannot listen on " + bound.error(),
                                   {{"name", spec.name}}));
    }
    bound_now.push_back(spec.name);
  }

  std::vector<int> ids;
  for (int id : revive) {
    set_limits(registry_.find(id)->spec, revive_limits[id]);
    dispatch(*registry_.find(id), Event::Restart);
    ids.push_back(id);
  }
  std::vector<int> to_start;
  for (const auto& spec : specs) {
    for (int n = 0; n < spec.instances; ++n) {
      ids.push_back(add_instance(spec, caller_env));
      if (spec.autostart) to_start.push_back(ids.back());
    }
  }
  start_registered(to_start);
  // An instance waiting for an errored dependency is answered as it is: it will not start by itself.
  waiters_.wait_for(ids, [this](const Instance* in) { return settled_or_gone(in) || start_order_.stuck(*in); },
           [this, ids, reply, shape = entry_shape(params)] { reply.ok_text(describe_all(ids, shape)); });
}

int Supervisor::add_instance(const config::AppSpec& spec, std::shared_ptr<const config::Env> caller_env, int id) {
  id = registry_.take_id(id);
  auto in = std::make_unique<Instance>(id, spec);
  in->caller_env = std::move(caller_env);
  in->created_at_ms = now_ms();
  if (const App* same = registry_.app(spec.name)) in->app_instance = same->free_app_instance();
  launcher_.name_files(*in);
  Instance& ref = insert(std::move(in));
  spdlog::info("{} registered: {}", label(ref), ref.spec.script);
  launcher_.open_output(ref);
  state_.soon();
  return id;
}

void Supervisor::start_registered(const std::vector<int>& ids) {
  if (ids.empty()) return;
  // Its failure is retried (StateWriter); the start's own check found the file writable.
  state_.now();
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

void Supervisor::adopt_from_state() {
  std::ifstream file(state_.path());
  if (!file) return;
  std::stringstream text;
  text << file.rdbuf();
  auto decoded = decode_state(text.str());
  if (!decoded) {
    // Set aside, never read again (a pmxd that aborted on it at every start would leave every
    // app unmanaged); each damaged file is kept under its own time for a human to look at.
    const std::string kept = state_.path() + ".corrupt-" + compact_utc_now();
    if (::rename(state_.path().c_str(), kept.c_str()) != 0) {
      spdlog::error("{} cannot be read ({}) nor moved aside ({}); starting with no app", state_.path(),
                    decoded.error(), std::strerror(errno));
      return;
    }
    spdlog::error("{} cannot be read ({}); kept as {}, starting with no app", state_.path(), decoded.error(), kept);
    return;
  }
  const auto steady_now = timers_.now();
  const std::int64_t wall_now = now_ms();
  registry_.set_next_id(std::max(registry_.next_id(), decoded->next_id));
  for (auto& r : decoded->instances) {
    if (registry_.find(r.id)) continue;
    // Looked up now, off the loop, for the restarts to come.
    if (!r.spec.uid.empty() || !r.spec.gid.empty()) launcher_.credentials_cache().resolve(r.spec.uid, r.spec.gid, nullptr);
    Instance& in = insert(std::make_unique<Instance>(r.id, std::move(r.spec)));
    in.caller_env = decoded->envs[r.env_index];
    in.unique_id = r.unique_id;
    in.app_instance = r.app_instance;
    in.run.cgroup = r.cgroup;
    in.old_cgroups = r.old_cgroups;
    in.cgroup_generation = r.cgroup_generation;
    in.created_at_ms = r.created_at_ms;
    in.started_at_ms = r.started_at_ms;
    launcher_.set_log_paths(in);
    in.out_path = r.out_path;
    in.err_path = r.err_path;
    in.pid_path = r.pid_path;
    in.run.exec_error = r.exec_error;
    const State recorded = state_from_string(r.state).value_or(State::Stopped);
    const TimePoint started = steady_now - Millis(std::max<std::int64_t>(0, wall_now - r.started_at_ms));
    in.fsm.restore(r.restart_count, r.unstable_restarts, r.consecutive_unstable, started,
                   Millis(r.prev_restart_delay_ms), recorded);
    launcher_.open_output(in);

    // Runs beside the current one when the last pmxd died (a reload in progress): the
    // replacement never took over and a replaced run was on its way out; nothing else ends them.
    for (const auto& side : r.side_runs) {
      if (side.pid <= 0 || side.pid_start == 0 || processes_.start_ticks(side.pid) != side.pid_start) continue;
      spdlog::warn("{} {} pid {} was left by the last pmxd during a reload: killing it", label(in),
                   side.replacement ? "replacement" : "replaced run", side.pid);
      processes_.signal_all(Membership{side.pid, "", side.cgroup}, SIGKILL);
    }
    const bool resting = recorded == State::Stopped || recorded == State::Errored;
    in.run.pid = r.pid;
    in.run.pid_start = r.pid_start;
    bool alive = r.pid > 0 && r.pid_start != 0 && watch_adopted(in);
    const bool unrecorded = !alive && (alive = adopt_unrecorded_run(in));
    if (!alive) {
      in.run.pid = 0;
      in.run.pid_start = 0;
    }
    if (alive) {
      processes_.set_leader(in.run.pid, true);
      spdlog::info("{} adopted pid {} ({} when the last pmxd stopped)", label(in), in.run.pid, r.state);
      dispatch(in, Event::Adopted);
      // What the last pmxd was doing to it, it goes on doing.
      if (recorded == State::Stopping || (resting && !unrecorded)) dispatch(in, Event::Stop);
      else if (recorded == State::Restarting) dispatch(in, Event::Restart);
    } else if (!resting) {
      spdlog::info("{} pid {} ended while no pmxd was watching", label(in), r.pid);
      dispatch(in, Event::Adopted);
      ExitStatus exit;
      exit.unknown = true;
      in.last_exit = exit;
      in.exited_once = true;
      exits_.record(in, r.pid, exit, in.run.cgroup, wall_now);
      dispatch(in, Event::Exited, exit);
    }
  }
  // FIFOs no recorded instance owns are leftovers of deleted apps.
  launcher_.remove_stray_fifos();
  if (!registry_.by_id().empty()) spdlog::info("took over {} instance(s) from {}", registry_.by_id().size(), state_.path());
  state_.soon();
}

std::string Supervisor::describe_all(const std::vector<int>& ids, EntryShape shape) {
  std::string out = "[";
  const std::int64_t wall = now_ms();
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
