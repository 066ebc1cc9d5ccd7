// The daemon's event loop: io_context::run() with the crash-only rule for what escapes a handler.
#pragma once

#include <boost/asio/io_context.hpp>

namespace pmx::daemon {

/// pmxd's exit code when a handler let an exception escape (EX_SOFTWARE, an internal error).
constexpr int kEventLoopFailed = 70;

/// Runs io until it runs out of work or is stopped: 0. No handler may throw (untrusted input is
/// read through helpers that return errors, and each read loop catches at its own boundary and
/// re-arms); whatever still escapes is a bug. It is logged at critical and the loop is not run
/// again: kEventLoopFailed is returned for pmxd to exit with. Running again would go on with
/// the handler that threw never re-armed (a read loop, the reaper), half alive; exiting is
/// crash-only: the apps keep running, and the next pmxd adopts them from the state file.
int run_event_loop(boost::asio::io_context& io);

}  // namespace pmx::daemon
