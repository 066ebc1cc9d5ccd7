// LogSink: appends to one file; logs an episode of trouble once, counts what it drops.
#include "daemon/log_sink.hpp"

#include "config/paths.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <spdlog/spdlog.h>

namespace pmx::daemon {

namespace {
/// While the file cannot be opened, try again at most this often (not once per line).
constexpr std::chrono::seconds kReopenEvery{1};
}  // namespace

LogSink::LogSink(std::string path) : path_(std::move(path)) { ensure_open(); }

LogSink::~LogSink() {
  if (fd_ >= 0) ::close(fd_);
}

bool LogSink::ensure_open() {
  if (fd_ >= 0) return true;
  const auto now = std::chrono::steady_clock::now();
  if (now < next_open_try_) return false;
  next_open_try_ = now + kReopenEvery;
  fd_ = config::open_creating_folders(path_, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd_ < 0) {
    fail(errno, 0);
    return false;
  }
  return true;
}

void LogSink::fail(int err, std::size_t lost) {
  dropped_ += lost;
  dropped_in_episode_ += lost;
  if (failing_) return;
  failing_ = true;
  error_ = std::strerror(err);
  spdlog::error("log file {}: {}; dropping its output until it can be written (counted in describe)", path_, error_);
}

void LogSink::write(const char* data, std::size_t len) {
  if (!ensure_open()) {
    dropped_ += len;
    dropped_in_episode_ += len;
    return;
  }
  while (len > 0) {
    ssize_t n = ::write(fd_, data, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      fail(n < 0 ? errno : ENOSPC, len);
      return;
    }
    data += n;
    len -= static_cast<std::size_t>(n);
  }
  if (failing_) {
    failing_ = false;
    spdlog::info("log file {}: writing again, {} bytes were dropped", path_, dropped_in_episode_);
    dropped_in_episode_ = 0;
    error_.clear();
  }
}

std::shared_ptr<LogSink> LogSinks::get(const std::string& path) {
  std::erase_if(sinks_, [](const auto& entry) { return entry.second.expired(); });
  if (auto it = sinks_.find(path); it != sinks_.end()) {
    if (auto sink = it->second.lock()) return sink;
  }
  auto sink = std::make_shared<LogSink>(path);
  sinks_[path] = sink;
  return sink;
}

}  // namespace pmx::daemon
