// HealthProbe: one asynchronous http or tcp health probe of an app, on pmxd's loop: connect
// (and for http, one GET and its status line) within a deadline. Exec probes are processes:
// the supervisor's HealthChecks runs them through the process layer.
#pragma once

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "config/health_check.hpp"

namespace pmx::daemon {

/// How a probe ended: passed or not, and what it saw ("HTTP 200", "connection refused").
struct ProbeResult {
  bool ok = false;
  std::string detail;
};

/// A probe in flight. Its handler runs once, on the loop, unless the probe is cancelled or
/// destroyed first (then never).
class HealthProbe {
 public:
  using Done = std::function<void(ProbeResult)>;
  virtual ~HealthProbe() = default;
  virtual void cancel() = 0;
};

/// Connects to target within timeout: ok once connected (then closed).
std::unique_ptr<HealthProbe> start_tcp_probe(boost::asio::io_context& io, const config::TcpTarget& target,
                                             std::chrono::milliseconds timeout, HealthProbe::Done done);

/// GET target.path over HTTP/1.1 within timeout: ok for a 2xx or 3xx status. Only the status
/// line and headers are read (at most 16 KiB), never the body.
std::unique_ptr<HealthProbe> start_http_probe(boost::asio::io_context& io, const config::HttpTarget& target,
                                              std::chrono::milliseconds timeout, HealthProbe::Done done);

}  // namespace pmx::daemon
