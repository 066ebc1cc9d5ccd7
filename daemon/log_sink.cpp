// LogSink: appends to one file; logs an episode of trouble once, counts what it drops; notices
// when the file was removed or replaced.
#include "daemon/log_sink.hpp"

#include "config/paths.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <spdlog/spdlog.h>

namespace pmx::daemon {

namespace {
/// While the file cannot be opened, try again at most this often (not once per line).
constexpr std::chrono::seconds kReopenEvery{1};
/// How often the sink checks that its path still names the file it writes.
constexpr std::chrono::seconds kIdentityEvery{1};
/// A write after this long without one checks the file's identity at once.
constexpr std::chrono::milliseconds kPause{100};

void report_with_spdlog(bool error, const std::string& text) {
  if (error) spdlog::error("{}", text);
  else spdlog::info("{}", text);
}
}  // namespace

LogSink::LogSink(std::string path, Report report)
    : path_(std::move(path)), report_(report ? std::move(report) : Report(report_with_spdlog)) {
  ensure_open();
}

LogSink::~LogSink() { close_file(); }

void LogSink::close_file() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
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
  struct stat st {};
  if (::fstat(fd_, &st) == 0) {
    dev_ = st.st_dev;
    ino_ = st.st_ino;
    size_ = static_cast<std::uint64_t>(st.st_size);
  }
  next_identity_check_ = now + kIdentityEvery;
  dangling_ = nullptr;
  return true;
}

bool LogSink::still_ours(std::chrono::steady_clock::time_point now) {
  // Removed: known at once from the open file itself (no line goes into a removed file).
  struct stat st {};
  if (::fstat(fd_, &st) == 0 && st.st_nlink == 0 && S_ISREG(st.st_mode)) return false;
  // Moved away or replaced (an external logrotate): checked by path once a second while the
  // app writes, and at the first write after a pause. Lines written in between are in the
  // moved file, not lost.
  const bool after_pause = now - last_write_ >= kPause;
  last_write_ = now;
  if (now < next_identity_check_ && !after_pause) return true;
  next_identity_check_ = now + kIdentityEvery;
  if (::stat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_) return true;
  return false;
}

void LogSink::fail(int err, std::size_t lost) {
  dropped_ += lost;
  dropped_in_episode_ += lost;
  if (failing_) return;
  failing_ = true;
  error_ = std::strerror(err);
  report_(true, "log file " + path_ + ": " + error_ + "; dropping its output until it can be written (counted in describe)");
}

void LogSink::write(const char* data, std::size_t len, const void* writer) {
  const auto now = std::chrono::steady_clock::now();
  if (fd_ >= 0 && !still_ours(now)) {
    report_(false, "log file " + path_ + " was removed or replaced, writing a new one");
    close_file();
    next_open_try_ = {};
  }
  if (!ensure_open()) {
    dropped_ += len;
    dropped_in_episode_ += len;
    return;
  }
  if (dangling_ && dangling_ != writer) {
    // Another writer's line was left unterminated: end it, so lines never run together.
    dangling_ = nullptr;
    write("\n", 1, nullptr);
  }
  const bool ends_line = len > 0 && data[len - 1] == '\n';
  while (len > 0) {
    ssize_t n = ::write(fd_, data, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      fail(n < 0 ? errno : ENOSPC, len);
      return;
    }
    data += n;
    len -= static_cast<std::size_t>(n);
    size_ += static_cast<std::uint64_t>(n);
  }
  dangling_ = ends_line ? nullptr : writer;
  if (failing_) {
    failing_ = false;
    report_(false, "log file " + path_ + ": writing again, " + std::to_string(dropped_in_episode_) + " bytes were dropped");
    dropped_in_episode_ = 0;
    error_.clear();
  }
}

void LogSink::reopen() {
  close_file();
  next_open_try_ = {};
  ensure_open();
}

bool LogSink::truncate() {
  if (!ensure_open()) return false;
  if (::ftruncate(fd_, 0) != 0) return false;
  size_ = 0;
  dangling_ = nullptr;
  return true;
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

void LogSinks::for_each(const std::function<void(LogSink&)>& f) {
  for (auto& [path, weak] : sinks_) {
    if (auto sink = weak.lock()) f(*sink);
  }
}

}  // namespace pmx::daemon
