// ControlServer: the Unix socket, peer checks, the session registry and its limits, one
// verb -> handler table, and notifications to subscribed clients.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "daemon/control/outgoing_queue.hpp"
#include "daemon/control/session.hpp"
#include "ipc/framing.hpp"
#include "ipc/protocol.hpp"

namespace pmx::daemon {

/// Every bound of the control server; docs/protocol.md ("Connections and limits") describes
/// what happens at each.
struct ControlLimits {
  /// At this many connections, a new one closes the idle session quiet longest, or is refused
  /// with an error when every session is owed a reply or follows something.
  std::size_t max_sessions = 256;
  /// Slots that following sessions (subscribed, or following logs) may not take, so that a
  /// request (`pmx kill` among them) always finds one.
  std::size_t reserved_sessions = 16;
  QueueLimits queue;               ///< per session
  /// Each session may hold this much of an unfinished request without counting against...
  std::size_t partial_free_bytes = 16 * 1024;
  /// ...the bytes of unfinished requests all sessions together may hold beyond their free share.
  std::size_t partial_budget_bytes = 16 * 1024 * 1024;
  std::chrono::milliseconds accept_backoff_min{100};  ///< first pause after accept runs out of fds
  std::chrono::milliseconds accept_backoff_max{1000};
};

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
  /// Answers with a result written in parts (a `logs` tail of megabytes): next produces the
  /// result's JSON text part after part, each asked for once the one before is written (see
  /// Session::send_stream). The client reads one ordinary reply line.
  void ok_stream(Session::NextPart next) const;
  /// Answers, then runs after once the reply has been written (or the client is gone).
  void ok_then(const ipc::json& result, std::function<void()> after) const;
  /// The session the request came from, while it is connected (for notify()).
  std::shared_ptr<Session> session() const { return session_.lock(); }

 private:
  std::weak_ptr<Session> session_;
  std::optional<ipc::json> id_;
};

using Handler = std::function<void(const ipc::json& params, const Reply& reply)>;

class ControlServer {
 public:
  /// The topic on which the server publishes `server.sessions` (and the supervisor, later,
  /// state changes).
  static constexpr std::string_view kEventsTopic = "events";

  /// Binds path (removing a stale socket), mode 0600, close-on-exec. Throws on failure:
  /// called at startup, before the daemon detaches, so errors reach the terminal.
  ControlServer(boost::asio::io_context& io, const std::string& path, ControlLimits limits = {});
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  void on(const std::string& method, Handler handler) { handlers_[method] = std::move(handler); }
  /// Runs after a session has closed and left the registry (one listener: the log feed);
  /// nullptr removes it.
  void on_session_closed(std::function<void(SessionId)> listener) { on_closed_ = std::move(listener); }
  /// Declares a topic clients may subscribe to (`subscribe` refuses unknown ones).
  void add_topic(std::string topic) { topics_.insert(std::move(topic)); }
  void start();
  /// Stops accepting and removes the socket file; live sessions finish their replies.
  void close();

  /// Routes one decoded request (used by Session).
  void dispatch(const ipc::Request& request, const Reply& reply);

  /// Sends a JSON-RPC notification to one session; false when it is gone. Never blocks: a
  /// session that is not reading skips it (counted, see OutgoingQueue).
  bool notify(SessionId session, std::string_view method, const ipc::json& params);
  /// Sends a notification to every session subscribed to topic; returns how many there are.
  std::size_t publish(std::string_view topic, std::string_view method, const ipc::json& params);

  /// Whether session may follow (subscribe, follow logs): it already does, or fewer than
  /// max_sessions - reserved_sessions sessions follow. Marks it as following when it may.
  bool may_follow(Session& session);
  /// The error a follow request gets when may_follow() says no.
  ipc::RpcError too_many_followers() const;
  /// Idle sessions closed to make room for new connections, since start.
  std::uint64_t evicted() const { return evicted_; }

  /// How many requests were dispatched so far (the supervisor trims memory after activity).
  std::uint64_t requests() const { return requests_; }
  std::size_t session_count() const { return sessions_.size(); }
  const ControlLimits& limits() const { return limits_; }

 private:
  friend class Session;

  void accept();
  void pause_accept();
  void admit(boost::asio::local::stream_protocol::socket socket);
  void refuse(boost::asio::local::stream_protocol::socket socket, const ipc::RpcError& error);
  /// At the connection cap: closes the idle session that costs its client least (never sent a
  /// request, then quiet longest); false when no session is idle.
  bool evict_idle();
  /// Called by a session when it closes.
  void forget(SessionId id);
  /// Moves a session's charge of partial-request bytes from `from` to `to`; false when the
  /// budget cannot cover the increase (nothing is charged then).
  bool recharge_partial(std::size_t from, std::size_t to);
  void subscribe(const ipc::json& params, const Reply& reply, bool on);
  void publish_sessions(std::string_view change, SessionId id);

  boost::asio::local::stream_protocol::acceptor acceptor_;
  boost::asio::steady_timer accept_timer_;
  std::string path_;
  ControlLimits limits_;
  std::map<std::string, Handler> handlers_;
  std::set<std::string, std::less<>> topics_;
  std::map<SessionId, std::shared_ptr<Session>> sessions_;
  std::function<void(SessionId)> on_closed_;
  SessionId next_id_ = 1;
  std::uint64_t requests_ = 0;
  std::size_t partial_charged_ = 0;
  std::chrono::milliseconds accept_backoff_;
  bool accepting_ = false;
  bool accept_paused_ = false;  ///< out of descriptors: waiting for the timer or a session to close
  bool accept_episode_ = false; ///< accept failing (out of descriptors): logged once
  bool full_episode_ = false;   ///< refusing connections: max_sessions reached, none idle
  bool evict_episode_ = false;  ///< evicting idle sessions (logged once per daemon)
  std::uint64_t evicted_ = 0;
  bool budget_episode_ = false; ///< closing clients: partial-request budget exhausted
};

}  // namespace pmx::daemon
