// LogHousekeeper: a queue and one worker thread; gzip through zlib; retention by name order.
#include "daemon/log_housekeeper.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <zlib.h>

#include <boost/asio/post.hpp>
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

std::string gzip_file(const std::string& from, const std::string& to) {
  const int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return "cannot open " + from + ": " + std::strerror(errno);
  const std::string tmp = to + ".tmp";
  // Readable as the log itself was (0640), not as the umask would have it.
  const int out_fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  gzFile out = out_fd < 0 ? nullptr : ::gzdopen(out_fd, "wb6");
  if (!out) {
    const std::string why = std::strerror(errno);
    if (out_fd >= 0) ::close(out_fd);
    ::close(in);
    return "cannot create " + tmp + ": " + why;
  }
  std::vector<char> buffer(128 * 1024);
  std::string error;
  for (;;) {
    const ssize_t n = ::read(in, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = "cannot read " + from + ": " + std::strerror(errno);
      break;
    }
    if (n == 0) break;
    errno = 0;
    if (::gzwrite(out, buffer.data(), static_cast<unsigned>(n)) != n) {
      int zerr = 0;
      error = "cannot write " + tmp + ": " + (errno ? std::strerror(errno) : ::gzerror(out, &zerr));
      break;
    }
  }
  ::close(in);
  if (::gzclose(out) != Z_OK && error.empty()) error = "cannot write " + tmp + ": " + std::strerror(errno);
  if (error.empty() && ::rename(tmp.c_str(), to.c_str()) != 0) error = "cannot rename " + tmp + ": " + std::strerror(errno);
  if (!error.empty()) ::unlink(tmp.c_str());
  return error;
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

void LogHousekeeper::after_rotation(std::string path, std::string rotated, bool compress, int retain) {
  if (!compress && retain <= 0) return;
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back(Job{std::move(path), std::move(rotated), compress, retain});
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
  if (job.compress) {
    if (std::string error = gzip_file(job.rotated, job.rotated + ".gz"); !error.empty()) {
      report(true, "log rotation of " + job.path + ": " + error + "; the rotated file is kept uncompressed");
    } else {
      ::unlink(job.rotated.c_str());
    }
  }
  if (job.retain <= 0) return;
  const std::vector<std::string> rotated = config::rotated_files(job.path);
  if (rotated.size() <= static_cast<std::size_t>(job.retain)) return;
  const std::size_t excess = rotated.size() - static_cast<std::size_t>(job.retain);
  for (std::size_t i = 0; i < excess; ++i) {
    if (::unlink(rotated[i].c_str()) != 0 && errno != ENOENT) {
      report(true, "log retention of " + job.path + ": cannot remove " + rotated[i] + ": " + std::strerror(errno));
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
