// NodeChannel: Node's JSON-lines IPC with SCM_RIGHTS handles, over a non-blocking socketpair.
#include "daemon/listeners/node_channel.hpp"
#include "daemon/listeners/passed_fds.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>

#include <spdlog/spdlog.h>

namespace pmx::daemon {
namespace {

constexpr int kMaxHandleRetries = 3;

}  // namespace

Result<std::pair<std::shared_ptr<NodeChannel>, int>> NodeChannel::open(boost::asio::io_context& io,
                                                                       OnMessage on_message) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return Error{std::string("cannot make the Node IPC channel: ") + std::strerror(errno)};
  }
  auto channel = std::make_shared<NodeChannel>(io, fds[0], std::move(on_message));
  return std::pair{channel, fds[1]};
}

NodeChannel::NodeChannel(boost::asio::io_context& io, int fd, OnMessage on_message)
    : socket_(io, fd), on_message_(std::move(on_message)) {}

void NodeChannel::start() {
  socket_.non_blocking(true);
  wait_readable();
}

void NodeChannel::close() {
  for (auto& o : out_) {
    if (o.fd >= 0) ::close(o.fd);
  }
  out_.clear();
  boost::system::error_code ignored;
  socket_.close(ignored);
}

void NodeChannel::wait_readable() {
  socket_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                     [self = shared_from_this()](const boost::system::error_code& ec) {
                       if (ec || !self->socket_.is_open()) return;
                       if (self->read_some()) self->wait_readable();
                     });
}

bool NodeChannel::read_some() {
  char buffer[16384];
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)];
  for (int reads = 0; reads < 16; ++reads) {
    iovec iov{buffer, sizeof buffer};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(socket_.native_handle(), &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (n > 0) close_passed_fds(msg);  // an app has nothing to hand pmxd
    if (n <= 0) {
      close();  // the app closed its end (or exited): nothing more to say
      return false;
    }
    in_.append(buffer, static_cast<std::size_t>(n));
    std::size_t start = 0;
    for (std::size_t nl; (nl = in_.find('\n', start)) != std::string::npos; start = nl + 1) {
      handle_line(std::string_view(in_).substr(start, nl - start));
      if (!socket_.is_open()) return false;  // closed by a handler
    }
    in_.erase(0, start);
    if (in_.size() > kMaxLine) {
      close();
      return false;
    }
  }
  return true;
}

void NodeChannel::handle_line(std::string_view line) {
  if (line.empty()) return;
  const NodeMessage msg = decode_node_message(line);
  switch (msg.kind) {
    case NodeMessage::Kind::HandleAck: return handle_ack(true);
    case NodeMessage::Kind::HandleNack: return handle_ack(false);
    case NodeMessage::Kind::Invalid:
      if (ignored_++ == 0) {
        spdlog::warn("{} a line on its Node channel {}, ignoring it (later ones are counted, not logged)", label_, msg.error);
      }
      return;
    default: break;
  }
  // The read loop's boundary: whatever one message does to its handler, the channel goes on.
  try {
    on_message_(*this, msg);
  } catch (const std::exception& e) {
    ++ignored_;
    spdlog::error("{} handling a {} message of its Node channel failed: {}; ignoring it", label_, to_string(msg.kind), e.what());
  }
}

void NodeChannel::send(const Json& msg) {
  Outgoing out;
  out.bytes = msg.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
  enqueue(std::move(out));
}

void NodeChannel::send_handle(const Json& msg, int fd) {
  Outgoing out;
  out.bytes = Json{{"cmd", "NODE_HANDLE"}, {"type", "net.Native"}, {"msg", msg}}.dump() + "\n";
  out.fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  // Undeliverable (no fd to send, or three NACKs): the request gets an error instead.
  out.error_reply = msg;
  out.error_reply["errno"] = -EIO;
  if (out.fd < 0) {
    out.error_reply["errno"] = -errno;
    return send(out.error_reply);
  }
  enqueue(std::move(out));
}

void NodeChannel::enqueue(Outgoing out) {
  if (!socket_.is_open()) {
    if (out.fd >= 0) ::close(out.fd);
    return;
  }
  if (out_.size() >= kMaxQueued) {
    ++dropped_;
    if (out.fd >= 0) ::close(out.fd);
    return;
  }
  out_.push_back(std::move(out));
  flush();
}

void NodeChannel::flush() {
  while (!out_.empty() && !awaiting_ack_ && !writing_ && socket_.is_open()) {
    Outgoing& o = out_.front();
    iovec iov{o.bytes.data() + o.sent, o.bytes.size() - o.sent};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    if (o.fd >= 0 && o.sent == 0) {
      // The fd rides on the line's first byte; the rest of a partial write goes without it.
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      std::memcpy(CMSG_DATA(c), &o.fd, sizeof o.fd);
    }
    const ssize_t n = ::sendmsg(socket_.native_handle(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      writing_ = true;
      socket_.async_wait(boost::asio::posix::stream_descriptor::wait_write,
                         [self = shared_from_this()](const boost::system::error_code& ec) {
                           self->writing_ = false;
                           if (!ec) self->flush();
                         });
      return;
    }
    if (n < 0) {
      close();  // the app's end is gone
      return;
    }
    o.sent += static_cast<std::size_t>(n);
    if (o.sent < o.bytes.size()) continue;
    if (o.fd >= 0) {
      awaiting_ack_ = true;  // the queue waits for Node's ACK of this handle
      return;
    }
    out_.pop_front();
  }
}

void NodeChannel::handle_ack(bool ok) {
  if (!awaiting_ack_ || out_.empty()) return;
  awaiting_ack_ = false;
  Outgoing& o = out_.front();
  if (ok || o.retries >= kMaxHandleRetries) {
    ::close(o.fd);
    Json error = ok ? Json() : std::move(o.error_reply);
    out_.pop_front();
    if (!error.is_null()) {
      Outgoing reply;
      reply.bytes = error.dump() + "\n";
      out_.push_front(std::move(reply));
    }
  } else {
    // NACK: the line arrived without its fd; the same line and fd again, as Node does.
    ++o.retries;
    o.sent = 0;
  }
  flush();
}

}  // namespace pmx::daemon
