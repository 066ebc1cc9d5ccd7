// Sampler: CPU % from two readings of the members' CPU time.
#include "daemon/process/sampler.hpp"

#include <chrono>

namespace pmx::daemon {

void ResourceSample::update(const Usage& u, TimePoint now, double ticks_per_second) {
  double percent = 0;
  if (at != TimePoint{} && now > at && u.cpu_ticks >= cpu_ticks && ticks_per_second > 0) {
    const double seconds = std::chrono::duration<double>(now - at).count();
    percent = static_cast<double>(u.cpu_ticks - cpu_ticks) / ticks_per_second / seconds * 100.0;
    percent = static_cast<double>(static_cast<long long>(percent * 10)) / 10.0;
  }
  // A member that exited takes its CPU time with it: the total may drop; start again from it.
  rss_bytes = u.rss_bytes;
  cpu_percent = percent;
  cpu_ticks = u.cpu_ticks;
  at = now;
}

}  // namespace pmx::daemon
