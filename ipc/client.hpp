// Client: a blocking JSON-RPC client over the daemon's Unix socket, for the CLI and tests.
#pragma once

#include <chrono>
#include <deque>
#include <optional>
#include <string>
#include <system_error>

#include "ipc/framing.hpp"
#include "ipc/protocol.hpp"

namespace pmx::ipc {

/// One connection to pmxd. Calls are sequential; each waits for its answer.
class Client {
 public:
  Client() = default;
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// Connects to the socket at path. Fails with the errno of connect (ENOENT, ECONNREFUSED...).
  std::error_code connect(const std::string& path);

  /// Sends a request and waits for its response. A transport failure comes back as an
  /// error Response with code InternalError and data.kind "transport" (with data.unread true
  /// when pmxd surely did not read the request: the connection was reset, or the request not
  /// sent whole, so it may be sent again to a new pmxd); no answer within the
  /// timeout as data.kind "timeout" (the connection is closed); a request above
  /// kMaxMessageBytes, which is not sent, as code TooLarge.
  Response call(const std::string& method, const json& params = json::object());

  /// Like call, but a success comes back as the result's JSON text, unparsed (for printing
  /// large results as they are). Errors come back decoded, with text empty.
  Response call_raw(const std::string& method, const json& params, std::string& text);

  /// How long a call may take from sending its request to reading its reply; zero (the
  /// default) waits without limit.
  void set_timeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }

  /// The next notification the daemon sent (after a `subscribe`, or a `logs` that follows),
  /// oldest first: those that arrived while a call waited for its reply are kept for this.
  /// Waits up to timeout (nullopt: without limit; 0: what has arrived already, read without
  /// waiting); nullopt at the timeout, or when the connection is lost (then connected() is false).
  std::optional<json> next_notification(std::optional<std::chrono::milliseconds> timeout = std::nullopt);

  bool connected() const { return fd_ >= 0; }
  /// The socket, for a caller that polls it beside other descriptors (-1 when not connected).
  /// Readable means next_notification() has something to read; notifications kept during a
  /// call are not on the socket any more, so drain next_notification() before polling.
  int native_handle() const { return fd_; }
  void close();

 private:
  /// Sends a request and returns its reply line (or nullopt with the error set).
  std::optional<std::string> exchange(const std::string& method, const json& params, long& id, Response& error);

  /// Waits until fd_ is ready for events or the deadline passes; false at the deadline.
  bool wait_ready(short events, std::optional<std::chrono::steady_clock::time_point> deadline);

  /// Reads what the daemon already sent without waiting (its reply to a refused request).
  void drain_now();

  /// The notification in line, or nullopt when it is a reply.
  static std::optional<json> as_notification(const std::string& line);
  /// Keeps a notification that arrived during a call (the oldest go past kMaxKeptNotifications).
  void keep(json note);

  static constexpr std::size_t kMaxKeptNotifications = 4096;
  std::deque<json> notifications_;
  int fd_ = -1;
  long next_id_ = 1;
  std::chrono::milliseconds timeout_{0};
  LineBuffer lines_{kMaxMessageBytes * 64};  // replies (jlist of many apps) may be large
};

/// A duration for messages: "1500 ms", "5s", "2m", "1h".
std::string describe_duration(std::chrono::milliseconds d);

}  // namespace pmx::ipc
