// NotifySocket: the one sd_notify socket pmxd owns for every app (systemd's notify protocol:
// the app finds the path in NOTIFY_SOCKET and sends datagrams of KEY=value lines, such as
// READY=1 or STATUS=...). The kernel stamps each datagram with the sender's pid, uid and gid,
// so a sender can speak only for itself.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "config/result.hpp"

namespace pmx::daemon {

/// One sd_notify datagram, parsed. pid, uid and gid are the sender's, filled in by the kernel
/// (0 from parse_notify, which sees no credentials).
struct Notification {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  bool ready = false;      ///< a line READY=1 (READY=0 or READY=yes is not ready)
  bool stopping = false;   ///< a line STOPPING=1
  bool reloading = false;  ///< a line RELOADING=1
  std::optional<std::string> status;  ///< STATUS=..., the text after the first '=' as it is
  std::optional<pid_t> main_pid;      ///< MAINPID=n with n a positive pid; absent otherwise
  /// Every assignment, known keys or not (WATCHDOG, ERRNO, EXTEND_TIMEOUT_USEC, FDSTORE, ...).
  std::map<std::string, std::string> fields;
};

/// Where pmxd binds its notify socket so that every app it runs can reach it. pmxd as root
/// (which may run apps as other users, and they cannot pass the 0700 home) with a runtime_dir
/// (main gives /run/pmx): runtime_dir/notify-<uid>-<64-bit hash of the home>.sock, one name per
/// home, so that adopted apps find the socket again after a crash or an update. The folder is
/// made (0711) if missing and used only when it is a real folder (not a link) owned by root that
/// no one else can write; then note is "". Otherwise home/notify.sock, and for root pmxd note
/// says why apps run as another user cannot reach it.
std::string notify_socket_path(const std::string& home, const std::string& runtime_dir, std::string& note);

/// Parses a datagram as systemd does: lines split at '\n'; a line is KEY=value, split at its
/// first '='; lines without '=' or with an empty key are ignored, and so are lines that are not
/// valid UTF-8 (everything kept can go into JSON as it is). When a key comes twice the first
/// assignment counts (systemd reads STATUS= and MAINPID= from the first such line). A datagram
/// holding a NUL byte is ignored as a whole, as systemd ignores it: the result is empty.
/// Never throws for any input (bar std::bad_alloc).
Notification parse_notify(std::string_view datagram);

/// The datagram socket at a path the caller gives (pmxd: $PMX_HOME/notify.sock), read on the
/// io_context as datagrams come, one callback per datagram that carries at least one
/// assignment. Bounded: nothing is queued in pmxd (the kernel's socket buffer is the only
/// queue; when it is full, senders get EAGAIN or block, as with systemd); at most
/// kBurst datagrams are read per wake-up, then other handlers get their turn.
///
/// Dropped, never delivered, and counted: datagrams over kMaxDatagram bytes (truncated by
/// the kernel), datagrams without credentials (SO_PASSCRED makes the kernel attach them, so
/// this should not happen) or with pid 0 (a sender in a pid namespace pmxd cannot see), and
/// datagrams without an assignment (empty, garbage, a NUL byte).
/// File descriptors sent along (sd_notify's FDSTORE=1) are closed at once: pmx keeps no fd
/// store.
///
/// Mode 0666: an app may run as another user (the `uid` option) and must be able to send.
/// That gives nothing away: a datagram tells only about its sender, whose pid the kernel
/// writes (only a process with CAP_SYS_ADMIN may claim another pid), and the supervisor takes
/// it only from a pid that belongs to one of its instances. The folder the socket sits in must
/// let that user through too (search permission): see notify_socket_path and docs/security.md.
class NotifySocket {
 public:
  using Handler = std::function<void(const Notification&)>;

  static constexpr std::size_t kMaxDatagram = 4096;
  static constexpr int kBurst = 64;

  struct Counters {
    std::uint64_t delivered = 0;     ///< datagrams handed to the callback
    std::uint64_t truncated = 0;     ///< over kMaxDatagram bytes
    std::uint64_t uncredited = 0;    ///< no SCM_CREDENTIALS, or pid 0
    std::uint64_t empty = 0;         ///< no assignment in them
    std::uint64_t fds_closed = 0;    ///< descriptors sent along, closed
    std::uint64_t failed = 0;        ///< the handler threw
  };

  /// The handler runs on the io_context; it may call close() but must not destroy the
  /// NotifySocket. The read loop is the boundary: an exception from the handler is logged and
  /// that datagram dropped (counted in failed), and reading goes on.
  NotifySocket(boost::asio::io_context& io, Handler on_notify);
  ~NotifySocket();
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  /// Binds at path (absolute, at most 107 bytes: sun_path's size) and starts reading. A socket
  /// file already there is replaced (one daemon per home: it was left by a pmxd that is gone,
  /// or by the one this one replaces); any other kind of file is an error. The error names
  /// the path. Already open: closed first.
  Result<bool> open(const std::string& path);
  /// Stops reading, closes the socket and removes its file, if the file at the path is still
  /// the one this socket made (same device and inode).
  void close();

  bool is_open() const { return fd_ >= 0; }
  const std::string& path() const { return path_; }
  const Counters& counters() const { return counters_; }

 private:
  void wait();
  void read_burst();

  Handler on_notify_;
  boost::asio::posix::stream_descriptor stream_;
  int fd_ = -1;
  std::string path_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  Counters counters_;
};

}  // namespace pmx::daemon
