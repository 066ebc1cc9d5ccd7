// ControlServer: the Unix socket, peer checks, framing, and one verb -> handler table.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "ipc/framing.hpp"
#include "ipc/protocol.hpp"

namespace pmx::daemon {

class Session;

/// Answers one request, now or later. Copyable; answering twice or after the client left
/// is a no-op. A notification (no id) gets no answer.
class Reply {
 public:
  Reply(std::weak_ptr<Session> session, std::optional<ipc::json> id)
      : session_(std::move(session)), id_(std::move(id)) {}
  void ok(const ipc::json& result) const;
  /// Answers with a result already encoded as JSON text.
  void ok_text(const std::string& result_json) const;
  void fail(const ipc::RpcError& error) const;
  /// Answers, then runs after once the reply has been written (or the client is gone).
  void ok_then(const ipc::json& result, std::function<void()> after) const;

 private:
  std::weak_ptr<Session> session_;
  std::optional<ipc::json> id_;
};

using Handler = std::function<void(const ipc::json& params, const Reply& reply)>;

class ControlServer {
 public:
  /// Binds path (removing a stale socket), mode 0600, close-on-exec. Throws on failure:
  /// called at startup, before the daemon detaches, so errors reach the terminal.
  ControlServer(boost::asio::io_context& io, const std::string& path);
  ~ControlServer();

  void on(const std::string& method, Handler handler) { handlers_[method] = std::move(handler); }
  void start();
  /// Stops accepting and removes the socket file; live sessions finish their replies.
  void close();

  /// Routes one decoded request (used by Session).
  void dispatch(const ipc::Request& request, const Reply& reply) const;

  /// How many requests were dispatched so far (the supervisor trims memory after activity).
  std::uint64_t requests() const { return requests_; }

 private:
  void accept();

  boost::asio::io_context& io_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  std::string path_;
  std::map<std::string, Handler> handlers_;
  mutable std::uint64_t requests_ = 0;
};

}  // namespace pmx::daemon
