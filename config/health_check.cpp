// HealthCheck: the health_check option read and written, and its targets split up.
#include "config/health_check.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "config/app_spec.hpp"
#include "config/units.hpp"

namespace pmx::config {
namespace {

using json = nlohmann::json;

constexpr const char* kHealthKinds[] = {"http", "tcp", "exec"};

/// A duration key of the object: a number of milliseconds or a string as parse_duration_ms reads it.
Result<std::uint64_t> hc_duration_at(const json& j, const char* key, std::uint64_t fallback, std::uint64_t min) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  std::uint64_t ms = 0;
  if (it->is_number_unsigned() || (it->is_number_integer() && it->get<long long>() >= 0)) {
    ms = it->get<std::uint64_t>();
    if (ms > kMaxDurationMs) return Error{std::string("health_check.") + key + ": at most " + std::to_string(kMaxDurationMs) + " ms"};
  } else if (it->is_string()) {
    auto parsed = parse_duration_ms(it->get<std::string>());
    if (!parsed) return Error{std::string("health_check.") + key + ": " + parsed.error()};
    ms = *parsed;
  } else {
    return Error{std::string("health_check.") + key + ": expected a duration (10s, 500ms, or milliseconds)"};
  }
  if (ms < min) return Error{std::string("health_check.") + key + ": at least " + std::to_string(min) + " ms"};
  return ms;
}

Result<std::uint16_t> hc_port_of(std::string_view text, const std::string& what) {
  unsigned port = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || port == 0 || port > 65535) {
    return Error{what + ": port '" + std::string(text) + "' is not 1..65535"};
  }
  return static_cast<std::uint16_t>(port);
}

/// host:port or [v6]:port.
Result<TcpTarget> hc_host_and_port(std::string_view text, const std::string& what, std::optional<std::uint16_t> default_port) {
  TcpTarget t;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return Error{what + ": '[' without ']'"};
    t.host = std::string(text.substr(1, close - 1));
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') return Error{what + ": expected ':' after ']'"};
      port = text.substr(close + 2);
    }
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      t.host = std::string(text);
    } else {
      t.host = std::string(text.substr(0, colon));
      port = text.substr(colon + 1);
    }
  }
  if (t.host.empty()) return Error{what + ": no host"};
  // Probes never resolve names: a lookup would block pmxd's loop (or need a thread).
  unsigned char addr[16];
  if (t.host != "localhost" && ::inet_pton(AF_INET, t.host.c_str(), addr) != 1 &&
      ::inet_pton(AF_INET6, t.host.c_str(), addr) != 1) {
    return Error{what + ": host '" + t.host + "' must be an IP address or localhost"};
  }
  if (port.empty() && !default_port) return Error{what + ": no port (host:port)"};
  if (port.empty()) {
    t.port = *default_port;
  } else {
    auto p = hc_port_of(port, what);
    if (!p) return Error{p.error()};
    t.port = *p;
  }
  return t;
}

/// A target that may name {instance}/{port}: checked with them replaced by numbers.
std::string hc_as_checked(const std::string& target) { return health_target_for(target, 0, "1"); }

Result<HealthCheck> hc_checked_target(HealthCheck c) {
  if (c.target.empty()) return Error{std::string("health_check.") + to_string(c.kind) + ": must not be empty"};
  if (c.kind == HealthCheck::Kind::Http) {
    if (auto t = parse_http_target(hc_as_checked(c.target)); !t) return Error{"health_check.http: " + t.error()};
  } else if (c.kind == HealthCheck::Kind::Tcp) {
    if (auto t = parse_tcp_target(hc_as_checked(c.target)); !t) return Error{"health_check.tcp: " + t.error()};
  } else if (auto words = split_shell_words(c.target); !words || words->empty()) {
    return Error{"health_check.exec: " + (words ? std::string("no command") : words.error())};
  }
  return c;
}

/// The CLI's form: "http://...", "tcp://host:port" or "tcp:host:port", "exec:command".
Result<HealthCheck> hc_from_string(const std::string& text) {
  HealthCheck c;
  if (text.rfind("http://", 0) == 0) {
    c.kind = HealthCheck::Kind::Http;
    c.target = text;
  } else if (text.rfind("tcp://", 0) == 0) {
    c.kind = HealthCheck::Kind::Tcp;
    c.target = text.substr(6);
  } else if (text.rfind("tcp:", 0) == 0) {
    c.kind = HealthCheck::Kind::Tcp;
    c.target = text.substr(4);
  } else if (text.rfind("exec:", 0) == 0) {
    c.kind = HealthCheck::Kind::Exec;
    c.target = text.substr(5);
  } else {
    return Error{"health_check: expected http://host:port/path, tcp://host:port or exec:command, or an object"};
  }
  return hc_checked_target(std::move(c));
}

}  // namespace

const char* to_string(HealthCheck::Kind kind) {
  switch (kind) {
    case HealthCheck::Kind::None: return "none";
    case HealthCheck::Kind::Http: return "http";
    case HealthCheck::Kind::Tcp: return "tcp";
    case HealthCheck::Kind::Exec: return "exec";
  }
  return "?";
}

Result<HealthCheck> health_check_from_json(const json& j) {
  if (j.is_null() || (j.is_boolean() && !j.get<bool>())) return HealthCheck{};
  if (j.is_string()) return hc_from_string(j.get<std::string>());
  if (!j.is_object()) return Error{"health_check: expected an object (http, tcp or exec, interval, timeout, retries, start_period) or a string"};
  HealthCheck c;
  for (const auto& [key, value] : j.items()) {
    bool known = key == "interval" || key == "timeout" || key == "retries" || key == "start_period";
    for (const char* kind : kHealthKinds) known = known || key == kind;
    if (!known) return Error{"health_check: unknown key '" + key + "' (http, tcp, exec, interval, timeout, retries, start_period)"};
  }
  int kinds = 0;
  for (const char* kind : kHealthKinds) {
    auto it = j.find(kind);
    if (it == j.end() || it->is_null()) continue;
    ++kinds;
    if (!it->is_string()) return Error{std::string("health_check.") + kind + ": expected a string"};
    c.kind = kind == std::string("http") ? HealthCheck::Kind::Http
             : kind == std::string("tcp") ? HealthCheck::Kind::Tcp
                                          : HealthCheck::Kind::Exec;
    c.target = it->get<std::string>();
  }
  if (kinds != 1) return Error{"health_check: exactly one of http, tcp or exec is required"};
  if (c.kind == HealthCheck::Kind::Tcp && c.target.rfind("tcp://", 0) == 0) c.target.erase(0, 6);
  auto interval = hc_duration_at(j, "interval", c.interval_ms, 100);
  if (!interval) return Error{interval.error()};
  auto timeout = hc_duration_at(j, "timeout", c.timeout_ms, 10);
  if (!timeout) return Error{timeout.error()};
  auto start_period = hc_duration_at(j, "start_period", c.start_period_ms, 0);
  if (!start_period) return Error{start_period.error()};
  c.interval_ms = *interval;
  c.timeout_ms = *timeout;
  c.start_period_ms = *start_period;
  if (auto it = j.find("retries"); it != j.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<long long>() < 1 || it->get<long long>() > 1000) {
      return Error{"health_check.retries: expected an integer 1..1000"};
    }
    c.retries = it->get<int>();
  }
  return hc_checked_target(std::move(c));
}

json health_check_to_json(const HealthCheck& c) {
  if (!c.enabled()) return nullptr;
  return json{{to_string(c.kind), c.target},
              {"interval", c.interval_ms},
              {"timeout", c.timeout_ms},
              {"retries", c.retries},
              {"start_period", c.start_period_ms}};
}

std::string health_target_for(const std::string& target, int instance, const std::string& port) {
  std::string out;
  out.reserve(target.size());
  for (std::size_t i = 0; i < target.size();) {
    if (target.compare(i, 10, "{instance}") == 0) {
      out += std::to_string(instance);
      i += 10;
    } else if (target.compare(i, 6, "{port}") == 0) {
      out += port;
      i += 6;
    } else {
      out += target[i++];
    }
  }
  return out;
}

Result<HttpTarget> parse_http_target(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  if (url.rfind(kScheme, 0) != 0) return Error{"'" + url + "' is not an http:// URL (https is not probed)"};
  const std::string_view rest = std::string_view(url).substr(kScheme.size());
  const auto slash = rest.find_first_of("/?");
  const std::string_view authority = rest.substr(0, slash);
  if (authority.find('@') != std::string_view::npos) return Error{"'" + url + "': user info is not allowed"};
  auto hp = hc_host_and_port(authority, "'" + url + "'", std::uint16_t{80});
  if (!hp) return Error{hp.error()};
  HttpTarget t;
  t.host = hp->host;
  t.port = hp->port;
  if (slash != std::string_view::npos) t.path = std::string(rest.substr(slash));
  if (t.path.front() == '?') t.path.insert(0, "/");
  for (char ch : t.path) {
    if (static_cast<unsigned char>(ch) <= 0x20 || ch == 0x7f) return Error{"'" + url + "': the path holds a space or a control character"};
  }
  return t;
}

Result<TcpTarget> parse_tcp_target(const std::string& text) {
  std::string_view t = text;
  if (t.rfind("tcp://", 0) == 0) t.remove_prefix(6);
  return hc_host_and_port(t, "'" + text + "'", std::nullopt);
}

}  // namespace pmx::config
