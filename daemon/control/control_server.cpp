// ControlServer: accept within the limits, check the peer, keep the session registry,
// dispatch, subscribe and publish.
#include "daemon/control/control_server.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>

namespace pmx::daemon {

namespace asio = boost::asio;
using local = asio::local::stream_protocol;

namespace {

std::string encode_notification(std::string_view method, const ipc::json& params) {
  ipc::json note = {{"jsonrpc", "2.0"}, {"method", method}, {"params", params}};
  // Published text (log lines, later) need not be valid UTF-8: replace rather than throw.
  return note.dump(-1, ' ', false, ipc::json::error_handler_t::replace) + "\n";
}

bool out_of_resources(const boost::system::error_code& ec) {
  return ec == asio::error::no_descriptors || ec == boost::system::errc::too_many_files_open_in_system ||
         ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
}

}  // namespace

void Reply::ok(const ipc::json& result) const { ok_then(result, nullptr); }

void Reply::ok_text(const std::string& result_json) const {
  auto s = session_.lock();
  if (!s || !id_) return;
  s->answered();
  s->send_reply(ipc::encode_result_text(*id_, result_json), nullptr);
}

void Reply::ok_then(const ipc::json& result, std::function<void()> after) const {
  auto s = session_.lock();
  if (!s || !id_) {
    if (after) after();
    return;
  }
  s->answered();
  s->send_reply(ipc::encode_result(*id_, result), std::move(after));
}

void Reply::ok_stream(Session::NextPart next) const {
  auto s = session_.lock();
  if (!s || !id_) return;
  s->answered();
  std::string head = ipc::encode_result_text(*id_, "");
  head.pop_back();  // the envelope's '}': sent after the last part
  s->send_stream(std::move(head), "}", std::move(next));
}

void Reply::fail(const ipc::RpcError& error) const {
  auto s = session_.lock();
  if (!s || !id_) return;
  s->answered();
  s->send_reply(ipc::encode_error(*id_, error), nullptr);
}

ControlServer::ControlServer(asio::io_context& io, const std::string& path, ControlLimits limits)
    : acceptor_(io),
      accept_timer_(io),
      path_(path),
      limits_(limits),
      accept_backoff_(limits.accept_backoff_min) {
  topics_.emplace(kEventsTopic);
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

ControlServer::~ControlServer() {
  close();
  // Handlers still queued in the io_context may outlive us and hold sessions.
  for (auto& [id, session] : sessions_) session->detach();
  sessions_.clear();
}

void ControlServer::start() { accept(); }

void ControlServer::close() {
  accept_timer_.cancel();
  accept_paused_ = false;
  if (!acceptor_.is_open()) return;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  ::unlink(path_.c_str());
}

void ControlServer::accept() {
  if (accepting_ || accept_paused_ || !acceptor_.is_open()) return;
  accepting_ = true;
  acceptor_.async_accept([this](const boost::system::error_code& ec, local::socket socket) {
    accepting_ = false;
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      // The connection stays in the backlog, so retrying at once would fail at once: a spin.
      if (!accept_episode_) {
        accept_episode_ = true;
        if (out_of_resources(ec))
          spdlog::warn("out of file descriptors ({}), pausing accept", ec.message());
        else
          spdlog::warn("accept failed ({}), pausing accept", ec.message());
      }
      pause_accept();
      return;
    }
    if (accept_episode_) {
      accept_episode_ = false;
      accept_backoff_ = limits_.accept_backoff_min;
      spdlog::info("accepting connections again");
    }
    admit(std::move(socket));
    accept();
  });
}

void ControlServer::pause_accept() {
  accept_paused_ = true;
  accept_timer_.expires_after(accept_backoff_);
  accept_backoff_ = std::min(accept_backoff_ * 2, limits_.accept_backoff_max);
  accept_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    accept_paused_ = false;
    accept();
  });
}

void ControlServer::admit(local::socket socket) {
  ::fcntl(socket.native_handle(), F_SETFD, FD_CLOEXEC);
  ucred cred{};
  socklen_t len = sizeof cred;
  bool allowed = ::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
                 (cred.uid == ::geteuid() || cred.uid == 0);
  if (!allowed) {
    spdlog::warn("refused a client with uid {} (pid {}): only uid {} and root may connect",
                 cred.uid, cred.pid, ::geteuid());
    return;
  }
  if (sessions_.size() >= limits_.max_sessions && !evict_idle()) {
    if (!full_episode_) {
      full_episode_ = true;
      spdlog::warn("{} clients connected, the most allowed, and none idle: refusing new connections",
                   limits_.max_sessions);
    }
    refuse(std::move(socket),
           ipc::make_error(ipc::ErrorCode::Failed,
                           "too many connections (" + std::to_string(limits_.max_sessions) + ")",
                           {{"reason", "too_many_connections"}, {"limit", limits_.max_sessions}}));
    return;
  }
  if ((full_episode_ || evict_episode_) && sessions_.size() + limits_.reserved_sessions < limits_.max_sessions) {
    full_episode_ = evict_episode_ = false;
    spdlog::info("{} clients connected, below the most allowed ({}) again", sessions_.size(), limits_.max_sessions);
  }
  const SessionId id = next_id_++;
  auto session = std::make_shared<Session>(id, std::move(socket), *this);
  sessions_.emplace(id, session);
  session->start();
  publish_sessions("connected", id);
}

bool ControlServer::evict_idle() {
  // The session that costs its client least to lose: one that never sent a request before one
  // that did, then the one quiet longest. Followers and sessions owed a reply are never evicted.
  Session* victim = nullptr;
  for (auto& [id, session] : sessions_) {
    if (!session->idle()) continue;
    if (!victim || std::make_pair(session->ever_requested(), session->last_active()) <
                       std::make_pair(victim->ever_requested(), victim->last_active()))
      victim = session.get();
  }
  if (!victim) return false;
  if (!evict_episode_) {
    evict_episode_ = true;
    spdlog::warn("{} clients connected, the most allowed: closing the idle ones longest quiet to let new ones in",
                 limits_.max_sessions);
  }
  ++evicted_;
  victim->close_now_with(ipc::make_error(
      ipc::ErrorCode::Failed, "connection closed: idle while every connection slot was taken",
      {{"reason", "evicted_idle"}, {"limit", limits_.max_sessions}}));
  return true;
}

bool ControlServer::may_follow(Session& session) {
  if (session.follows()) return true;
  std::size_t following = 0;
  for (const auto& [id, s] : sessions_)
    if (s->follows()) ++following;
  if (following + limits_.reserved_sessions >= limits_.max_sessions) return false;
  session.set_follows();
  return true;
}

ipc::RpcError ControlServer::too_many_followers() const {
  return ipc::make_error(ipc::ErrorCode::Failed,
                         "too many clients follow already (" +
                             std::to_string(limits_.max_sessions - limits_.reserved_sessions) +
                             "): the remaining connections are kept for requests",
                         {{"reason", "too_many_followers"},
                          {"limit", limits_.max_sessions - limits_.reserved_sessions}});
}

void ControlServer::refuse(local::socket socket, const ipc::RpcError& error) {
  send_last_words(socket, error);
  boost::system::error_code ignored;
  socket.shutdown(local::socket::shutdown_both, ignored);
  socket.close(ignored);
}

void ControlServer::forget(SessionId id) {
  if (sessions_.erase(id) == 0) return;
  if (on_closed_) on_closed_(id);
  publish_sessions("disconnected", id);
  if (accept_paused_) {
    // A descriptor was just freed: try now rather than at the end of the backoff.
    accept_timer_.cancel();
    accept_paused_ = false;
    accept();
  }
}

bool ControlServer::recharge_partial(std::size_t from, std::size_t to) {
  const std::size_t others = partial_charged_ - from;
  if (to > from && others + to > limits_.partial_budget_bytes) {
    if (!budget_episode_) {
      budget_episode_ = true;
      spdlog::warn("unfinished requests hold {} bytes, the most allowed: closing clients that send more",
                   limits_.partial_budget_bytes);
    }
    return false;
  }
  partial_charged_ = others + to;
  if (budget_episode_ && partial_charged_ <= limits_.partial_budget_bytes / 2) {
    budget_episode_ = false;
    spdlog::info("unfinished requests back under half their budget");
  }
  return true;
}

void ControlServer::dispatch(const ipc::Request& req, const Reply& reply) {
  ++requests_;
  const bool subscribe_call = req.method == "subscribe" || req.method == "unsubscribe";
  auto it = handlers_.find(req.method);
  if (!subscribe_call && it == handlers_.end()) {
    reply.fail(ipc::make_error(ipc::ErrorCode::MethodNotFound, "unknown method '" + req.method + "'"));
    return;
  }
  if (!req.params.is_object()) {
    reply.fail(ipc::make_error(ipc::ErrorCode::InvalidParams, "params must be an object"));
    return;
  }
  if (subscribe_call) {
    subscribe(req.params, reply, req.method == "subscribe");
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

void ControlServer::subscribe(const ipc::json& params, const Reply& reply, bool on) {
  auto topics = params.find("topics");
  if (topics == params.end() || !topics->is_array() || topics->empty()) {
    reply.fail(ipc::invalid_param("topics", "must be a non-empty list of strings"));
    return;
  }
  for (const auto& t : *topics) {
    if (!t.is_string()) {
      reply.fail(ipc::invalid_param("topics", "must be a non-empty list of strings"));
      return;
    }
    if (!topics_.count(t.get_ref<const std::string&>())) {
      reply.fail(ipc::make_error(ipc::ErrorCode::InvalidParams,
                                 "unknown topic '" + t.get<std::string>() + "'",
                                 {{"topics", topics_}, {"param", "topics"}}));
      return;
    }
  }
  auto session = reply.session();
  if (!session) return;
  if (on && !may_follow(*session)) return reply.fail(too_many_followers());
  for (const auto& t : *topics) {
    if (on)
      session->topics().insert(t.get<std::string>());
    else
      session->topics().erase(t.get_ref<const std::string&>());
  }
  reply.ok({{"session", session->id()}, {"topics", session->topics()}});
}

bool ControlServer::notify(SessionId id, std::string_view method, const ipc::json& params) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return false;
  it->second->send_notification(std::make_shared<const std::string>(encode_notification(method, params)));
  return true;
}

std::size_t ControlServer::publish(std::string_view topic, std::string_view method, const ipc::json& params) {
  std::shared_ptr<const std::string> line;  // encoded once, for the first subscriber
  std::size_t subscribers = 0;
  for (auto& [id, session] : sessions_) {
    if (!session->topics().count(topic)) continue;
    if (!line) line = std::make_shared<const std::string>(encode_notification(method, params));
    session->send_notification(line);
    ++subscribers;
  }
  return subscribers;
}

void ControlServer::publish_sessions(std::string_view change, SessionId id) {
  publish(kEventsTopic, "server.sessions",
          {{"change", change}, {"session", id}, {"sessions", sessions_.size()}});
}

}  // namespace pmx::daemon
