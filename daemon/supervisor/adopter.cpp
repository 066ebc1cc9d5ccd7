// Adopter: the state file read back, each instance's run found again (its recorded leader, or
// the run its marker names when the file lagged), and the last pmxd's unfinished business
// carried on: a stop goes on, a restart happens, a run that ended unseen is an exit.
#include "daemon/supervisor/adopter.hpp"

#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>

#include <spdlog/spdlog.h>

#include "daemon/process/process_tree.hpp"
#include "daemon/state/state_file.hpp"

namespace pmx::daemon {

namespace {

/// The time now in UTC as 20240131-235959, for the names of files set aside.
std::string compact_utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return buf;
}

}  // namespace

Adopter::Adopter(Registry& registry, Launcher& launcher, ProcessOps& processes, ExitRecorder& exits,
                 StateWriter& state, Timers& timers, InstanceControl& control, LeaderExited leader_exited)
    : registry_(registry),
      launcher_(launcher),
      processes_(processes),
      exits_(exits),
      state_(state),
      timers_(timers),
      control_(control),
      leader_exited_(std::move(leader_exited)) {}

void Adopter::adopt_from_state() {
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
  const std::int64_t wall_now = wall_clock_ms();
  registry_.set_next_id(std::max(registry_.next_id(), decoded->next_id));
  for (auto& r : decoded->instances) {
    if (registry_.find(r.id)) continue;
    // Looked up now, off the loop, for the restarts to come.
    if (!r.spec.uid.empty() || !r.spec.gid.empty()) launcher_.credentials_cache().resolve(r.spec.uid, r.spec.gid, nullptr);
    Instance& in = control_.insert(std::make_unique<Instance>(r.id, std::move(r.spec)));
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
      control_.dispatch(in, Event::Adopted);
      // What the last pmxd was doing to it, it goes on doing.
      if (recorded == State::Stopping || (resting && !unrecorded)) control_.dispatch(in, Event::Stop);
      else if (recorded == State::Restarting) control_.dispatch(in, Event::Restart);
    } else if (recorded == State::Launching && r.pid == 0) {
      // Registered and to start, not spawned yet when the last pmxd stopped: it never ran.
      spdlog::info("{} was to start when the last pmxd stopped: starting it", label(in));
      control_.dispatch(in, Event::Start);
    } else if (!resting) {
      spdlog::info("{} pid {} ended while no pmxd was watching", label(in), r.pid);
      control_.dispatch(in, Event::Adopted);
      ExitStatus exit;
      exit.unknown = true;
      in.last_exit = exit;
      in.exited_once = true;
      exits_.record(in, r.pid, exit, in.run.cgroup, wall_now);
      control_.dispatch(in, Event::Exited, exit);
    }
  }
  // FIFOs no recorded instance owns are leftovers of deleted apps.
  launcher_.remove_stray_fifos();
  if (!registry_.by_id().empty()) spdlog::info("took over {} instance(s) from {}", registry_.by_id().size(), state_.path());
  state_.soon();
}

void Adopter::warn_of_unknown_cgroups() const {
  if (!processes_.cgroups()) return;
  for (const auto& dir : processes_.stale_cgroups()) {
    bool known = false;
    for (const auto& [id, in] : registry_.by_id()) {
      known = known || in->run.cgroup == dir ||
              std::find(in->old_cgroups.begin(), in->old_cgroups.end(), dir) != in->old_cgroups.end();
    }
    if (!known) spdlog::warn("{} holds processes that no recorded app owns, leaving them", dir);
  }
}

bool Adopter::watch_adopted(Instance& in) {
  return processes_.watch_exit(in.run.pid, in.run.pid_start, [this, id = in.id](pid_t pid, ExitStatus exit) {
    if (Instance* in = registry_.find(id)) leader_exited_(*in, pid, exit);  // the current run or a replaced one
  });
}

// The state file lags behind the runs when it could not be written (PMX_HOME full, read-only;
// StateWriter tries again until it succeeds), or when the last pmxd died between a spawn and
// the next write (each instance is recorded before its first spawn, its pid after it).
bool Adopter::adopt_unrecorded_run(Instance& in) {
  const auto run = find_marked_run(in.unique_id);
  if (!run) return false;
  const pid_t recorded = in.run.pid;
  in.run.pid = run->leader;
  in.run.pid_start = run->start_time;
  std::string cgroup;
  if (processes_.cgroups() && !run->cgroup.empty()) {
    // The run's cgroup is one of the stale ones (this home's, still populated) ending in its path.
    for (const auto& dir : processes_.stale_cgroups()) {
      if (dir.size() >= run->cgroup.size() && dir.compare(dir.size() - run->cgroup.size(), run->cgroup.size(), run->cgroup) == 0) {
        cgroup = dir;
      }
    }
  }
  if (!watch_adopted(in)) {
    in.run.pid = recorded;
    return false;
  }
  if (!cgroup.empty() && cgroup != in.run.cgroup) {
    if (!in.run.cgroup.empty() && std::find(in.old_cgroups.begin(), in.old_cgroups.end(), in.run.cgroup) == in.old_cgroups.end()) {
      in.old_cgroups.push_back(in.run.cgroup);
    }
    in.run.cgroup = cgroup;
  }
  spdlog::warn("{} pid {} runs, but {} recorded pid {} (the last pmxd had not written it since this run "
               "started): adopted through its marker unique_id",
               label(in), in.run.pid, state_.path(), recorded);
  return true;
}

}  // namespace pmx::daemon
