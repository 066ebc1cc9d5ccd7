// Memory events: memory.events read and parsed.
#include "daemon/process/memory_events.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>

namespace pmx::daemon {

std::uint64_t oom_kill_count(std::string_view text) {
  constexpr std::string_view kKey = "oom_kill ";
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(at, end - at);
    if (line.substr(0, kKey.size()) == kKey) {
      const std::string_view digits = line.substr(kKey.size());
      std::uint64_t n = 0;
      const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
      return ec == std::errc() && ptr == digits.data() + digits.size() ? n : 0;
    }
    at = end + 1;
  }
  return 0;
}

std::uint64_t read_oom_kills(const std::string& dir) {
  if (dir.empty()) return 0;
  const int fd = ::open((dir + "/memory.events").c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return 0;
  char buf[1024];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  return n > 0 ? oom_kill_count(std::string_view(buf, static_cast<std::size_t>(n))) : 0;
}

}  // namespace pmx::daemon
