// ServiceNotifier: pmxd's own side of systemd's notify protocol, when a Type=notify unit runs
// it: READY=1 once the apps are adopted and resurrected, STOPPING=1 when it begins stopping
// them, and WATCHDOG=1 every half WATCHDOG_USEC while its event loop turns. Without
// NOTIFY_SOCKET in the environment it does nothing.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <string>
#include <string_view>

namespace pmx::daemon {

class ServiceNotifier {
 public:
  /// Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID, and removes them (and systemd's
  /// LISTEN_* variables) from the environment: they are pmxd's, not its apps'.
  explicit ServiceNotifier(boost::asio::io_context& io);
  ~ServiceNotifier();
  ServiceNotifier(const ServiceNotifier&) = delete;
  ServiceNotifier& operator=(const ServiceNotifier&) = delete;

  bool active() const { return fd_ >= 0; }
  /// The watchdog interval systemd asked for (zero: none).
  std::chrono::microseconds watchdog() const { return watchdog_; }

  /// READY=1 with a STATUS line, and starts the watchdog pings.
  void ready(std::string_view status);
  /// STOPPING=1.
  void stopping();
  /// Sends one datagram of KEY=value lines; false when it could not be sent.
  bool send(std::string_view text);

 private:
  void ping();

  int fd_ = -1;
  std::string address_;  ///< NOTIFY_SOCKET as given ('@' for an abstract socket)
  std::chrono::microseconds watchdog_{0};
  boost::asio::steady_timer timer_;
};

}  // namespace pmx::daemon
