// HealthProbe: tcp and http probes with Boost.Beast on pmxd's io_context.
#include "daemon/listeners/health_probe.hpp"

#include <fcntl.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <optional>
#include <utility>

namespace pmx::daemon {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr std::uint32_t kProbeHeaderLimit = 16 * 1024;

/// The state of one probe, shared by its handle and its pending handlers.
struct ProbeState {
  ProbeState(asio::io_context& io, HealthProbe::Done d) : stream(io), done(std::move(d)) {}
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  http::request<http::empty_body> request;
  std::optional<http::response_parser<http::empty_body>> parser;
  HealthProbe::Done done;
  bool finished = false;

  void close() {
    beast::error_code ignored;
    stream.socket().close(ignored);
  }
  void finish(ProbeResult result) {
    if (finished) return;
    finished = true;
    close();
    auto d = std::move(done);
    if (d) d(std::move(result));
  }
  /// The failure of a step, named for people.
  void fail(const char* step, const beast::error_code& ec, std::chrono::milliseconds timeout) {
    if (ec == beast::error::timeout) return finish({false, std::string(step) + " timed out after " + std::to_string(timeout.count()) + " ms"});
    finish({false, std::string(step) + ": " + ec.message()});
  }
};

class BeastProbe : public HealthProbe {
 public:
  explicit BeastProbe(std::shared_ptr<ProbeState> state) : state_(std::move(state)) {}
  ~BeastProbe() override { cancel(); }
  void cancel() override {
    state_->done = nullptr;
    state_->finished = true;
    state_->close();
  }

 private:
  std::shared_ptr<ProbeState> state_;
};

/// The endpoint of host:port; none when host is not an IP address (or localhost), and then the
/// probe s fails for that reason, from the loop.
std::optional<tcp::endpoint> probe_endpoint(asio::io_context& io, const std::shared_ptr<ProbeState>& s,
                                            const std::string& host, std::uint16_t port) {
  beast::error_code ec;
  const auto address = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (!ec) return tcp::endpoint(address, port);
  asio::post(io, [s, host] { s->finish({false, "'" + host + "' is not an IP address"}); });
  return std::nullopt;
}

/// Opens the socket close-on-exec (Asio's are not: an app would inherit it) and connects
/// within timeout; then() runs once connected.
template <typename Then>
void connect_probe(const std::shared_ptr<ProbeState>& s, const tcp::endpoint& endpoint, std::chrono::milliseconds timeout,
             Then then) {
  beast::error_code ec;
  s->stream.socket().open(endpoint.protocol(), ec);
  if (ec) return s->fail("socket", ec, timeout);
  ::fcntl(s->stream.socket().native_handle(), F_SETFD, FD_CLOEXEC);
  s->stream.expires_after(timeout);
  s->stream.async_connect(endpoint, [s, timeout, then](const beast::error_code& error) {
    if (s->finished) return;
    if (error) return s->fail("connect", error, timeout);
    then();
  });
}

}  // namespace

std::unique_ptr<HealthProbe> start_tcp_probe(asio::io_context& io, const config::TcpTarget& target,
                                             std::chrono::milliseconds timeout, HealthProbe::Done done) {
  auto s = std::make_shared<ProbeState>(io, std::move(done));
  auto handle = std::make_unique<BeastProbe>(s);
  const auto endpoint = probe_endpoint(io, s, target.host, target.port);
  if (!endpoint) return handle;
  connect_probe(s, *endpoint, timeout, [s] { s->finish({true, "connected"}); });
  return handle;
}

std::unique_ptr<HealthProbe> start_http_probe(asio::io_context& io, const config::HttpTarget& target,
                                              std::chrono::milliseconds timeout, HealthProbe::Done done) {
  auto s = std::make_shared<ProbeState>(io, std::move(done));
  auto handle = std::make_unique<BeastProbe>(s);
  const auto endpoint = probe_endpoint(io, s, target.host, target.port);
  if (!endpoint) return handle;
  s->request = http::request<http::empty_body>(http::verb::get, target.path, 11);
  const bool v6 = endpoint->address().is_v6();
  s->request.set(http::field::host, (v6 ? "[" + target.host + "]" : target.host) + ":" + std::to_string(target.port));
  s->request.set(http::field::user_agent, "pmx-health-check");
  s->request.set(http::field::connection, "close");
  s->parser.emplace();
  s->parser->header_limit(kProbeHeaderLimit);
  // The deadline armed at the connect covers the whole exchange.
  connect_probe(s, *endpoint, timeout, [s, timeout] {
    http::async_write(s->stream, s->request, [s, timeout](const beast::error_code& ec, std::size_t) {
      if (s->finished) return;
      if (ec) return s->fail("request", ec, timeout);
      http::async_read_header(s->stream, s->buffer, *s->parser, [s, timeout](const beast::error_code& ec, std::size_t) {
        if (s->finished) return;
        if (ec) return s->fail("response", ec, timeout);
        const unsigned status = s->parser->get().result_int();
        s->finish({status >= 200 && status < 400, "HTTP " + std::to_string(status)});
      });
    });
  });
  return handle;
}

}  // namespace pmx::daemon
