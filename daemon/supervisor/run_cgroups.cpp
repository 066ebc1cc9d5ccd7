// Run cgroups: made per run, the next one ahead of need, old ones removed once empty.
#include "daemon/supervisor/run_cgroups.hpp"

#include <utility>

#include <spdlog/spdlog.h>

namespace pmx::daemon {

std::string make_cgroup(ProcessOps& processes, Instance& in) {
  std::error_code ec;
  std::string dir = processes.create_cgroup(
      std::to_string(in.id) + "-" + in.unique_id.substr(0, 8) + "-" + std::to_string(in.cgroup_generation++), ec);
  if (ec) spdlog::warn("{} cannot create its cgroup: {}, ignoring", label(in), ec.message());
  return dir;
}

bool remove_old_cgroups(ProcessOps& processes, Instance& in) {
  std::erase_if(in.old_cgroups, [&](const std::string& dir) { return processes.remove_cgroup(dir); });
  return in.old_cgroups.empty();
}

bool retire_cgroups(ProcessOps& processes, Instance& in) {
  in.old_cgroups.push_back(std::move(in.run.cgroup));
  in.old_cgroups.push_back(std::move(in.spare_cgroup));
  return remove_old_cgroups(processes, in);
}

std::string take_spare_cgroup(ProcessOps& processes, Instance& in) {
  if (!processes.cgroups()) return "";
  return in.spare_cgroup.empty() ? make_cgroup(processes, in) : std::exchange(in.spare_cgroup, {});
}

}  // namespace pmx::daemon
