// RunTime: /proc/<pid>/stat's starttime against CLOCK_BOOTTIME.
#include "daemon/process/run_time.hpp"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace pmx::daemon {

namespace {

/// Field 22 of /proc/<pid>/stat; 0 when pid is gone, or a zombie unless zombies count.
std::uint64_t read_start_ticks(pid_t pid, bool zombies) {
  if (pid <= 0) return 0;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[1024];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  const char* p = std::strrchr(buf, ')');
  if (!p || p[1] != ' ') return 0;
  p += 2;
  if (!zombies && (*p == 'Z' || *p == 'X')) return 0;
  // p is at field 3 (state); field 22 is 19 fields further.
  for (int field = 3; field < 22; ++field) {
    p = std::strchr(p, ' ');
    if (!p) return 0;
    ++p;
  }
  return std::strtoull(p, nullptr, 10);
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
