// Blocking client: connect, write one line, read until the matching reply line, within a deadline.
#include "ipc/client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

namespace pmx::ipc {
namespace {

using Clock = std::chrono::steady_clock;

Response transport_error(const std::string& what, const char* kind = "transport") {
  Response r;
  r.error = RpcError{ErrorCode::InternalError, what, json{{"kind", kind}}};
  return r;
}

/// A transport error after which the request surely was not handled: the connection was reset
/// with it unread (a pmxd killed before it accepted the connection, or before it read the
/// request, resets it: ECONNRESET), or it could not be sent whole.
Response unread_error(const std::string& what) {
  Response r = transport_error(what);
  r.error->data["unread"] = true;
  return r;
}

}  // namespace

std::string describe_duration(std::chrono::milliseconds d) {
  const long long ms = d.count();
  if (ms % 3'600'000 == 0 && ms > 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0 && ms > 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0 && ms > 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + " ms";
}

Client::~Client() { close(); }

void Client::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::error_code Client::connect(const std::string& path) {
  close();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) return std::make_error_code(std::errc::filename_too_long);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return {errno, std::generic_category()};
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::error_code ec{errno, std::generic_category()};
    ::close(fd);
    return ec;
  }
  fd_ = fd;
  lines_ = LineBuffer{kMaxMessageBytes * 64};
  notifications_.clear();
  return {};
}

bool Client::wait_ready(short events, std::optional<Clock::time_point> deadline) {
  for (;;) {
    int wait_ms = -1;
    if (deadline) {
      // A deadline already passed still looks once: what has arrived is read without waiting.
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now()).count();
      wait_ms = left <= 0 ? 0 : left > 1'000'000 ? 1'000'000 : static_cast<int>(left);
    }
    pollfd p{fd_, events, 0};
    const int n = ::poll(&p, 1, wait_ms);
    if (n > 0) return true;  // ready, or an error/hang-up that the next send/recv reports
    if (n < 0 && errno != EINTR) return true;
    if (n == 0 && wait_ms == 0) return false;
  }
}

void Client::drain_now() {
  char buf[65536];
  for (;;) {
    ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    lines_.append(std::string_view(buf, static_cast<std::size_t>(n)));
  }
}

std::optional<std::string> Client::exchange(const std::string& method, const json& params, long& id,
                                            Response& error) {
  if (fd_ < 0) {
    error = transport_error("not connected to pmxd");
    return std::nullopt;
  }
  id = next_id_++;
  std::string line = encode_request(id, method, params);
  if (line.size() > kMaxMessageBytes) {
    // pmxd would close the connection mid-send (a "Broken pipe" here): say what is wrong instead.
    error.error = make_error(ErrorCode::TooLarge,
                             "the request is too large: " + std::to_string(line.size()) +
                                 " bytes, pmxd accepts at most " + std::to_string(kMaxMessageBytes) +
                                 " (1 MiB); a very large environment, env or args is the usual cause",
                             json{{"bytes", line.size()}, {"max_bytes", kMaxMessageBytes}});
    return std::nullopt;
  }
  line += '\n';
  std::optional<Clock::time_point> deadline;
  if (timeout_.count() > 0) deadline = Clock::now() + timeout_;
  auto timed_out = [&] {
    close();
    error = transport_error("pmxd did not answer within " + describe_duration(timeout_) +
                                " (is it stopped or overloaded? --timeout sets the limit, 0 for none)",
                            "timeout");
    return std::nullopt;
  };
  std::size_t sent = 0;
  while (sent < line.size()) {
    if (!wait_ready(POLLOUT, deadline)) return timed_out();
    ssize_t n = ::send(fd_, line.data() + sent, line.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n <= 0) {
      const int err = errno;
      // pmxd may have answered before closing (an error about the request): report that.
      drain_now();
      while (auto reply = lines_.next_line()) {
        if (auto note = as_notification(*reply)) keep(std::move(*note));
        else return reply;
      }
      close();
      error = unread_error(std::string("lost the connection to pmxd: ") + std::strerror(err));
      return std::nullopt;
    }
    sent += static_cast<std::size_t>(n);
  }
  char buf[65536];
  for (;;) {
    if (auto reply = lines_.next_line()) {
      if (auto note = as_notification(*reply)) {
        keep(std::move(*note));
        continue;
      }
      return reply;
    }
    if (lines_.overflowed()) {
      close();
      error = transport_error("pmxd sent a reply larger than the client accepts");
      return std::nullopt;
    }
    if (!wait_ready(POLLIN, deadline)) return timed_out();
    ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n <= 0) {
      const bool reset = n < 0 && errno == ECONNRESET;
      close();
      error = reset ? unread_error("pmxd reset the connection before reading the request")
                    : transport_error("pmxd closed the connection before answering");
      return std::nullopt;
    }
    lines_.append(std::string_view(buf, static_cast<std::size_t>(n)));
  }
}

std::optional<json> Client::as_notification(const std::string& line) {
  // pmxd's replies start with their id (encode_result); anything else is parsed to tell.
  if (line.starts_with(R"({"id":)")) return std::nullopt;
  json j = json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.contains("id") || !j.contains("method")) return std::nullopt;
  return j;
}

void Client::keep(json note) {
  if (notifications_.size() >= kMaxKeptNotifications) notifications_.pop_front();
  notifications_.push_back(std::move(note));
}

std::optional<json> Client::next_notification(std::optional<std::chrono::milliseconds> timeout) {
  std::optional<Clock::time_point> deadline;
  if (timeout) deadline = Clock::now() + *timeout;
  char buf[65536];
  for (;;) {
    if (!notifications_.empty()) {
      json note = std::move(notifications_.front());
      notifications_.pop_front();
      return note;
    }
    if (fd_ < 0) return std::nullopt;
    while (auto line = lines_.next_line()) {
      if (auto note = as_notification(*line)) return note;  // a stray reply is skipped
    }
    if (lines_.overflowed()) {
      close();
      return std::nullopt;
    }
    if (!wait_ready(POLLIN, deadline)) return std::nullopt;
    ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n <= 0) {
      close();
      return std::nullopt;
    }
    lines_.append(std::string_view(buf, static_cast<std::size_t>(n)));
  }
}

Response Client::call(const std::string& method, const json& params) {
  long id = 0;
  Response r;
  auto line = exchange(method, params, id, r);
  return line ? decode_response(*line) : r;
}

Response Client::call_raw(const std::string& method, const json& params, std::string& text) {
  long id = 0;
  Response r;
  auto line = exchange(method, params, id, r);
  if (!line) return r;
  if (auto raw = raw_result(*line, id)) {
    text = std::string(*raw);
    r.id = id;
    r.result = json();  // present, unparsed: the text is the result
    return r;
  }
  return decode_response(*line);
}

}  // namespace pmx::ipc
