// RunTime: how long a process has run, measured from its own start (its /proc starttime, on the
// kernel's boot clock), not from when pmxd asked for it or heard of its end: the uptime the
// restart policy compares with min_uptime, right even when pmxd's loop runs late.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>

namespace pmx::daemon {

/// The start time of pid in clock ticks after boot (field 22 of /proc/<pid>/stat), a zombie's
/// too (not yet reaped: read it before waitpid); 0 when there is no such process.
std::uint64_t start_ticks_of(pid_t pid);
/// The same of a live process: 0 for a zombie as for a process gone (a run's identity, which
/// a process that has ended no longer has, reaped or not).
std::uint64_t live_start_ticks_of(pid_t pid);

/// Now on the boot clock (CLOCK_BOOTTIME, which counts suspended time as starttime does), in ns.
std::uint64_t boot_time_ns();

/// Clock ticks after boot (start_ticks_of) in ns on the boot clock.
std::uint64_t ticks_to_ns(std::uint64_t ticks);

/// How long a run that began at start_ns and ended at end_ns lasted (both on the boot clock);
/// unset when start_ns is 0 (unknown), 0 when end_ns is not after it.
std::optional<std::chrono::milliseconds> run_length(std::uint64_t start_ns, std::uint64_t end_ns);

}  // namespace pmx::daemon
