// StateWriter: state.json written after every change that matters, tried again while it cannot be.
#include "daemon/supervisor/state_writer.hpp"

#include <unistd.h>

#include <map>
#include <memory>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include "daemon/state/state_file.hpp"

namespace pmx::daemon {

namespace {

/// What the state file keeps of an instance; its caller's environment is envs[env_index].
InstanceRecord record_of(const Instance& in, std::size_t env_index, bool starting) {
  InstanceRecord r;
  r.id = in.id;
  r.spec = in.spec;
  r.env_index = env_index;
  r.unique_id = in.unique_id;
  r.app_instance = in.app_instance;
  r.state = to_string(starting ? State::Launching : in.fsm.state());
  r.pid = in.run.pid;
  r.pid_start = in.run.pid_start;
  r.cgroup = in.run.cgroup;
  r.old_cgroups = in.old_cgroups;
  if (!in.spare_cgroup.empty()) r.old_cgroups.push_back(in.spare_cgroup);
  r.cgroup_generation = in.cgroup_generation;
  r.restart_count = in.fsm.restart_count();
  r.unstable_restarts = in.fsm.unstable_restarts();
  r.consecutive_unstable = in.fsm.consecutive_unstable();
  r.prev_restart_delay_ms = in.fsm.prev_restart_delay().count();
  r.created_at_ms = in.created_at_ms;
  r.started_at_ms = in.started_at_ms;
  r.out_path = in.out_path;
  r.err_path = in.err_path;
  r.pid_path = in.pid_path;
  r.exec_error = in.run.exec_error;
  if (in.candidate) r.side_runs.push_back({in.candidate->run.pid, in.candidate->run.pid_start, in.candidate->run.cgroup, true});
  for (const auto& old : in.retiring) r.side_runs.push_back({old.run.pid, old.run.pid_start, old.run.cgroup, false});
  return r;
}

}  // namespace

StateWriter::StateWriter(boost::asio::io_context& io, std::string path, const Registry& registry, Write write)
    : io_(io), path_(std::move(path)), registry_(registry), write_(std::move(write)) {
  if (!write_) {
    write_ = [](const std::string& p, const std::string& text) { return write_file_atomic(p, text, false); };
  }
}

void StateWriter::soon() {
  if (pending_) return;
  pending_ = true;
  // Changes made by one handler (a hundred instances started by one command) make one write.
  boost::asio::post(io_, [this] {
    pending_ = false;
    now();
  });
}

std::error_code StateWriter::now(const std::set<int>& starting) {
  if (forgotten_) return {};
  DaemonState state;
  state.next_id = registry_.next_id();
  std::map<const config::Env*, std::size_t> env_index;
  // Grouped by app, each app's instances in pm_id order.
  for (const auto& [name, app] : registry_.apps()) {
    for (const auto& [id, in] : app.instances()) {
      auto [it, added] = env_index.emplace(in->caller_env.get(), state.envs.size());
      if (added) state.envs.push_back(in->caller_env);
      state.instances.push_back(record_of(*in, it->second, starting.contains(id)));
    }
  }
  // Not durable: the file describes running processes, which a power loss ends anyway (a
  // damaged file then only means starting empty, as after any reboot). Atomic is what matters:
  // a pmxd killed mid-write leaves the previous state whole. No fsync stalls the loop.
  auto ec = write_(path_, encode_state(state));
  if (ec) retry(ec);
  else if (std::exchange(lagging_, false)) spdlog::info("{} is written again", path_);
  return ec;
}

void StateWriter::retry(std::error_code ec) {
  if (!lagging_) {
    spdlog::error("cannot write {}: {}; trying again every {} ms (a pmxd that replaced this one meanwhile "
                  "would find unrecorded runs by their marker)",
                  path_, ec.message(), kRetry.count());
  }
  lagging_ = true;
  if (pending_) return;
  // soon() is a no-op meanwhile: the changes made until then go into the retry's write.
  pending_ = true;
  auto timer = std::make_shared<boost::asio::steady_timer>(io_, kRetry);
  timer->async_wait([this, timer](const boost::system::error_code& error) {
    pending_ = false;
    if (!error) now();
  });
}

void StateWriter::forget() {
  ::unlink(path_.c_str());
  forgotten_ = true;
}

}  // namespace pmx::daemon
