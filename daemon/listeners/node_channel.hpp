// NodeChannel: the IPC channel pmxd gives a Node instance, in Node's own protocol
// (NODE_CHANNEL_FD): process.send() reaches pmxd, and pmxd hands listening sockets to the
// instance as handles.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "config/result.hpp"
#include "daemon/listeners/node_message.hpp"

namespace pmx::daemon {

/// One run of a Node instance has one channel: a socketpair whose other end Node opens as
/// NODE_CHANNEL_FD (JSON serialization: one JSON text per line). What pmxd reads:
///   "ready"                                       process.send('ready') (wait_ready)
///   {"cmd":"NODE_PMX","pmx":"listen",...}         the preload asks for a listening socket
///   {"cmd":"NODE_PMX","pmx":"listening",...}      a server of the instance listens
///   {"cmd":"NODE_HANDLE_ACK"} / NACK              Node core: a handle arrived / came without its fd
///   anything else                                 the app's own messages
/// What it sends: a socket as {"cmd":"NODE_HANDLE","type":"net.Native","msg":{...}} with the fd
/// in SCM_RIGHTS on the line's first byte (one fd per message, as libuv takes one per read);
/// replies and messages as plain lines. As Node's own sender does, everything sent after a
/// handle waits for that handle's ACK, so a line and its fd never part; a NACK resends the
/// handle, three times at most, then the request gets an error reply.
///
/// Untrusted: every line is decoded by decode_node_message (node_message.hpp), which checks
/// the nesting depth before parsing and every field's type before reading it; the handler gets
/// typed messages only. A line that is not JSON or is nested too deep is ignored and counted.
/// The read loop is the boundary: an exception from the handler is logged, that message is
/// dropped, and the channel goes on reading.
///
/// Bounded: a line longer than kMaxLine closes the channel (the app keeps running: Node
/// treats a closed channel as 'disconnect'); the outgoing queue holds at most kMaxQueued
/// messages, beyond which new ones are dropped and counted. Fds that arrive from the app are
/// closed. The channel never tells that the instance ended (a grandchild may hold fd 3): the
/// supervisor closes it when the leader exits.
class NodeChannel : public std::enable_shared_from_this<NodeChannel> {
 public:
  static constexpr std::size_t kMaxLine = kMaxNodeLine;
  static constexpr std::size_t kMaxQueued = 256;

  using Json = nlohmann::json;
  /// Called for each message read (handle ACKs and NACKs and invalid lines excepted), on the
  /// loop, with the channel it came on (a supervisor checks that it is still the instance's
  /// current one).
  using OnMessage = std::function<void(NodeChannel& channel, const NodeMessage& msg)>;

  /// Makes the socketpair. The channel keeps pmxd's end; the child's end (close-on-exec in
  /// pmxd) is returned for the spawn's fd plan, and the caller closes it after the spawn.
  static Result<std::pair<std::shared_ptr<NodeChannel>, int>> open(boost::asio::io_context& io, OnMessage on_message);

  NodeChannel(boost::asio::io_context& io, int fd, OnMessage on_message);

  /// Starts reading; the channel keeps itself alive while a read is pending.
  void start();
  /// Sends one message (a JSON line).
  void send(const Json& msg);
  /// Sends a listening socket (a dup of fd is taken now) with msg as its message.
  void send_handle(const Json& msg, int fd);
  /// Stops reading and writing and closes pmxd's end.
  void close();
  bool is_open() const { return socket_.is_open(); }
  /// Names the channel's instance in pmx.log ("api:0"); "" until set.
  void set_label(std::string label) { label_ = std::move(label); }
  /// Messages dropped because the queue was full.
  std::size_t dropped() const { return dropped_; }
  /// Lines read that were not JSON or were nested too deep, and messages whose handler failed.
  std::size_t ignored() const { return ignored_; }

 private:
  struct Outgoing {
    std::string bytes;
    int fd = -1;             ///< a handle's fd (a dup), closed once the handle is ACKed
    std::size_t sent = 0;
    int retries = 0;
    Json error_reply;        ///< sent instead when the handle cannot be delivered
  };

  void wait_readable();
  bool read_some();
  void handle_line(std::string_view line);
  void enqueue(Outgoing out);
  void flush();
  void handle_ack(bool ok);

  boost::asio::posix::stream_descriptor socket_;
  OnMessage on_message_;
  std::string in_;
  std::deque<Outgoing> out_;
  bool awaiting_ack_ = false;  ///< the front of out_ is a handle sent and not yet ACKed
  bool writing_ = false;
  std::size_t dropped_ = 0;
  std::size_t ignored_ = 0;
  std::string label_;
};

}  // namespace pmx::daemon
