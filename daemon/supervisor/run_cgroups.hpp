// Run cgroups: the cgroup each run of an instance lives in, made ahead and cleared away after.
#pragma once

#include <string>

#include "daemon/instance/instance.hpp"
#include "daemon/process/process_ops.hpp"

namespace pmx::daemon {

/// A new cgroup for a run of in, named after its id, unique_id and generation ("" in fallback
/// mode or on failure, which is logged).
std::string make_cgroup(ProcessOps& processes, Instance& in);
/// Removes the instance's cgroups of earlier runs that are empty; true when none is left.
bool remove_old_cgroups(ProcessOps& processes, Instance& in);
/// Moves the current and spare cgroups among the old ones and removes what is empty; true when
/// none is left (for delete and shutdown).
bool retire_cgroups(ProcessOps& processes, Instance& in);
/// The cgroup for a new run of in: the spare one made ahead, or a new one ("" without cgroups).
std::string take_spare_cgroup(ProcessOps& processes, Instance& in);

}  // namespace pmx::daemon
