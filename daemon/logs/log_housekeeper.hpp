// LogHousekeeper: the work a log rotation leaves behind, done off the event loop: compressing
// the rotated file (gzip, through zlib) and deleting the oldest rotated files past retention.
// One worker thread, started at the first job, at low CPU priority; the daemon never waits for
// it, and it never touches the daemon's state: what it has to say is posted to the loop.
//
// The rotated file's folder may be the app's own: every file is reached through the folder
// the rotation held (SafePath), never by path, and the compressed copy is first written under
// a name nobody can guess (O_EXCL), so no link planted there is ever followed.
#pragma once

#include <boost/asio/io_context.hpp>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "daemon/state/safe_path.hpp"

namespace pmx::daemon {

class LogHousekeeper {
 public:
  explicit LogHousekeeper(boost::asio::io_context& io);
  /// Finishes the jobs queued, then stops the worker.
  ~LogHousekeeper();
  LogHousekeeper(const LogHousekeeper&) = delete;
  LogHousekeeper& operator=(const LogHousekeeper&) = delete;

  /// path was just rotated to rotated (a name in dir, path's folder): gzip it to rotated.gz
  /// when compress, then keep the newest `retain` rotated files of path (0: keep all).
  void after_rotation(SafeDir dir, std::string path, std::string rotated, bool compress, int retain);

  /// Blocks until every queued job is done (tests, shutdown).
  void wait_idle();

 private:
  struct Job {
    SafeDir dir;
    std::string path;
    std::string rotated;
    bool compress;
    int retain;
  };
  void run();
  void work(const Job& job);
  /// Posts a line for the daemon's log to the loop.
  void report(bool error, std::string text);

  boost::asio::io_context& io_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::deque<Job> jobs_;
  bool busy_ = false;
  bool stopping_ = false;
  std::thread worker_;
};

/// gzips the regular file from of dir into to (written under to + ".tmp.<random>", then renamed,
/// so a half-written .gz never shows and no planted name is followed; an existing to is kept);
/// empty on success, else what went wrong.
std::string gzip_file(const SafeDir& dir, const std::string& from, const std::string& to);

}  // namespace pmx::daemon
