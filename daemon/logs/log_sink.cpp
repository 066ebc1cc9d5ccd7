// LogSink: appends to one file; logs an episode of trouble once, counts what it drops; notices
// when the file was removed or replaced.
#include "daemon/logs/log_sink.hpp"

#include "config/cron.hpp"
#include "config/paths.hpp"
#include "config/rotated_logs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <spdlog/spdlog.h>

namespace pmx::daemon {

namespace {
/// While the file cannot be opened, try again at most this often (not once per line).
constexpr std::chrono::seconds kReopenEvery{1};
/// How often the sink checks that its path still names the file it writes.
constexpr std::chrono::seconds kIdentityEvery{1};
/// How often a write checks that the file was not removed.
constexpr std::chrono::milliseconds kRemovedEvery{1};
/// A write after this long without one checks the file's identity at once.
constexpr std::chrono::milliseconds kPause{100};

void report_with_spdlog(bool error, const std::string& text) {
  if (error) spdlog::error("{}", text);
  else spdlog::info("{}", text);
}
}  // namespace

LogSink::LogSink(std::string path, Report report, std::string fallback)
    : path_(std::move(path)),
      report_(report ? std::move(report) : Report(report_with_spdlog)),
      fallback_(std::move(fallback)),
      writing_to_(path_) {
  ensure_open();
}

LogSink::~LogSink() { close_file(); }

void LogSink::close_file() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  dir_ = SafeDir();
}

bool LogSink::ensure_open() {
  if (fd_ >= 0) return true;
  const auto now = std::chrono::steady_clock::now();
  if (now < next_open_try_) return false;
  next_open_try_ = now + kReopenEvery;
  PathError error;
  if (!open_file(error)) {
    fail(error.message(), 0);
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

bool LogSink::open_file(PathError& error) {
  auto open_at = [this](const std::string& path, PathError& why) {
    SafeLocation where = locate(path, true, why);
    if (!where.dir.valid()) return false;
    // Read and write: `pmx logs` reads its tail from the file written, not by path again (a
    // file pmxd may only write is written all the same).
    UniqueFd fd = where.dir.open_file(where.name, O_RDWR | O_APPEND | O_CREAT, 0640, why);
    if (!fd && why.code == EACCES) fd = where.dir.open_file(where.name, O_WRONLY | O_APPEND | O_CREAT, 0640, why);
    if (!fd) return false;
    fd_ = fd.release();
    dir_ = std::move(where.dir);
    name_ = std::move(where.name);
    writing_to_ = path;
    return true;
  };
  if (open_at(path_, error)) {
    if (!refusal_.empty()) {
      report_(false, "log file " + path_ + " is written again (its lines went to " + fallback_ + " meanwhile)");
      refusal_.clear();
    }
    return true;
  }
  if (!error.refused() || fallback_.empty()) return false;
  if (refusal_.empty()) {
    report_(true, "log file " + path_ + ": " + error.message() + "; its lines go to " + fallback_ +
                      " until it can be written safely");
  }
  refusal_ = error.refusal;
  return open_at(fallback_, error);
}

std::string LogSink::error() const {
  if (failing_) return error_;
  if (!refusal_.empty()) return "refused: " + refusal_ + "; its lines go to " + fallback_;
  return {};
}

bool LogSink::still_ours(std::chrono::steady_clock::time_point now) {
  // Removed: known from the open file itself within a millisecond (not once per write: at
  // full speed the daemon writes many times a millisecond, and every system call counts).
  struct stat st {};
  if (now - last_removed_check_ >= kRemovedEvery) {
    last_removed_check_ = now;
    if (::fstat(fd_, &st) == 0 && st.st_nlink == 0 && S_ISREG(st.st_mode)) return false;
  }
  // Moved away or replaced (an external logrotate, or an app that put a link in its place):
  // checked at the first write after a pause, and once a second while the app writes: the
  // name in the held folder, and whether the path's folder is still that folder (a folder
  // moved away). Any new file is reached by a new walk. Lines written in between are in the
  // moved file, not lost.
  const bool after_pause = now - last_write_ >= kPause;
  last_write_ = now;
  const bool due = now >= next_identity_check_;
  if (!due && !after_pause) return true;
  if (due) next_identity_check_ = now + kIdentityEvery;
  if (!refusal_.empty()) return !due;  // on the fallback: the path is tried again once a second
  if (dir_.stat(name_, st) || st.st_dev != dev_ || st.st_ino != ino_) return false;
  const auto slash = writing_to_.rfind('/');
  return slash == std::string::npos || dir_.is_at(slash == 0 ? "/" : writing_to_.substr(0, slash));
}

void LogSink::fail(const std::string& why, std::size_t lost) {
  dropped_ += lost;
  dropped_in_episode_ += lost;
  if (failing_) return;
  failing_ = true;
  error_ = why;
  // A disk at its limit fails, takes a short write, fails again: a failure within a second of
  // the last recovery continues that episode in pmx.log (its bytes are counted all the same).
  if (std::chrono::steady_clock::now() - recovered_at_ < std::chrono::seconds(1)) return;
  report_(true, "log file " + path_ + ": " + error_ + "; dropping its output until it can be written (counted in describe)");
}

void LogSink::write(const char* data, std::size_t len, const void* writer) {
  const auto now = std::chrono::steady_clock::now();
  if (fd_ >= 0 && !still_ours(now)) {
    if (refusal_.empty()) report_(false, "log file " + path_ + " was removed or replaced, writing a new one");
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
  // Rotation happens between lines only: the lines that fit go to this file, the rest to the
  // next. A line longer than log_max_size fills a file of its own.
  const std::uint64_t max = rotation_.max_size;
  while (max && !dangling_ && size_ + len > max) {
    const std::string_view chunk(data, len);
    const std::size_t room = size_ < max ? static_cast<std::size_t>(max - size_) : 0;
    std::size_t cut = room ? chunk.substr(0, room).rfind('\n') : std::string_view::npos;
    if (cut == std::string_view::npos && size_ == 0) cut = std::min(chunk.find('\n'), len - 1);
    if (cut != std::string_view::npos) {
      if (!write_all(data, cut + 1)) return;
      data += cut + 1;
      len -= cut + 1;
    }
    if (len == 0 || !rotate()) break;  // a file that cannot be renamed keeps growing
    if (!ensure_open()) {
      dropped_ += len;
      dropped_in_episode_ += len;
      return;
    }
  }
  if (len == 0 || !write_all(data, len)) return;
  dangling_ = data[len - 1] == '\n' ? nullptr : writer;
}

bool LogSink::write_all(const char* data, std::size_t len) {
  while (len > 0) {
    ssize_t n = ::write(fd_, data, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      fail(std::strerror(n < 0 ? errno : ENOSPC), len);
      return false;
    }
    data += n;
    len -= static_cast<std::size_t>(n);
    size_ += static_cast<std::uint64_t>(n);
  }
  if (failing_) {
    failing_ = false;
    report_(false, "log file " + path_ + ": writing again, " + std::to_string(dropped_in_episode_) + " bytes were dropped");
    dropped_in_episode_ = 0;
    error_.clear();
    recovered_at_ = std::chrono::steady_clock::now();
  }
  return true;
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

LogSink::Position LogSink::position() {
  if (!ensure_open()) return {};
  return {static_cast<std::uint64_t>(dev_), static_cast<std::uint64_t>(ino_), size_};
}

bool LogSink::roll_back(const Position& p) {
  if (!p.valid() || !ensure_open()) return false;
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return false;
  if (static_cast<std::uint64_t>(st.st_dev) == p.dev && static_cast<std::uint64_t>(st.st_ino) == p.ino) {
    if (static_cast<std::uint64_t>(st.st_size) < p.size) return false;
    if (static_cast<std::uint64_t>(st.st_size) > p.size && ::ftruncate(fd_, static_cast<off_t>(p.size)) != 0) return false;
    size_ = p.size;
    dangling_ = nullptr;
    return true;
  }
  // The write rotated the file: the rotated one (found by its identity among the log's rotated
  // files) is cut back, and the file open now, made during that write, holds only its bytes.
  for (const auto& path : config::rotated_files(writing_to_)) {
    const std::string name = path.substr(path.rfind('/') + 1);
    struct stat rst {};
    if (dir_.stat(name, rst) || static_cast<std::uint64_t>(rst.st_dev) != p.dev ||
        static_cast<std::uint64_t>(rst.st_ino) != p.ino || static_cast<std::uint64_t>(rst.st_size) < p.size) {
      continue;
    }
    PathError why;
    UniqueFd rotated = dir_.open_file(name, O_WRONLY | O_NONBLOCK, 0, why);
    if (!rotated || ::ftruncate(rotated.get(), static_cast<off_t>(p.size)) != 0) return false;
    if (::ftruncate(fd_, 0) != 0) return false;
    size_ = 0;
    dangling_ = nullptr;
    return true;
  }
  return false;
}

bool LogSink::continue_line(const void* writer) {
  if (!ensure_open() || size_ == 0) return false;
  char last = '\n';
  if (::pread(fd_, &last, 1, static_cast<off_t>(size_ - 1)) != 1 || last == '\n') return false;
  dangling_ = writer;
  return true;
}

void LogSink::set_rotation(const config::LogRotation& rotation, LogHousekeeper* housekeeper) {
  rotation_ = rotation;
  housekeeper_ = housekeeper;
  if (!housekeeper) interval_timer.reset();
}

bool LogSink::rotate() {
  if (fd_ < 0 || size_ == 0) return false;
  struct stat st {};
  if (dir_.stat(name_, st) || st.st_dev != dev_ || st.st_ino != ino_) {
    // The name no longer holds this file (removed, moved, replaced): a new one is made; the
    // name is not renamed, whatever it holds now.
    close_file();
    next_open_try_ = {};
    return false;
  }
  // Renamed within the held folder, never over an existing name, and stamped after every
  // earlier rotation: several rotations in one millisecond (a burst with a small max_size)
  // take the next milliseconds, and a stamp freed by retention is never taken again, so the
  // names keep the rotations' order and retention keeps the newest.
  using std::chrono::milliseconds;
  if (!last_rotated_) {
    last_rotated_ = std::chrono::system_clock::time_point{};
    for (const auto& file : config::rotated_files(writing_to_)) {
      if (auto stamp = config::rotated_stamp(file)) last_rotated_ = std::max(*last_rotated_, *stamp);
    }
  }
  std::chrono::system_clock::time_point t = std::chrono::floor<milliseconds>(std::chrono::system_clock::now());
  t = std::max(t, *last_rotated_ + milliseconds(1));
  std::string rotated;
  std::error_code ec;
  for (int attempt = 0; attempt < 1000; ++attempt, t += milliseconds(1)) {
    const std::string full = config::rotated_name(writing_to_, t);
    rotated = full.substr(full.rfind('/') + 1);
    ec = dir_.rename(name_, rotated, true);
    if (ec != std::errc::file_exists) break;
  }
  if (!ec) last_rotated_ = t;
  if (ec) {
    // The file is gone (someone removed it): a new one is made; nothing to keep.
    if (ec != std::errc::no_such_file_or_directory) {
      report_(true, "log file " + writing_to_ + ": cannot rotate it to " + rotated + ": " + ec.message());
    }
    close_file();
    next_open_try_ = {};
    return false;
  }
  SafeDir folder = std::move(dir_);
  const std::string rotated_of = writing_to_;
  close_file();
  next_open_try_ = {};
  ensure_open();
  if (housekeeper_) housekeeper_->after_rotation(std::move(folder), rotated_of, rotated, rotation_.compress, rotation_.retain);
  return true;
}

LogSinks::LogSinks(boost::asio::io_context& io, std::string fallback_dir)
    : io_(io), fallback_dir_(std::move(fallback_dir)), housekeeper_(io) {}

LogSinks::~LogSinks() {
  for_each([](LogSink& sink) { sink.set_rotation(sink.rotation(), nullptr); });
}

void LogSinks::configure(const std::shared_ptr<LogSink>& sink, const config::LogRotation& rotation) {
  sink->interval_timer.reset();
  sink->set_rotation(rotation, &housekeeper_);
  if (!rotation.interval.empty()) arm_interval(sink);
}

void LogSinks::arm_interval(const std::shared_ptr<LogSink>& sink) {
  auto schedule = config::CronSchedule::parse(sink->rotation().interval);  // validated with the options
  const auto now = std::chrono::system_clock::now();
  const auto next = schedule ? schedule->next(now) : std::nullopt;
  if (!next) {
    spdlog::warn("log file {}: rotate_interval '{}' matches no date, ignoring it", sink->path(), sink->rotation().interval);
    return;
  }
  if (!sink->interval_timer) sink->interval_timer = std::make_unique<boost::asio::steady_timer>(io_);
  sink->interval_timer->expires_after(std::chrono::ceil<std::chrono::milliseconds>(*next - now));
  sink->interval_timer->async_wait([this, weak = std::weak_ptr<LogSink>(sink), at = *next](const boost::system::error_code& ec) {
    auto sink = weak.lock();
    if (ec || !sink) return;
    // The timer counts steady time, the schedule the wall clock's: early (the clock was set
    // back), wait for the rest.
    if (std::chrono::system_clock::now() + std::chrono::milliseconds(500) >= at && sink->rotate()) {
      spdlog::info("log file {}: rotated (rotate_interval '{}')", sink->path(), sink->rotation().interval);
    }
    arm_interval(sink);
  });
}

std::shared_ptr<LogSink> LogSinks::get(const std::string& path, const config::LogRotation& rotation) {
  std::erase_if(sinks_, [](const auto& entry) { return entry.second.expired(); });
  if (auto it = sinks_.find(path); it != sinks_.end()) {
    if (auto sink = it->second.lock()) return sink;
  }
  // The fallback of a refused path: one file per path in pmx's own folder ("%2F" for '/').
  std::string fallback = fallback_dir_.empty() ? std::string() : fallback_dir_ + "/" + config::file_safe_name(path);
  auto sink = std::make_shared<LogSink>(path, LogSink::Report{}, std::move(fallback));
  configure(sink, rotation);
  sinks_[path] = sink;
  return sink;
}

void LogSinks::add(const std::shared_ptr<LogSink>& sink, const config::LogRotation& rotation) {
  configure(sink, rotation);
  sinks_[sink->path()] = sink;
}

void LogSinks::for_each(const std::function<void(LogSink&)>& f) {
  for (auto& [path, weak] : sinks_) {
    if (auto sink = weak.lock()) f(*sink);
  }
}

}  // namespace pmx::daemon
