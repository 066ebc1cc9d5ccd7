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
  /// The socket for a listen() an instance asks for (Node's preload): the one bound already for
  /// this address, else a new one kept with the others. Port 0 is a port the kernel picks once
  /// per app: the index-th listen(0) of every instance shares it, as in Node's cluster.
  /// -1 and errno on failure.
  int socket_for(const config::ListenAddress& address, int index);
  /// Closes every socket and removes the Unix socket files it made.
  void close();

  bool bound() const { return !sockets_.empty(); }
  /// Whether one of the sockets is for this address (SO_REUSEPORT would let a second app of
  /// the same pmxd bind it too: the supervisor asks first).
  bool has(const config::ListenAddress& address) const;
  /// The fds of the addresses bind() was given, in their order (fd 3 is the first); not the
  /// sockets socket_for() added.
  std::vector<int> fds() const;
  /// Those addresses ("*:3000").
  std::vector<std::string> texts() const;
  /// The first TCP port, for PORT; 0 when there is none.
  int first_port() const;

 private:
  struct Socket {
    config::ListenAddress address;  ///< as asked for (port 0 stays 0)
    int fd = -1;
    int index = 0;                  ///< which listen(0) of an instance, for port 0
  };
  std::vector<Socket> sockets_;  ///< bind()'s first, then socket_for()'s
  std::size_t configured_ = 0;   ///< how many of sockets_ bind() made
};

/// Opens one listening socket, close-on-exec: TCP with SO_REUSEADDR (a port comes back at
/// once after the app stopped) and SO_REUSEPORT (a pmxd after a crash binds beside the
/// sockets its predecessor's apps still serve from), "every address" as IPv6 with v6only off where the system has
/// IPv6 (else 0.0.0.0); a Unix socket replaces a stale socket file but not one a live server
/// answers on, and gets the address's mode. Backlog SOMAXCONN. -1 and errno on failure;
/// `step` names the failing call for the message.
int open_listener(const config::ListenAddress& address, const char*& step);

}  // namespace pmx::daemon
