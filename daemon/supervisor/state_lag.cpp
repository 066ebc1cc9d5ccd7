// A pmxd that took over from one that died while state.json lagged behind it finds the runs the
// file does not name through their processes' marker: the file could not be written (PMX_HOME
// full, read-only; the write tried again until it succeeds is StateWriter's), or the last pmxd
// died between a spawn and the next write (each instance is recorded before its first spawn,
// its pid after it: Supervisor::start_registered).
#include <algorithm>
#include <chrono>
#include <memory>
#include <string>

#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include "daemon/process/process_tree.hpp"
#include "daemon/supervisor/supervisor.hpp"

namespace pmx::daemon {

bool Supervisor::adopt_unrecorded_run(Instance& in) {
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
