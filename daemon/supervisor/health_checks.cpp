// HealthChecks: the health probes of each online instance, scheduled one at a time.
#include "daemon/supervisor/health_checks.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <utility>

#include <spdlog/spdlog.h>

#include "config/app_spec.hpp"

namespace pmx::daemon {
namespace {

/// The {port} of a run: its increment_var's value when the app has one (a port per instance,
/// PM2's way), else its PORT; "" when neither is set.
std::string probe_port_of(const config::AppSpec& spec, const config::Env& env) {
  if (!spec.increment_var.empty()) {
    if (auto it = env.find(spec.increment_var); it != env.end()) return it->second;
  }
  auto it = env.find("PORT");
  return it == env.end() ? "" : it->second;
}

}  // namespace

HealthChecks::HealthChecks(boost::asio::io_context& io, Timers& timers, ProcessOps& processes, Registry& registry,
                           std::string home, CredentialsOf credentials, Verdict verdict)
    : io_(io),
      timers_(timers),
      processes_(processes),
      registry_(registry),
      home_(std::move(home)),
      credentials_(std::move(credentials)),
      verdict_(std::move(verdict)) {}

HealthChecks::~HealthChecks() {
  for (auto& [id, e] : entries_) stop(*e);
}

void HealthChecks::update(Instance& in) {
  const bool wanted = in.spec.health_check.enabled() && in.fsm.state() == State::Online && in.run.pid > 0;
  auto it = entries_.find(in.id);
  if (!wanted) {
    if (it != entries_.end()) {
      stop(*it->second);
      entries_.erase(it);
    }
    if (!in.spec.health_check.enabled()) in.health = HealthStatus{};
    return;
  }
  if (it != entries_.end() && it->second->leader == in.run.pid) return;  // this run is probed already
  if (it == entries_.end()) it = entries_.emplace(in.id, std::make_unique<Entry>()).first;
  Entry& e = *it->second;
  stop(e);
  e.leader = in.run.pid;
  e.run_started = timers_.now();
  e.port = probe_port_of(in.spec, in.environment(home_));
  if (in.health.health != Health::Starting) {
    spdlog::info("{} health: {} -> starting (pid {})", label(in), in.health.health == Health::None ? "none" : to_string(in.health.health), in.run.pid);
  }
  in.health.health = Health::Starting;
  in.health.failures = 0;
  // Docker's order: the first probe an interval after the start.
  arm(in.id, e, Millis(in.spec.health_check.interval_ms));
}

void HealthChecks::forget(int id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  stop(*it->second);
  entries_.erase(it);
}

void HealthChecks::stop(Entry& e) {
  ++e.generation;
  e.timer.cancel();
  e.deadline.cancel();
  if (e.probe) {
    e.probe->cancel();
    e.probe.reset();
  }
  if (e.exec_pid > 0) {
    // Its exit still comes to probe_exited, which ignores it (the entry no longer names it).
    processes_.signal_all(Membership{e.exec_pid, "", ""}, SIGKILL);
    e.exec_pid = 0;
  }
}

void HealthChecks::arm(int id, Entry& e, Millis after) {
  // The entry's deadline: stop() cancels it and the entry's end drops it, so it runs only while
  // the entry probes the run it was armed for.
  e.timer.arm_after(timers_, after, [this, id] {
    if (auto it = entries_.find(id); it != entries_.end()) probe(id, *it->second);
  });
}

void HealthChecks::probe(int id, Entry& e) {
  Instance* in = registry_.find(id);
  if (!in) return;
  const config::HealthCheck& check = in->spec.health_check;
  const std::string target = config::health_target_for(check.target, in->app_instance, e.port);
  const Millis timeout(check.timeout_ms);
  auto done = [this, id, generation = e.generation](ProbeResult r) { finished(id, generation, std::move(r)); };
  switch (check.kind) {
    case config::HealthCheck::Kind::Http:
      if (auto t = config::parse_http_target(target)) e.probe = start_http_probe(io_, *t, timeout, std::move(done));
      else finished(id, e.generation, {false, t.error()});
      return;
    case config::HealthCheck::Kind::Tcp:
      if (auto t = config::parse_tcp_target(target)) e.probe = start_tcp_probe(io_, *t, timeout, std::move(done));
      else finished(id, e.generation, {false, t.error()});
      return;
    case config::HealthCheck::Kind::Exec:
      return start_exec(id, e, *in, target);
    case config::HealthCheck::Kind::None:
      return;
  }
}

void HealthChecks::start_exec(int id, Entry& e, Instance& in, const std::string& command) {
  auto words = config::split_shell_words(command);
  if (!words || words->empty()) return finished(id, e.generation, {false, "exec: no command"});
  SpawnRequest req;
  config::Env env = in.environment(home_);
  // Not the instance's marker: a probe is no process of the instance (the fallback tracker and
  // the adoption of an unrecorded run after a crash would take it for one).
  env.erase("unique_id");
  for (const auto& [k, v] : env) req.env.push_back(k + "=" + v);
  req.program = find_program(words->front(), req.env);
  req.argv = *words;
  req.cwd = in.spec.cwd;
  if (!in.spec.uid.empty() || !in.spec.gid.empty()) {
    auto creds = credentials_(in.spec.uid, in.spec.gid);
    if (!creds) return finished(id, e.generation, {false, "exec: " + creds.error()});
    req.uid = creds->uid;
    req.gid = creds->gid;
    req.groups = creds->groups;
  }
  // Its output is not kept: the exit code is the answer.
  const int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  req.stdout_fd = null_fd;
  req.stderr_fd = null_fd;
  auto pid = processes_.spawn(std::move(req), "", [](int, const std::string&) {});
  if (null_fd >= 0) ::close(null_fd);
  if (!pid) return finished(id, e.generation, {false, "exec: " + pid.error()});
  e.exec_pid = *pid;
  e.exec_timed_out = false;
  exec_pids_[*pid] = id;
  // Cancelled when the probe exits or the probing stops.
  e.deadline.arm_after(timers_, Millis(in.spec.health_check.timeout_ms), [this, id, pid = *pid] {
    auto it = entries_.find(id);
    if (it == entries_.end() || it->second->exec_pid != pid) return;
    it->second->exec_timed_out = true;
    processes_.signal_all(Membership{pid, "", ""}, SIGKILL);  // the probe and what it started
  });
}

bool HealthChecks::probe_exited(pid_t pid, const ExitStatus& exit) {
  auto it = exec_pids_.find(pid);
  if (it == exec_pids_.end()) return false;
  const int id = it->second;
  exec_pids_.erase(it);
  auto entry = entries_.find(id);
  if (entry == entries_.end() || entry->second->exec_pid != pid) return true;  // probing stopped meanwhile
  Entry& e = *entry->second;
  e.exec_pid = 0;
  e.deadline.cancel();
  ProbeResult result;
  if (e.exec_timed_out) {
    result.detail = "timed out";
    if (const Instance* in = registry_.find(id)) result.detail += " after " + std::to_string(in->spec.health_check.timeout_ms) + " ms";
  } else if (exit.signal != 0) {
    result.detail = "killed by " + config::signal_name(exit.signal);
  } else {
    result.ok = exit.code == 0;
    result.detail = "exit " + std::to_string(exit.code);
  }
  finished(id, e.generation, std::move(result));
  return true;
}

void HealthChecks::finished(int id, std::uint64_t generation, ProbeResult result) {
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second->generation != generation) return;
  Instance* in = registry_.find(id);
  if (!in) return;
  // Reset from its own handler: the probe's state lives on until its handlers return.
  it->second->probe.reset();
  const config::HealthCheck& check = in->spec.health_check;
  const Millis interval(check.interval_ms);  // the verdict below may remove the instance
  in->health.last_result = (result.ok ? "ok: " : "failed: ") + result.detail;
  in->health.last_at_ms = epoch_ms(timers_.wall_now());
  const bool starting = timers_.now() - it->second->run_started < Millis(check.start_period_ms);
  if (result.ok) {
    in->health.failures = 0;
    if (in->health.health != Health::Healthy) {
      spdlog::info("{} health: {} -> healthy ({})", label(*in), to_string(in->health.health), in->health.last_result);
      in->health.health = Health::Healthy;
      verdict_(*in, Event::Healthy);
    }
  } else if (!starting) {
    if (in->health.failures < check.retries) ++in->health.failures;
    if (in->health.failures >= check.retries) {
      spdlog::warn("{} health: {} -> unhealthy ({} consecutive failures, the last: {})", label(*in),
                   to_string(in->health.health), in->health.failures, result.detail);
      in->health.health = Health::Unhealthy;
      verdict_(*in, Event::Unhealthy);  // may end the probing (and this entry)
    } else {
      spdlog::info("{} health check failed ({}/{}): {}", label(*in), in->health.failures, check.retries, result.detail);
    }
  }
  // The next probe, unless the verdict ended the probing of this run.
  it = entries_.find(id);
  if (it != entries_.end() && it->second->generation == generation) arm(id, *it->second, interval);
}

}  // namespace pmx::daemon
