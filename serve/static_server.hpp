// pmx-serve's HTTP server: GET and HEAD of the files below one folder, on one Asio loop
// (Boost.Beast), with ranges, conditional GETs, an index.html per folder, a single-page-app
// fallback and Basic auth. Bounded under every client: a connection cap, header size limit,
// and a deadline on every read and write.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstddef>
#include <memory>

#include "serve/serve_options.hpp"

namespace pmx::serve {

class StaticServer {
 public:
  /// At most this many connections at once; further ones are closed at accept.
  static constexpr std::size_t kMaxConnections = 1024;

  /// Listens on the options' port, every address (IPv6 and IPv4), or throws.
  StaticServer(boost::asio::io_context& io, ServeOptions options);
  ~StaticServer();
  StaticServer(const StaticServer&) = delete;
  StaticServer& operator=(const StaticServer&) = delete;

  /// Accepts until stop().
  void start();
  /// Stops accepting; connections in progress finish their response.
  void stop();

  struct Shared;  ///< what every connection reads: the options, the root's fd, the count

 private:
  void accept();

  boost::asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace pmx::serve
