// Listeners: the listening sockets pmxd binds once for a cluster-mode app and hands to every
// instance as fds 3.. (systemd's socket-activation protocol: LISTEN_FDS, LISTEN_PID,
// LISTEN_FDNAMES).
#pragma once

#include <string>
#include <vector>

#include "config/listen_address.hpp"
#include "config/result.hpp"

namespace pmx::daemon {

/// Owned by the App, beside its instances: the sockets outlive every instance's restart and
/// reload (connections wait in the kernel's queue while an instance is replaced) and are
/// closed when the app has no instance left that is not stopped, or is deleted; the port is
/// free right after. Sockets are blocking (the app's accept() expects it) and close-on-exec in
/// pmxd; the spawn dups them into place.
class Listeners {
 public:
  Listeners() = default;
  Listeners(const Listeners&) = delete;
  Listeners& operator=(const Listeners&) = delete;
  ~Listeners() { close(); }

  /// Binds and listens on every address, or on none: when one fails, those bound by this call
  /// are closed and the error names the address ("127.0.0.1:3000: Address already in use").
  /// Already bound to the same addresses: nothing to do.
  Result<bool> bind(const std::vector<config::ListenAddress>& addresses);
  /// Closes every socket and removes the Unix socket files it made.
  void close();

  bool bound() const { return !sockets_.empty(); }
  /// The fds, in the order of the addresses (fd 3 is the first).
  std::vector<int> fds() const;
  /// The addresses as bound ("*:3000").
  std::vector<std::string> texts() const;
  /// The first TCP port, for PORT; 0 when there is none.
  int first_port() const;

 private:
  struct Socket {
    config::ListenAddress address;
    int fd = -1;
  };
  std::vector<Socket> sockets_;
};

/// Opens one listening socket, close-on-exec: TCP with SO_REUSEADDR (a port comes back at
/// once after the app stopped), "every address" as IPv6 with v6only off where the system has
/// IPv6 (else 0.0.0.0); a Unix socket replaces a stale socket file but not one a live server
/// answers on, and gets the address's mode. Backlog SOMAXCONN. -1 and errno on failure;
/// `step` names the failing call for the message.
int open_listener(const config::ListenAddress& address, const char*& step);

}  // namespace pmx::daemon
