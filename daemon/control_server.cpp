// ControlServer and Session: accept, check the peer, read lines, dispatch, write replies in order.
#include "daemon/control_server.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/write.hpp>
#include <deque>
#include <spdlog/spdlog.h>

namespace pmx::daemon {

namespace asio = boost::asio;
using local = asio::local::stream_protocol;

/// One client connection. Replies are queued and written one at a time, in order.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(local::socket socket, const ControlServer& server)
      : socket_(std::move(socket)), server_(server) {}

  void start() { read(); }

  void send(std::string line, std::function<void()> after) {
    line += '\n';
    queue_.push_back({std::move(line), std::move(after)});
    if (queue_.size() == 1) write_next();
  }

  /// Sends a last error and closes once it is written.
  void fail_and_close(const ipc::RpcError& error) {
    closing_ = true;
    send(ipc::encode_error(nullptr, error), nullptr);
  }

 private:
  struct Outgoing {
    std::string bytes;
    std::function<void()> after;
  };

  void read() {
    socket_.async_read_some(asio::buffer(buf_), [self = shared_from_this()](
                                                    const boost::system::error_code& ec, std::size_t n) {
      if (ec) return;  // the client left; pending replies are dropped with us
      self->lines_.append(std::string_view(self->buf_.data(), n));
      while (auto line = self->lines_.next_line()) {
        if (line->empty()) continue;
        self->handle(*line);
      }
      if (self->lines_.overflowed()) {
        self->fail_and_close(ipc::make_error(ipc::ErrorCode::TooLarge,
                                             "message larger than " +
                                                 std::to_string(ipc::kMaxMessageBytes) + " bytes"));
        return;
      }
      if (!self->closing_) self->read();
    });
  }

  void handle(const std::string& line) {
    auto decoded = ipc::decode_request(line);
    if (auto* err = std::get_if<ipc::RpcError>(&decoded)) {
      send(ipc::encode_error(nullptr, *err), nullptr);
      return;
    }
    const auto& req = std::get<ipc::Request>(decoded);
    server_.dispatch(req, Reply(weak_from_this(), req.id));
  }

  void write_next() {
    asio::async_write(socket_, asio::buffer(queue_.front().bytes),
                      [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                        auto after = std::move(self->queue_.front().after);
                        self->queue_.pop_front();
                        if (after) after();
                        if (ec) {
                          self->queue_.clear();
                          return;
                        }
                        if (!self->queue_.empty()) {
                          self->write_next();
                        } else if (self->closing_) {
                          boost::system::error_code ignored;
                          self->socket_.shutdown(local::socket::shutdown_both, ignored);
                          self->socket_.close(ignored);
                        }
                      });
  }

  local::socket socket_;
  const ControlServer& server_;
  ipc::LineBuffer lines_{ipc::kMaxMessageBytes};
  std::array<char, 16384> buf_{};
  std::deque<Outgoing> queue_;
  bool closing_ = false;
};

void Reply::ok(const ipc::json& result) const { ok_then(result, nullptr); }

void Reply::ok_text(const std::string& result_json) const {
  auto s = session_.lock();
  if (s && id_) s->send(ipc::encode_result_text(*id_, result_json), nullptr);
}

void Reply::ok_then(const ipc::json& result, std::function<void()> after) const {
  auto s = session_.lock();
  if (!s || !id_) {
    if (after) after();
    return;
  }
  s->send(ipc::encode_result(*id_, result), std::move(after));
}

void Reply::fail(const ipc::RpcError& error) const {
  auto s = session_.lock();
  if (!s || !id_) return;
  s->send(ipc::encode_error(*id_, error), nullptr);
}

ControlServer::ControlServer(asio::io_context& io, const std::string& path)
    : io_(io), acceptor_(io), path_(path) {
  ::unlink(path.c_str());  // a stale socket of a dead daemon; the pid lock proved none is alive
  acceptor_.open(local());
  ::fcntl(acceptor_.native_handle(), F_SETFD, FD_CLOEXEC);
  // Created 0600 from the start: no window in which another user could connect.
  mode_t old = ::umask(0177);
  boost::system::error_code ec;
  acceptor_.bind(local::endpoint(path), ec);
  ::umask(old);
  if (ec) throw boost::system::system_error(ec, "bind " + path);
  acceptor_.listen(asio::socket_base::max_listen_connections);
}

ControlServer::~ControlServer() { close(); }

void ControlServer::start() { accept(); }

void ControlServer::close() {
  if (!acceptor_.is_open()) return;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  ::unlink(path_.c_str());
}

void ControlServer::accept() {
  acceptor_.async_accept([this](const boost::system::error_code& ec, local::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) {
      ::fcntl(socket.native_handle(), F_SETFD, FD_CLOEXEC);
      ucred cred{};
      socklen_t len = sizeof cred;
      bool allowed = ::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
                     (cred.uid == ::geteuid() || cred.uid == 0);
      if (allowed) {
        std::make_shared<Session>(std::move(socket), *this)->start();
      } else {
        spdlog::warn("refused a client with uid {} (pid {}): only uid {} and root may connect",
                     cred.uid, cred.pid, ::geteuid());
      }
    } else {
      spdlog::warn("accept failed: {}, ignoring", ec.message());
    }
    if (acceptor_.is_open()) accept();
  });
}

void ControlServer::dispatch(const ipc::Request& req, const Reply& reply) const {
  ++requests_;
  auto it = handlers_.find(req.method);
  if (it == handlers_.end()) {
    reply.fail(ipc::make_error(ipc::ErrorCode::MethodNotFound, "unknown method '" + req.method + "'"));
    return;
  }
  if (!req.params.is_object()) {
    reply.fail(ipc::make_error(ipc::ErrorCode::InvalidParams, "params must be an object"));
    return;
  }
  try {
    it->second(req.params, reply);
  } catch (const std::exception& e) {
    // A handler bug must not unwind the loop: the client gets an internal error.
    spdlog::error("method {} failed: {}", req.method, e.what());
    reply.fail(ipc::make_error(ipc::ErrorCode::InternalError, std::string("internal error: ") + e.what()));
  }
}

}  // namespace pmx::daemon
