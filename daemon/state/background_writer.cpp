// BackgroundWriter: the worker, and the way back to the loop.
#include "daemon/state/background_writer.hpp"

#include <boost/asio/post.hpp>

namespace pmx::daemon {

BackgroundWriter::BackgroundWriter(boost::asio::io_context& io) : io_(io) {}

BackgroundWriter::~BackgroundWriter() {
  alive_.reset();
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void BackgroundWriter::run(Job job) {
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back(std::move(job));
    if (!worker_.joinable()) worker_ = std::thread([this, alive = std::weak_ptr<bool>(alive_)] { work(alive); });
  }
  wake_.notify_one();
}

void BackgroundWriter::work(const std::weak_ptr<bool>& alive) {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, and every job done
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    Then then = job();
    if (then) {
      boost::asio::post(io_, [alive, then = std::move(then)] {
        if (alive.lock()) then();
      });
    }
  }
}

}  // namespace pmx::daemon
