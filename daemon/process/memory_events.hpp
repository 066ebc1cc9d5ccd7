// Memory events: the OOM kills a cgroup v2's memory.events counts, which tell a kernel OOM kill
// from any other SIGKILL.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pmx::daemon {

/// The oom_kill count of a memory.events file's text ("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n");
/// 0 when the line is missing or does not read as a count.
std::uint64_t oom_kill_count(std::string_view memory_events);

/// The oom_kill count of the cgroup dir (its memory.events, read without following links); 0
/// when dir is empty, has no memory controller or cannot be read. A kernel file: no wait.
std::uint64_t read_oom_kills(const std::string& dir);

}  // namespace pmx::daemon
