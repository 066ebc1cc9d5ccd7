// The event loop's crash-only rule: an exception that escapes a handler ends the loop with an
// error code; the loop is never run again with that handler's work silently un-armed.
#include <catch2/catch.hpp>

#include <stdexcept>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "daemon/event_loop.hpp"

using pmx::daemon::kEventLoopFailed;
using pmx::daemon::run_event_loop;

TEST_CASE("event loop: a loop whose handlers all return ends with 0", "[event_loop]") {
  boost::asio::io_context io{1};
  int ran = 0;
  boost::asio::post(io, [&] { ++ran; });
  boost::asio::post(io, [&] { ++ran; });
  CHECK(run_event_loop(io) == 0);
  CHECK(ran == 2);
}

TEST_CASE("event loop: an exception escaping a handler ends the loop with kEventLoopFailed, not running on half alive",
          "[event_loop][regression]") {
  boost::asio::io_context io{1};
  bool after = false;
  boost::asio::post(io, [] { throw std::runtime_error("a handler's bug"); });
  boost::asio::post(io, [&] { after = true; });
  CHECK(run_event_loop(io) == kEventLoopFailed);
  CHECK_FALSE(after);  // the loop was not run again after the throw
}
