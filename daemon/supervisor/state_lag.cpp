// While state.json lags behind the daemon (PMX_HOME full, read-only): the write is tried again
// until it succeeds, and a pmxd that took over from one that died meanwhile finds the runs the
// file does not name through their processes' marker.
#include <algorithm>
#include <chrono>
#include <memory>
#include <string>

#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include "daemon/process/process_tree.hpp"
#include "daemon/supervisor/supervisor.hpp"

namespace pmx::daemon {

namespace {
/// How often a state file that could not be written is tried again.
constexpr std::chrono::milliseconds kPersistRetry{500};
}  // namespace

void Supervisor::retry_persist(std::error_code ec) {
  if (!state_lagging_) {
    spdlog::error("cannot write {}: {}; trying again every {} ms (a pmxd that replaced this one meanwhile "
                  "would find unrecorded runs by their marker)",
                  state_path_, ec.message(), kPersistRetry.count());
  }
  state_lagging_ = true;
  if (persist_pending_) return;
  // persist_soon() is a no-op meanwhile: the changes made until then go into the retry's write.
  persist_pending_ = true;
  auto timer = std::make_shared<boost::asio::steady_timer>(io_, kPersistRetry);
  timer->async_wait([this, timer](const boost::system::error_code& error) {
    persist_pending_ = false;
    if (!error) persist_now();
  });
}

bool Supervisor::adopt_unrecorded_run(Instance& in) {
  const auto run = find_marked_run(in.unique_id);
  if (!run) return false;
  const pid_t recorded = in.pid;
  in.pid = run->leader;
  in.pid_start = run->start_time;
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
    in.pid = recorded;
    return false;
  }
  if (!cgroup.empty() && cgroup != in.cgroup) {
    if (!in.cgroup.empty() && std::find(in.old_cgroups.begin(), in.old_cgroups.end(), in.cgroup) == in.old_cgroups.end()) {
      in.old_cgroups.push_back(in.cgroup);
    }
    in.cgroup = cgroup;
  }
  spdlog::warn("{} pid {} runs, but {} recorded pid {} (it could not be written when it was started): adopted "
               "through its marker unique_id",
               label(in), in.pid, state_path_, recorded);
  return true;
}

}  // namespace pmx::daemon
