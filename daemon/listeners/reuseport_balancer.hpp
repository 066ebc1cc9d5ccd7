// ReuseportBalancer: round-robin over the SO_REUSEPORT sockets of one address (one per
// instance slot of a cluster-mode app), by a small eBPF program the kernel runs for each new
// connection, and the move of a closed socket's queued connections to a socket still in use.
#pragma once

#include <cstddef>
#include <memory>
#include <system_error>
#include <vector>

namespace pmx::daemon {

/// The kernel picks the socket of a SO_REUSEPORT group by a hash of the connection's addresses
/// and ports: 64 connections over 2 sockets land 32 ± 4 (and one socket's share is fixed for a
/// keep-alive connection's life). This hands them out in turn instead: an eBPF program of type
/// BPF_PROG_TYPE_SK_REUSEPORT, attached to the group, keeps a counter and picks the next of
/// the sockets set active (a BPF_MAP_TYPE_REUSEPORT_SOCKARRAY). It is attached as
/// BPF_SK_REUSEPORT_SELECT_OR_MIGRATE: when a socket of the group is closed, the connections
/// waiting in its queue (accepted by the kernel, not yet by the app) go to an active socket
/// instead of being reset, whatever net.ipv4.tcp_migrate_req says (Linux 5.14 and later).
///
/// With no active socket, or a socket the program cannot pick, the kernel's hash decides, as
/// without a program. Loading needs CAP_BPF (root here: kernel.unprivileged_bpf_disabled is
/// set on every current distribution): create() fails otherwise, and the caller keeps one
/// shared socket instead.
///
/// Holds three descriptors (the program and its two maps, close-on-exec); the program stays
/// attached to the group until its last socket is closed, also when this is destroyed.
class ReuseportBalancer {
 public:
  /// The most sockets one balancer hands out in turn (instance slots of one app).
  static constexpr std::size_t kMaxSockets = 1024;

  /// Loads the program and attaches it to the group of fd, a listening SO_REUSEPORT TCP socket.
  static std::unique_ptr<ReuseportBalancer> create(int fd, std::error_code& ec);

  ~ReuseportBalancer();
  ReuseportBalancer(const ReuseportBalancer&) = delete;
  ReuseportBalancer& operator=(const ReuseportBalancer&) = delete;

  /// The sockets new connections go to, in turn (listening sockets of the group; at most
  /// kMaxSockets are used). Empty: the kernel's hash over the whole group.
  std::error_code set_active(const std::vector<int>& fds);
  std::size_t active() const { return written_.size(); }

 private:
  ReuseportBalancer() = default;
  int prog_ = -1;
  int control_ = -1;  ///< array map, one entry: {next, count}
  int sockets_ = -1;  ///< reuseport sockarray: index -> socket
  std::vector<int> written_;  ///< the sockets in entries 0.. of sockets_, in order
};

}  // namespace pmx::daemon
