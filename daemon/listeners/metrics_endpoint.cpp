// MetricsEndpoint: one Connection per client, reading a request, answering it, and reading the
// next while the client keeps the connection alive; a timer closes it at each deadline.
#include "daemon/listeners/metrics_endpoint.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <optional>
#include <utility>

#include <spdlog/spdlog.h>

namespace pmx::daemon {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Protocol = asio::generic::stream_protocol;

struct MetricsEndpoint::Shared {
  Produce produce;
  std::size_t connections = 0;
  std::uint64_t scrapes = 0;
  std::uint64_t generation = 0;  ///< bumped at each close: a closed acceptor's handler stops
};

namespace {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Protocol::socket socket, std::shared_ptr<MetricsEndpoint::Shared> shared)
      : socket_(std::move(socket)), timer_(socket_.get_executor()), shared_(std::move(shared)) {
    ++shared_->connections;
  }
  ~Connection() { --shared_->connections; }

  void read_request() {
    parser_.emplace();
    parser_->header_limit(MetricsEndpoint::kMaxRequestBytes);
    parser_->body_limit(0);  // GET has no body
    arm_deadline();
    http::async_read(socket_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_request(ec); });
  }

 private:
  void arm_deadline() {
    timer_.expires_after(MetricsEndpoint::kDeadline);
    timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->close();  // a slow client: dropped
    });
  }
  void close() {
    boost::system::error_code ignored;
    timer_.cancel();
    socket_.shutdown(Protocol::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  void on_request(beast::error_code ec) {
    if (ec) return close();  // gone, too slow, too big, or not HTTP
    const auto& req = parser_->get();
    keep_alive_ = req.keep_alive();
    version_ = req.version();
    const auto requested = req.target();
    const std::string_view target(requested.data(), requested.size());
    const std::string_view path = target.substr(0, target.find('?'));
    if (req.method() != http::verb::get) return answer(http::status::method_not_allowed, "GET /metrics only\n", "GET");
    if (path != "/metrics") return answer(http::status::not_found, "GET /metrics only\n", nullptr);
    ++shared_->scrapes;
    answer(http::status::ok, shared_->produce(), nullptr);
  }

  void answer(http::status status, std::string body, const char* allow) {
    response_.emplace(status, version_);
    response_->set(http::field::server, "pmxd");
    response_->set(http::field::content_type,
                   status == http::status::ok ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain; charset=utf-8");
    if (allow) response_->set(http::field::allow, allow);
    response_->body() = std::move(body);
    if (status != http::status::ok) keep_alive_ = false;  // a client that asks amiss gets one answer
    response_->keep_alive(keep_alive_);
    response_->prepare_payload();
    arm_deadline();
    http::async_write(socket_, *response_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->response_.reset();  // the exposition is freed with its answer
      if (ec || !self->keep_alive_) return self->close();
      self->read_request();
    });
  }

  Protocol::socket socket_;
  asio::steady_timer timer_;
  std::shared_ptr<MetricsEndpoint::Shared> shared_;
  beast::flat_buffer buffer_{MetricsEndpoint::kMaxRequestBytes};
  std::optional<http::request_parser<http::empty_body>> parser_;
  std::optional<http::response<http::string_body>> response_;
  bool keep_alive_ = false;
  unsigned version_ = 11;
};

}  // namespace

MetricsEndpoint::MetricsEndpoint(asio::io_context& io, Produce produce) : io_(io), shared_(std::make_shared<Shared>()) {
  shared_->produce = std::move(produce);
}

MetricsEndpoint::~MetricsEndpoint() { close(); }

Result<bool> MetricsEndpoint::listen(const std::optional<config::ListenAddress>& address) {
  if (address == address_ && (acceptor_ || !address)) return false;
  close();
  if (!address) return false;
  auto bound = socket_.bind({*address});
  if (!bound) return Error{bound.error()};
  // The acceptor gets its own descriptor; socket_ keeps the bound one (and a Unix socket's file).
  const int fd = ::fcntl(socket_.fds().front(), F_DUPFD_CLOEXEC, 0);
  sockaddr_storage local{};
  socklen_t length = sizeof local;
  if (fd < 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) != 0) {
    const std::string error = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    socket_.close();
    return Error{address->text() + ": " + error};
  }
  boost::system::error_code ec;
  acceptor_ = std::make_unique<asio::basic_socket_acceptor<Protocol>>(io_);
  acceptor_->assign(Protocol(local.ss_family, SOCK_STREAM), fd, ec);
  if (ec) {
    ::close(fd);
    close();
    return Error{address->text() + ": " + ec.message()};
  }
  address_ = address;
  spdlog::info("serving Prometheus metrics on {} (GET /metrics)", address->text());
  accept();
  return true;
}

void MetricsEndpoint::close() {
  if (acceptor_) {
    boost::system::error_code ignored;
    acceptor_->close(ignored);
    acceptor_.reset();
    spdlog::info("no longer serving Prometheus metrics on {}", address_ ? address_->text() : "");
  }
  ++shared_->generation;
  socket_.close();
  address_.reset();
}

std::string MetricsEndpoint::address() const { return address_ ? address_->text() : std::string(); }

std::uint64_t MetricsEndpoint::scrapes() const { return shared_->scrapes; }

void MetricsEndpoint::accept() {
  if (!acceptor_) return;
  acceptor_->async_accept([this, shared = shared_, generation = shared_->generation](boost::system::error_code ec,
                                                                                      Protocol::socket socket) {
    if (ec == asio::error::operation_aborted || shared->generation != generation) return;
    if (ec) {
      // Out of descriptors (EMFILE): try again shortly rather than spin.
      auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(100));
      timer->async_wait([this, shared, generation, timer](const boost::system::error_code&) {
        if (shared->generation == generation) accept();
      });
      return;
    }
    if (shared->connections < kMaxConnections) {
      ::fcntl(socket.native_handle(), F_SETFD, FD_CLOEXEC);  // no app inherits a scraper's connection
      std::make_shared<Connection>(std::move(socket), shared)->read_request();
    }  // else: closed here, at once
    accept();
  });
}

}  // namespace pmx::daemon
