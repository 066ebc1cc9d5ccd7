// Heap trim: malloc_trim after large replies, at most once a second.
#include "daemon/control/heap_trim.hpp"

#include <malloc.h>

#include <boost/asio/post.hpp>

#include <chrono>

namespace pmx::daemon {

void trim_heap_after_reply(const boost::asio::any_io_executor& executor, std::size_t bytes) {
  using Clock = std::chrono::steady_clock;
  // pmxd's one thread: the last trim and whether one is posted are the daemon's alone.
  static Clock::time_point last_trim{};
  static bool posted = false;
  if (bytes < kTrimAfterReplyBytes || posted || Clock::now() - last_trim < std::chrono::seconds(1)) return;
  posted = true;
  boost::asio::post(executor, [] {
    ::malloc_trim(0);
    last_trim = Clock::now();
    posted = false;
  });
}

}  // namespace pmx::daemon
