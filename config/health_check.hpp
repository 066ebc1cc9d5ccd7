// HealthCheck: an app's health_check option (Docker's HEALTHCHECK, per instance): the probe
// (http, tcp or exec), its timing, and the probe's target for one instance ({instance}, {port}).
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "config/result.hpp"

namespace pmx::config {

struct HealthCheck {
  enum class Kind { None, Http, Tcp, Exec };
  Kind kind = Kind::None;
  /// http: the URL (http://host:port/path); tcp: host:port; exec: the command line, split as a
  /// shell splits words and run without a shell. May name {instance} and {port}.
  std::string target;
  std::uint64_t interval_ms = 30000;    ///< from the end of one probe to the start of the next
  std::uint64_t timeout_ms = 30000;     ///< a probe that takes longer failed
  int retries = 3;                      ///< consecutive failures that make the instance unhealthy
  std::uint64_t start_period_ms = 0;    ///< failures within this time from the start do not count

  bool enabled() const { return kind != Kind::None; }
  bool operator==(const HealthCheck&) const = default;
};

/// The name of a kind ("http"), as the option's keys spell it.
const char* to_string(HealthCheck::Kind kind);

/// Reads health_check: an object with exactly one of http, tcp or exec and optional interval,
/// timeout (durations: 10s, 500ms, or milliseconds), retries (>= 1) and start_period; or a
/// string, the CLI's form: "http://...", "tcp://host:port" or "exec:command". null or false:
/// none. The error names the key that is wrong.
Result<HealthCheck> health_check_from_json(const nlohmann::json& j);

/// The option as to_json and jlist write it: null when none, else an object of its keys.
nlohmann::json health_check_to_json(const HealthCheck& check);

/// target with {instance} replaced by instance and {port} by port ("" when the instance has
/// no PORT): each instance is probed through an address of its own.
std::string health_target_for(const std::string& target, int instance, const std::string& port);

/// An http target split up: host (a name or an address, brackets removed), port (80 unless
/// given) and the request target (path and query, "/" when empty).
struct HttpTarget {
  std::string host;
  std::uint16_t port = 80;
  std::string path = "/";
};
/// Splits an http:// URL; https and anything else is an error naming what is wrong.
Result<HttpTarget> parse_http_target(const std::string& url);

/// A tcp target: host:port, [v6]:port, or tcp://host:port.
struct TcpTarget {
  std::string host;
  std::uint16_t port = 0;
};
Result<TcpTarget> parse_tcp_target(const std::string& text);

}  // namespace pmx::config
