// RunTime: /proc/<pid>/stat's starttime against CLOCK_BOOTTIME.
#include "daemon/process/run_time.hpp"

#include <time.h>
#include <unistd.h>

#include <algorithm>

#include "daemon/process/process_tree.hpp"

namespace pmx::daemon {

namespace {

/// Field 22 of /proc/<pid>/stat (the process tree's reader); 0 when pid is gone, or a zombie
/// unless zombies count.
std::uint64_t read_start_ticks(pid_t pid, bool zombies) {
  ProcSnapshot::Proc p;
  return pid > 0 && read_proc_stat(pid, p, zombies) ? p.start_time : 0;
}

}  // namespace

std::uint64_t start_ticks_of(pid_t pid) { return read_start_ticks(pid, true); }

std::uint64_t live_start_ticks_of(pid_t pid) { return read_start_ticks(pid, false); }

std::uint64_t boot_time_ns() {
  timespec now{};
  if (::clock_gettime(CLOCK_BOOTTIME, &now) != 0) return 0;
  return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000 + static_cast<std::uint64_t>(now.tv_nsec);
}

std::uint64_t ticks_to_ns(std::uint64_t ticks) {
  static const auto hz = static_cast<std::uint64_t>(std::max(::sysconf(_SC_CLK_TCK), 1L));
  return ticks / hz * 1'000'000'000 + ticks % hz * 1'000'000'000 / hz;
}

std::optional<std::chrono::milliseconds> run_length(std::uint64_t start_ns, std::uint64_t end_ns) {
  if (start_ns == 0) return std::nullopt;
  const std::uint64_t ns = end_ns > start_ns ? end_ns - start_ns : 0;
  return std::chrono::milliseconds(static_cast<std::int64_t>(ns / 1'000'000));
}

}  // namespace pmx::daemon
