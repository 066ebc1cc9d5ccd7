// The event loop: run, and on an escaped exception log it at critical and give up (crash-only).
#include "daemon/event_loop.hpp"

#include <exception>

#include <spdlog/spdlog.h>

namespace pmx::daemon {

int run_event_loop(boost::asio::io_context& io) {
  try {
    io.run();
    return 0;
  } catch (const std::exception& e) {
    spdlog::critical("uncaught exception in the event loop: {}; pmxd exits {} (its apps keep running, the next "
                     "pmxd adopts them)",
                     e.what(), kEventLoopFailed);
  } catch (...) {
    spdlog::critical("uncaught exception of an unknown type in the event loop; pmxd exits {} (its apps keep "
                     "running, the next pmxd adopts them)",
                     kEventLoopFailed);
  }
  return kEventLoopFailed;
}

}  // namespace pmx::daemon
