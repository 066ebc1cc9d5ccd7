// MetricsEndpoint: Prometheus' GET /metrics on pmxd's own loop (Boost.Beast, no thread per
// client), at the address of pmx.yaml's metrics.listen (host:port or unix:/path); off unless
// set. GET /metrics only (other paths 404, other methods 405), and bounded as the control
// socket is: a connection cap, a request size cap (headers only, no body), and a deadline on
// every read and write, so that a slow or hostile scraper costs pmxd nothing lasting.
#pragma once

#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "config/listen_address.hpp"
#include "config/result.hpp"
#include "daemon/listeners/listeners.hpp"

namespace pmx::daemon {

class MetricsEndpoint {
 public:
  /// The exposition, made for each scrape.
  using Produce = std::function<std::string()>;
  /// Connections served at once; further ones are closed at accept.
  static constexpr std::size_t kMaxConnections = 64;
  /// The largest request (line and headers); a larger one closes the connection.
  static constexpr std::uint32_t kMaxRequestBytes = 8 * 1024;
  /// How long a client may take to send its request, or to take the answer.
  static constexpr std::chrono::seconds kDeadline{10};

  MetricsEndpoint(boost::asio::io_context& io, Produce produce);
  ~MetricsEndpoint();
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  /// Serves on address, rebinding when it differs from the one in use; none: stops serving.
  /// Fails naming the address (then nothing is served).
  Result<bool> listen(const std::optional<config::ListenAddress>& address);
  /// Stops accepting; connections in progress end with their answer or their deadline.
  void close();
  /// The address served ("127.0.0.1:9615"), empty when off.
  std::string address() const;
  /// Scrapes answered (200) since pmxd started.
  std::uint64_t scrapes() const;

  struct Shared;  ///< what the connections share with the endpoint: the producer, the counts

 private:
  void accept();

  boost::asio::io_context& io_;
  std::optional<config::ListenAddress> address_;
  Listeners socket_;  ///< the bound socket (a Unix socket's file removed with it)
  std::unique_ptr<boost::asio::basic_socket_acceptor<boost::asio::generic::stream_protocol>> acceptor_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace pmx::daemon
