// RunReplacer: a replacement run beside the online one, its take-over, or its failure.
#include "daemon/supervisor/run_replacer.hpp"

#include <algorithm>
#include <csignal>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "daemon/supervisor/run_cgroups.hpp"

namespace pmx::daemon {

namespace asio = boost::asio;

RunReplacer::RunReplacer(asio::io_context& io, Timers& timers, ProcessOps& processes, Registry& registry, Launcher& launcher,
                         SettleWaiters& waiters, StateWriter& state, Replaced replaced)
    : io_(io),
      timers_(timers),
      processes_(processes),
      registry_(registry),
      launcher_(launcher),
      waiters_(waiters),
      state_(state),
      replaced_(std::move(replaced)) {}

void RunReplacer::replace_run(Instance& in, std::function<void(const std::string& error)> done) {
  std::string cgroup = take_spare_cgroup(processes_, in);
  auto run = launcher_.launch(in, cgroup, [this](Instance& in, pid_t pid, const std::string& error) {
    if (!in.candidate || in.candidate->run.pid != pid) return;
    if (error.empty()) return candidate_spawned(in);
    in.candidate->run.exec_error = error;  // its exit follows and ends the reload step
    spdlog::error("{} reload: {}", label(in), error);
  });
  if (!run) {
    if (!cgroup.empty()) in.old_cgroups.push_back(std::move(cgroup));
    spdlog::error("{} reload: {}", label(in), run.error());
    asio::post(io_, [done = std::move(done), error = run.error()] { done(error); });
    return;
  }
  auto c = std::make_unique<Candidate>(Candidate{std::move(*run), std::move(done)});
  spdlog::info("{} reload: pid {} started beside pid {}", label(in), c->run.pid, in.run.pid);
  if (!c->run.exec_error.empty()) {
    // Known before the candidate existed: its exit follows and ends the reload step with it.
    spdlog::error("{} reload: {}", label(in), c->run.exec_error);
  }
  in.candidate = std::move(c);
  launcher_.prepare_spare_cgroup(in);
  state_.soon();  // a pmxd that takes over after a crash kills it
}

void RunReplacer::candidate_spawned(Instance& in) {
  Candidate& c = *in.candidate;
  // An app that can say it is ready is awaited until listen_timeout; one that cannot has
  // started well once it outlived min_uptime (PM2's measure of a start that failed).
  const bool says_ready = launcher_.needs_ready(in);
  const Millis wait{says_ready ? in.spec.listen_timeout_ms : in.spec.min_uptime_ms};
  // The wait is the candidate's own: it goes with it (taken over, failed or killed).
  c.run.deadline.arm_after(timers_, wait, [this, id = in.id, says_ready] {
    Instance* in = registry_.find(id);
    if (!in || !in->candidate) return;
    const pid_t pid = in->candidate->run.pid;
    if (!says_ready) return take_over(*in, "running for min_uptime " + std::to_string(in->spec.min_uptime_ms) + " ms");
    if (!in->spec.wait_ready) {
      return take_over(*in, "did not listen within listen_timeout " + std::to_string(in->spec.listen_timeout_ms) +
                                " ms, taken as ready");
    }
    // As at start: alive at listen_timeout without a ready message, it takes over, said so.
    const std::string warning = no_ready_message(in->spec);
    spdlog::warn("{} reload: pid {} {}", label(*in), pid, warning);
    take_over(*in, "alive at listen_timeout without a ready message");
    in->ready_warning = warning;
  });
}

void RunReplacer::take_over(Instance& in, const std::string& how) {
  std::unique_ptr<Candidate> c = std::move(in.candidate);
  c->run.deadline.cancel();
  RetiringRun old{std::move(in.run), in.replacing_unhealthy ? ExitReason::HealthCheck : ExitReason::Reload};
  if (!old.run.cgroup.empty()) in.old_cgroups.push_back(old.run.cgroup);
  spdlog::info("{} reload: pid {} is ready ({}) and takes over from pid {}", label(in), c->run.pid, how, old.run.pid);
  launcher_.become_current(in, std::move(c->run));
  state_.soon();
  replaced_(in);

  // The old run stops as a stop would stop it, and is SIGKILLed after kill_timeout.
  launcher_.stop_run(in, Membership{old.run.pid, "", old.run.cgroup}, old.run.channel.get());
  // The deadline is the retiring run's own: its end (or the instance's) drops it.
  old.run.deadline.arm_after(timers_, Millis(in.spec.kill_timeout_ms), [this, id = in.id, pid = old.run.pid] {
    Instance* in = registry_.find(id);
    if (!in) return;
    for (const RetiringRun& r : in->retiring) {
      if (r.run.pid != pid) continue;
      spdlog::warn("{} replaced pid {} did not stop within kill_timeout {} ms, sending SIGKILL", label(*in), pid,
                   in->spec.kill_timeout_ms);
      processes_.signal_all(Membership{r.run.pid, "", r.run.cgroup}, SIGKILL);
    }
  });
  in.retiring.push_back(std::move(old));
  asio::post(io_, [done = std::move(c->done)] { done(""); });
}

std::unique_ptr<Candidate> RunReplacer::fail_candidate(Instance& in, const std::string& why) {
  std::unique_ptr<Candidate> c = std::move(in.candidate);
  c->run.deadline.cancel();
  if (!c->run.cgroup.empty()) in.old_cgroups.push_back(c->run.cgroup);
  state_.soon();
  asio::post(io_, [done = std::move(c->done), why] { done(why); });
  return c;
}

void RunReplacer::abort_candidate(Instance& in, const std::string& why) {
  spdlog::error("{} reload: killing the new run pid {}: {}", label(in), in.candidate->run.pid, why);
  std::unique_ptr<Candidate> c = fail_candidate(in, why);
  processes_.signal_all(Membership{c->run.pid, "", c->run.cgroup}, SIGKILL);
  in.retiring.push_back(RetiringRun{std::move(c->run), ExitReason::Reload});
}

void RunReplacer::other_run_exited(Instance& in, pid_t pid, ExitStatus exit) {
  if (in.candidate && in.candidate->run.pid == pid) {
    // The replacement ended before it was ready: the reload step failed, the old run serves on.
    const Candidate& ended = *in.candidate;
    const std::string why = ended.run.exec_error.empty() ? "the new run (pid " + std::to_string(pid) + ") " +
                                                               how_it_ended(exit) + " before it was ready"
                                                         : ended.run.exec_error;
    spdlog::error("{} reload: {}", label(in), why);
    std::unique_ptr<Candidate> c = fail_candidate(in, why);
    if (c->run.channel) c->run.channel->close();
    processes_.kill_rest(Membership{pid, "", c->run.cgroup});
    return waiters_.check();
  }
  auto it = std::find_if(in.retiring.begin(), in.retiring.end(), [pid](const RetiringRun& r) { return r.run.pid == pid; });
  if (it == in.retiring.end()) return;  // a run already accounted for
  spdlog::info("{} replaced pid {} {} (exit reason: reload)", label(in), pid, how_it_ended(exit));
  processes_.kill_rest(Membership{pid, "", it->run.cgroup});
  if (it->run.channel) it->run.channel->close();
  in.retiring.erase(it);
  remove_old_cgroups(processes_, in);
  state_.soon();
  waiters_.check();
}

}  // namespace pmx::daemon
