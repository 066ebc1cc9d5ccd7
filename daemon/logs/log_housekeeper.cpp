// LogHousekeeper: a queue and one worker thread; gzip through zlib; retention by name order.
#include "daemon/logs/log_housekeeper.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <zlib.h>

#include <boost/asio/post.hpp>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <spdlog/spdlog.h>
#include <vector>

#include "config/rotated_logs.hpp"

namespace pmx::daemon {

namespace {
/// The worker runs at this niceness: compression yields to the apps and the loop.
constexpr int kNice = 10;
}  // namespace

std::string gzip_file(const SafeDir& dir, const std::string& from, const std::string& to) {
  PathError error;
  UniqueFd in = dir.open_file(from, O_RDONLY, 0, error);
  if (!in) return "cannot open " + from + ": " + error.message();
  std::string tmp;
  // Readable as the log itself was (0640), not as the umask would have it.
  UniqueFd out_fd = dir.create_temp(to + ".tmp", 0640, tmp, error);
  gzFile out = out_fd ? ::gzdopen(out_fd.get(), "wb6") : nullptr;
  if (!out) {
    if (out_fd) {
      dir.remove(tmp);
      return "cannot create " + to + ".tmp: " + std::strerror(errno);
    }
    return "cannot create " + to + ".tmp: " + error.message();
  }
  out_fd.release();  // gzclose closes it
  std::vector<char> buffer(128 * 1024);
  std::string failure;
  for (;;) {
    const ssize_t n = ::read(in.get(), buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      failure = "cannot read " + from + ": " + std::strerror(errno);
      break;
    }
    if (n == 0) break;
    errno = 0;
    if (::gzwrite(out, buffer.data(), static_cast<unsigned>(n)) != n) {
      int zerr = 0;
      failure = "cannot write " + tmp + ": " + (errno ? std::strerror(errno) : ::gzerror(out, &zerr));
      break;
    }
  }
  if (::gzclose(out) != Z_OK && failure.empty()) failure = "cannot write " + tmp + ": " + std::strerror(errno);
  if (failure.empty()) {
    if (auto ec = dir.rename(tmp, to, true)) failure = "cannot rename " + tmp + " to " + to + ": " + ec.message();
  }
  if (!failure.empty()) dir.remove(tmp);
  return failure;
}

LogHousekeeper::LogHousekeeper(boost::asio::io_context& io) : io_(io) {}

LogHousekeeper::~LogHousekeeper() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void LogHousekeeper::after_rotation(SafeDir dir, std::string path, std::string rotated, bool compress, int retain) {
  if (!compress && retain <= 0) return;
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back(Job{std::move(dir), std::move(path), std::move(rotated), compress, retain});
    if (!worker_.joinable()) worker_ = std::thread([this] { run(); });
  }
  wake_.notify_one();
}

void LogHousekeeper::wait_idle() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [this] { return jobs_.empty() && !busy_; });
}

void LogHousekeeper::run() {
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), kNice);
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stopping, and nothing left to do
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    busy_ = true;
    lock.unlock();
    work(job);
    lock.lock();
    busy_ = false;
    if (jobs_.empty()) idle_.notify_all();
  }
}

void LogHousekeeper::work(const Job& job) {
  const std::string folder = job.dir.path() == "/" ? "/" : job.dir.path() + "/";
  if (job.compress) {
    if (std::string error = gzip_file(job.dir, job.rotated, job.rotated + ".gz"); !error.empty()) {
      report(true, "log rotation of " + job.path + ": " + error + "; the rotated file is kept uncompressed");
    } else {
      job.dir.remove(job.rotated);
    }
  }
  if (job.retain <= 0) return;
  std::vector<std::string> rotated = job.dir.regular_files();
  std::erase_if(rotated, [&](const std::string& name) { return !config::is_rotated_of(job.path, name); });
  if (rotated.size() <= static_cast<std::size_t>(job.retain)) return;
  std::sort(rotated.begin(), rotated.end());  // the names sort in time order
  const std::size_t excess = rotated.size() - static_cast<std::size_t>(job.retain);
  for (std::size_t i = 0; i < excess; ++i) {
    if (auto ec = job.dir.remove(rotated[i]); ec && ec != std::errc::no_such_file_or_directory) {
      report(true, "log retention of " + job.path + ": cannot remove " + folder + rotated[i] + ": " + ec.message());
    }
  }
}

void LogHousekeeper::report(bool error, std::string text) {
  boost::asio::post(io_, [error, text = std::move(text)] {
    if (error) spdlog::warn("{}", text);
    else spdlog::info("{}", text);
  });
}

}  // namespace pmx::daemon
