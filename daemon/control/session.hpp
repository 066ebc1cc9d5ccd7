// Session: one client connection of the control server: reads requests, writes replies and
// notifications in order through a bounded queue, and holds the client's subscriptions.
#pragma once

#include <boost/asio/local/stream_protocol.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "daemon/control/outgoing_queue.hpp"
#include "ipc/framing.hpp"
#include "ipc/protocol.hpp"

namespace pmx::daemon {

class ControlServer;

/// Sends one error line to a client without blocking (it fits an empty socket buffer; if it
/// does not, the close that follows says enough).
void send_last_words(boost::asio::local::stream_protocol::socket& socket, const ipc::RpcError& error);

/// Identifies a session for the life of the daemon (never reused).
using SessionId = std::uint64_t;

/// One client. Reading pauses while too much is queued for it (backpressure) and resumes when
/// the queue drains; a client that lets its replies pile up past the hard limit is closed.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(SessionId id, boost::asio::local::stream_protocol::socket socket, ControlServer& server);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  SessionId id() const { return id_; }
  /// Starts reading requests.
  void start();

  /// Queues a reply line (no newline); `after` runs once it is written or the client is gone.
  void send_reply(std::string line, std::function<void()> after);
  /// Hands one part of a streamed reply to the session; last ends the reply.
  using PartSink = std::function<void(std::string part, bool last)>;
  /// Produces the next part of a streamed reply and gives it to the sink, at once or later
  /// (a later loop turn); it is not called again before it has.
  using NextPart = std::function<void(const PartSink& emit)>;
  /// Queues a reply line written in parts: head, then the parts next produces, then tail and
  /// the newline. Each part is asked for only once the one before has been written, so the
  /// session holds one part at a time however big the reply. Meanwhile no request is read and
  /// other replies and notifications wait behind it (notifications within their limit, see
  /// OutgoingQueue::hold). A client that leaves ends it: next is not called again.
  void send_stream(std::string head, std::string tail, NextPart next);
  /// Whether a streamed reply is being written.
  bool streaming() const { return stream_ != nullptr; }
  /// Queues a notification line (newline included), or drops and counts it (see OutgoingQueue;
  /// lines: the log lines it carries).
  void send_notification(std::shared_ptr<const std::string> line, std::uint64_t lines = 0);
  /// Sends a last error and closes once it is written.
  void fail_and_close(const ipc::RpcError& error);
  /// Closes now: unread requests and unwritten lines are dropped, pending `after`s run.
  void close();
  /// Closes now, after one error line sent without waiting (for an idle session: nothing is
  /// queued before it).
  void close_now_with(const ipc::RpcError& error);
  /// The server is going away: from now on the session does not call it.
  void detach() { server_ = nullptr; }

  /// The topics this client subscribed to.
  std::set<std::string, std::less<>>& topics() { return topics_; }

  /// A reply to one of its requests was queued (Reply calls it once per answered request).
  void answered() {
    if (in_flight_ > 0) --in_flight_;
  }
  /// The client follows something (a topic, an app's output): it stays connected on purpose.
  bool follows() const { return follows_; }
  void set_follows() { follows_ = true; }
  /// Nothing owed to it and nothing it follows: closing it loses the client nothing but the
  /// connection. The control server evicts such sessions when all slots are taken.
  bool idle() const {
    return in_flight_ == 0 && !follows_ && queue_.empty() && !stream_ && !closing_;
  }
  /// Whether it ever sent a request, and when it last sent one or was last written to.
  bool ever_requested() const { return ever_requested_; }
  std::chrono::steady_clock::time_point last_active() const { return last_active_; }

 private:
  void read();
  /// Handles the complete lines received, as long as the queue leaves room; then reads on.
  void process();
  void handle(const std::string& line);
  void write_next();
  /// Asks the stream's producer for its next part.
  void pull();
  void push_part(std::string part, bool last);
  void queue_drop_report();
  /// Charges the partial request held to the server's budget; false when it is exhausted.
  bool charge_partial();

  SessionId id_;
  boost::asio::local::stream_protocol::socket socket_;
  ControlServer* server_;
  ipc::LineBuffer lines_;
  std::array<char, 16384> buf_{};
  OutgoingQueue queue_;
  struct Stream {
    std::string head;  ///< sent before the first part
    std::string tail;  ///< sent after the last part, with the newline
    NextPart next;
    bool asked = false;  ///< next was called and has not emitted yet
  };
  std::unique_ptr<Stream> stream_;
  std::set<std::string, std::less<>> topics_;
  std::size_t charged_ = 0;  ///< bytes of partial request charged to the server's budget
  std::size_t held_peak_ = 0;
  std::size_t in_flight_ = 0;  ///< requests dispatched and not answered yet
  std::chrono::steady_clock::time_point last_active_ = std::chrono::steady_clock::now();
  bool ever_requested_ = false;
  bool follows_ = false;
  bool reading_ = false;
  bool writing_ = false;
  bool closing_ = false;  ///< no more requests: close once the queue is written
  bool closed_ = false;
};

}  // namespace pmx::daemon
