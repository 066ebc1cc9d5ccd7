// Sampler: an instance's resource use, read once per sampling tick and cached. `list` and
// `jlist` show the cache and never read /proc themselves, so answering stays cheap however
// often it is asked, and the CPU figure is the same for every observer: the CPU time used
// between two ticks over the time between them.
#pragma once

#include <cstdint>

#include "daemon/process/exit_status.hpp"
#include "daemon/process/process_tree.hpp"

namespace pmx::daemon {

/// The last reading of one instance's processes.
struct ResourceSample {
  std::uint64_t rss_bytes = 0;
  double cpu_percent = 0;      ///< of one CPU, over the last interval, one decimal
  std::uint64_t cpu_ticks = 0;  ///< utime + stime of the members at the reading
  TimePoint at{};               ///< when it was taken; epoch: never

  /// Takes a new reading u made at now; ticks_per_second is sysconf(_SC_CLK_TCK).
  void update(const Usage& u, TimePoint now, double ticks_per_second);
};

}  // namespace pmx::daemon
