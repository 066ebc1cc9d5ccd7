// Listeners: the listening sockets pmxd binds once for a cluster-mode app and hands to every
// instance as fds 3.. (systemd's socket-activation protocol: LISTEN_FDS, LISTEN_PID,
// LISTEN_FDNAMES), or to a Node instance's preload on request; who they are bound as, and the
// Unix socket files removed only while they are still the ones pmxd made.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config/listen_address.hpp"
#include "config/result.hpp"
#include "daemon/listeners/reuseport_balancer.hpp"
#include "daemon/process/spawn.hpp"

namespace pmx::daemon {

/// A Unix socket file pmxd made: the folder it was made in (held open, so that a folder swapped
/// for a symbolic link afterwards changes nothing), its name there and its identity. remove()
/// unlinks that name only while it still is that socket (same device and inode), relative to
/// the held folder, as the user it was made as: never a file pmxd did not make.
class SocketFile {
 public:
  SocketFile() = default;
  SocketFile(int dir_fd, std::string name, dev_t dev, ino_t ino, std::optional<Credentials> made_as)
      : dir_fd_(dir_fd), name_(std::move(name)), dev_(dev), ino_(ino), made_as_(std::move(made_as)) {}
  SocketFile(SocketFile&& other) noexcept { *this = std::move(other); }
  SocketFile& operator=(SocketFile&& other) noexcept;
  SocketFile(const SocketFile&) = delete;
  SocketFile& operator=(const SocketFile&) = delete;
  /// Closes the folder; the file stays.
  ~SocketFile();

  /// Unlinks the file if it is still the socket made, then closes the folder.
  void remove();

 private:
  int dir_fd_ = -1;
  std::string name_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  std::optional<Credentials> made_as_;
};

/// Owned by the App, beside its instances: the sockets outlive every instance's restart and
/// reload (connections wait in the kernel's queue while an instance is replaced) and are
/// closed when the app has no instance left that is not stopped, or is deleted; the port is
/// free right after. Sockets are non-blocking and close-on-exec in pmxd; the spawn dups them
/// into place.
///
/// Who binds: the sockets of the app's configuration (`port`, `listen`: the operator's grant)
/// are bound as pmxd; the socket files are then given to the app's user (`owner`). Sockets a
/// Node instance asks for (socket_for) are made and bound with the app user's filesystem
/// identity (fsuid, fsgid, groups): a Unix socket only where that user may create a file, owned
/// by it, and a TCP socket whose SO_REUSEPORT group is that user's, not root's. An app has at
/// most kMaxSockets sockets (addresses).
///
/// Slots: where pmxd may load a ReuseportBalancer (CAP_BPF), each TCP address that a second
/// slot asks for has one SO_REUSEPORT socket per instance slot (NODE_APP_INSTANCE), made on the
/// slot's first request,
/// and the balancer hands new connections to the serving slots in turn; a replacement (restart,
/// reload) takes its slot's socket. Elsewhere, and for Unix sockets, every slot gets the
/// address's one shared socket, as before.
class Listeners {
 public:
  /// The most sockets one app holds (its configured ones included): beyond, socket_for fails
  /// with EMFILE.
  static constexpr std::size_t kMaxSockets = 64;

  Listeners() = default;
  Listeners(const Listeners&) = delete;
  Listeners& operator=(const Listeners&) = delete;
  ~Listeners() { close(); }

  /// Binds and listens on every address, or on none: when one fails, those bound by this call
  /// are closed and the error names the address ("127.0.0.1:3000: Address already in use").
  /// owner (the app's user when pmxd is root and runs the app as another user): Unix socket
  /// files are chowned to it, and their folder is opened without following symbolic links.
  /// Already bound to the same addresses: nothing to do.
  Result<bool> bind(const std::vector<config::ListenAddress>& addresses, const Credentials* owner = nullptr);
  /// The socket for a listen() an instance asks for (Node's preload): the one bound already for
  /// this address, else a new one, made as user (nullptr: as pmxd) and kept with the others.
  /// Port 0 is a port the kernel picks once per app: the index-th listen(0) of every instance
  /// shares it, as in Node's cluster. -1 and errno on failure (EMFILE: kMaxSockets reached).
  /// slot: the instance's; balanced TCP addresses give each slot its own socket.
  int socket_for(const config::ListenAddress& address, int index, const Credentials* user = nullptr, int slot = 0);
  /// Which slots get new connections (serving: their run accepts) and which keep their sockets
  /// without (held: a run is on its way, or stopping). The sockets of every other slot are
  /// closed, after the balancer stopped handing them connections; the kernel moves those
  /// still queued in them to a serving slot. No effect without balancer.
  void set_slots(const std::set<int>& serving, const std::set<int>& held);
  /// Whether a ReuseportBalancer spreads the connections of this address's slots (else they
  /// share one socket).
  bool balanced(const config::ListenAddress& address) const;
  /// Daemon-wide, set by main before the loop runs (`pmxd --no-balancer`, PMX_NO_BALANCER=1):
  /// false, every address is one shared socket, as without CAP_BPF.
  static void set_balancing(bool on) { balancing_ = on; }
  /// Closes every socket and removes the Unix socket files it made (those still its own).
  void close();

  bool bound() const { return !sockets_.empty(); }
  std::size_t size() const { return sockets_.size(); }
  /// Whether one of the sockets is for this address (SO_REUSEPORT would let a second app of
  /// the same pmxd bind it too: the supervisor asks first).
  bool has(const config::ListenAddress& address) const;
  /// The fds of the addresses bind() was given, for the instance in slot, in their order (fd 3
  /// is the first); not the sockets socket_for() added.
  std::vector<int> fds(int slot = 0);
  /// Those addresses ("*:3000").
  std::vector<std::string> texts() const;
  /// The first TCP port, for PORT; 0 when there is none.
  int first_port() const;

 private:
  struct Socket {
    config::ListenAddress address;  ///< as asked for (port 0 stays 0)
    int fd = -1;                    ///< the shared socket; balanced: one of the slots' (-1: none left)
    int index = 0;                  ///< which listen(0) of an instance, for port 0
    SocketFile file;                ///< a Unix socket's file
    std::optional<Credentials> made_as;  ///< the user the sockets are made as (none: pmxd)
    int port = 0;                   ///< the port bound (port 0's, once the kernel picked it)
    std::unique_ptr<ReuseportBalancer> balancer;  ///< TCP, from a second slot on, where it could be loaded
    bool balance_tried = false;     ///< balance() ran (it is tried once)
    int first_slot = -1;            ///< unbalanced: the first slot that asked
    std::map<int, int> slots;       ///< balanced: slot -> its socket
    std::vector<int> active;        ///< balanced: the sockets the balancer hands out
  };
  /// The socket of s for slot: made now if s is balanced and the slot has none (the shared
  /// one, or any of s's, if that fails).
  int slot_fd(Socket& s, int slot);
  /// Balances a TCP address's connections, if pmxd may load the balancer; tried once.
  bool balance(Socket& s);
  /// Hands s's connections to the sockets of the serving slots, in turn.
  void take_turns(Socket& s);
  std::vector<Socket> sockets_;  ///< bind()'s first, then socket_for()'s
  std::size_t configured_ = 0;   ///< how many of sockets_ bind() made
  std::set<int> serving_;        ///< the slots set serving by the last set_slots
  static inline bool balancing_ = true;
};

/// Whether a and b name one socket: the same host and port, or the same path (a Unix socket's
/// mode is not part of its name).
bool same_socket(const config::ListenAddress& a, const config::ListenAddress& b);

}  // namespace pmx::daemon
