// BackgroundWriter: one worker thread for the work that waits (the dump of `pmx save` is
// fsynced, and a slow or failing disk can take seconds; `update` runs the new binary to ask its
// protocol): the loop hands the work over and goes on serving; the worker hands back what to do
// next, which runs on the loop.
// Jobs run one at a time in the order given, so two saves never interleave. The worker never
// touches the daemon's state: its jobs get copies of what they write.
#pragma once

#include <boost/asio/io_context.hpp>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

namespace pmx::daemon {

class BackgroundWriter {
 public:
  /// What a job returns: run on the loop once the job is done (nullptr: nothing).
  using Then = std::function<void()>;
  using Job = std::function<Then()>;

  explicit BackgroundWriter(boost::asio::io_context& io);
  /// Finishes the jobs queued (a save being written is written), then stops the worker; what
  /// they return is not run any more.
  ~BackgroundWriter();
  BackgroundWriter(const BackgroundWriter&) = delete;
  BackgroundWriter& operator=(const BackgroundWriter&) = delete;

  /// Queues job for the worker (started at the first job); what it returns runs on the loop.
  void run(Job job);

 private:
  /// The worker's loop; alive expires when the writer goes (then nothing more reaches the loop).
  void work(const std::weak_ptr<bool>& alive);

  boost::asio::io_context& io_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace pmx::daemon
