// Session: read lines, dispatch, write replies and notifications in order, within the limits.
#include "daemon/control/session.hpp"

#include <sys/socket.h>

#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "daemon/control/control_server.hpp"
#include "daemon/control/heap_trim.hpp"

namespace pmx::daemon {

namespace asio = boost::asio;
using local = asio::local::stream_protocol;

namespace {

/// A session that once held a partial request this big gets a fresh buffer when it empties, so
/// that an idle client does not keep a megabyte of capacity.
constexpr std::size_t kShrinkAbove = 64 * 1024;

}  // namespace

void send_last_words(local::socket& socket, const ipc::RpcError& error) {
  const std::string line = ipc::encode_error(nullptr, error) + "\n";
  [[maybe_unused]] auto n =
      ::send(socket.native_handle(), line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

Session::Session(SessionId id, local::socket socket, ControlServer& server)
    : id_(id),
      socket_(std::move(socket)),
      server_(&server),
      lines_(ipc::kMaxMessageBytes),
      queue_(server.limits().queue) {}

Session::~Session() = default;

void Session::start() { read(); }

void Session::send_reply(std::string line, std::function<void()> after) {
  if (closed_) {
    if (after) after();
    return;
  }
  line += '\n';
  auto bytes = std::make_shared<const std::string>(std::move(line));
  if (queue_.push_reply(bytes, std::move(after)) == OutgoingQueue::Push::overflow) {
    spdlog::warn("client {} does not read its replies ({} bytes queued): closing it", id_,
                 queue_.bytes());
    close();
    if (after) after();
    return;
  }
  if (!writing_ && !queue_.empty()) write_next();  // held behind a stream: written after it
}

void Session::send_stream(std::string head, std::string tail, NextPart next) {
  if (closed_) return;
  if (stream_) {
    // One stream at a time: requests are not read while one is written, so only a producer
    // that answers twice gets here.
    spdlog::error("client {}: a second streamed reply while one is written, ignoring", id_);
    return;
  }
  stream_ = std::make_unique<Stream>(Stream{std::move(head), std::move(tail), std::move(next)});
  queue_.hold();
  pull();
}

void Session::pull() {
  if (closed_ || !stream_ || stream_->asked) return;
  stream_->asked = true;
  auto next = stream_->next;  // the stream may end (and be freed) while it runs
  // The producer may emit at once (from here) or from a later handler; either way through
  // a weak reference, so a producer that outlives the session does nothing.
  next([weak = weak_from_this()](std::string part, bool last) {
    if (auto self = weak.lock()) self->push_part(std::move(part), last);
  });
}

void Session::push_part(std::string part, bool last) {
  if (closed_ || !stream_) return;
  stream_->asked = false;
  if (!stream_->head.empty()) part.insert(0, std::exchange(stream_->head, std::string()));
  std::function<void()> after;
  if (last) {
    part += stream_->tail;
    part += '\n';
  } else {
    after = [weak = weak_from_this()] {
      if (auto self = weak.lock()) self->pull();
    };
  }
  queue_.push_part(std::make_shared<const std::string>(std::move(part)), std::move(after));
  if (last) {
    stream_.reset();
    queue_.release();
  }
  if (!writing_) write_next();
}

void Session::send_notification(std::shared_ptr<const std::string> line, std::uint64_t lines) {
  if (closed_ || closing_) return;
  queue_drop_report();
  queue_.push_notification(std::move(line), lines);
  if (!writing_ && !queue_.empty()) write_next();
}

void Session::queue_drop_report() {
  if (auto n = queue_.take_drop_report()) {
    ipc::json params = {{"count", *n},
                        {"total", queue_.dropped_total()},
                        {"lines", queue_.reported_lines()},
                        {"lines_total", queue_.dropped_lines_total()}};
    ipc::json note = {{"jsonrpc", "2.0"}, {"method", "dropped"}, {"params", params}};
    queue_.push_notification(std::make_shared<const std::string>(note.dump() + "\n"));
  }
}

void Session::fail_and_close(const ipc::RpcError& error) {
  closing_ = true;
  send_reply(ipc::encode_error(nullptr, error), nullptr);
}

void Session::close() {
  if (closed_) return;
  closed_ = true;
  closing_ = true;
  stream_.reset();
  auto self = shared_from_this();  // the server's registry may hold the last reference
  boost::system::error_code ignored;
  socket_.shutdown(local::socket::shutdown_both, ignored);
  socket_.close(ignored);
  auto unwritten = queue_.clear();
  lines_ = ipc::LineBuffer(ipc::kMaxMessageBytes);
  if (server_) {
    server_->recharge_partial(charged_, 0);
    charged_ = 0;
    server_->forget(id_);
  }
  for (auto& m : unwritten)
    if (m.after) m.after();
}

void Session::close_now_with(const ipc::RpcError& error) {
  if (closed_) return;
  send_last_words(socket_, error);
  close();
}

void Session::read() {
  if (reading_ || closing_ || stream_ || queue_.over_pause_limit()) return;
  reading_ = true;
  socket_.async_read_some(asio::buffer(buf_), [self = shared_from_this()](
                                                  const boost::system::error_code& ec, std::size_t n) {
    self->reading_ = false;
    if (self->closed_) return;
    if (ec == asio::error::eof) {
      // Half-closed: no more requests, but the replies already owed are still written.
      self->closing_ = true;
      if (!self->writing_ && !self->stream_) self->close();
      return;
    }
    if (ec) {
      self->close();
      return;
    }
    self->lines_.append(std::string_view(self->buf_.data(), n));
    self->process();
  });
}

void Session::process() {
  // While a reply is streamed, requests wait: their replies could not be queued before it ends.
  if (closing_ || stream_) return;
  // Lines wait in the buffer while the queue is over its pause limit: that, and not reading the
  // socket, is the backpressure. The client's own send buffer then fills and it blocks.
  while (!queue_.over_pause_limit()) {
    auto line = lines_.next_line();
    if (!line) break;
    if (line->empty()) continue;
    handle(*line);
    if (closing_) return;
  }
  if (lines_.overflowed()) {
    fail_and_close(ipc::make_error(ipc::ErrorCode::TooLarge,
                                   "message larger than " + std::to_string(ipc::kMaxMessageBytes) +
                                       " bytes"));
    return;
  }
  if (!charge_partial()) {
    fail_and_close(ipc::make_error(ipc::ErrorCode::TooLarge,
                                   "daemon overloaded: too many unfinished requests held",
                                   {{"reason", "overloaded"}}));
    return;
  }
  if (lines_.pending() == 0 && held_peak_ > kShrinkAbove) {
    lines_ = ipc::LineBuffer(ipc::kMaxMessageBytes);
    held_peak_ = 0;
  }
  read();
}

bool Session::charge_partial() {
  const std::size_t held = lines_.pending();
  held_peak_ = std::max(held_peak_, held);
  if (!server_) return true;
  const std::size_t free = server_->limits().partial_free_bytes;
  const std::size_t want = held > free ? held - free : 0;
  if (!server_->recharge_partial(charged_, want)) return false;
  charged_ = want;
  return true;
}

void Session::handle(const std::string& line) {
  auto decoded = ipc::decode_request(line);
  if (auto* err = std::get_if<ipc::RpcError>(&decoded)) {
    send_reply(ipc::encode_error(nullptr, *err), nullptr);
    return;
  }
  const auto& request = std::get<ipc::Request>(decoded);
  ever_requested_ = true;
  last_active_ = std::chrono::steady_clock::now();
  if (request.id) ++in_flight_;
  if (server_) server_->dispatch(request, Reply(weak_from_this(), request.id));
}

void Session::write_next() {
  writing_ = true;
  auto bytes = queue_.front().bytes;  // kept alive by the handler even if the queue is cleared
  asio::async_write(socket_, asio::buffer(*bytes), [self = shared_from_this(), bytes](
                                                       const boost::system::error_code& ec, std::size_t) {
    self->writing_ = false;
    if (self->closed_) return;
    self->last_active_ = std::chrono::steady_clock::now();
    auto done = self->queue_.pop_front();
    trim_heap_after_reply(self->socket_.get_executor(), bytes->size());
    if (ec) {
      self->close();
      if (done.after) done.after();
      return;
    }
    if (done.after) done.after();
    if (self->closed_) return;
    self->queue_drop_report();
    if (self->writing_) {
      // The `after` queued something and started writing it already.
    } else if (!self->queue_.empty()) {
      self->write_next();
    } else if (self->closing_ && !self->stream_) {
      self->close();
      return;
    }
    if (self->queue_.drained()) self->process();
  });
}

}  // namespace pmx::daemon
