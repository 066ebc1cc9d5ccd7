// ListenAddress: parsing of listen entries, and the cluster-mode rule.
#include "config/listen_address.hpp"

#include <arpa/inet.h>

#include <charconv>

namespace pmx::config {
namespace {

bool parse_port(std::string_view text, int& port) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 1 || value > 65535) return false;
  port = value;
  return true;
}

Result<ListenAddress> parse_unix(std::string_view text, std::string_view whole) {
  ListenAddress a;
  a.kind = ListenAddress::Kind::Unix;
  if (auto comma = text.rfind(",mode="); comma != std::string_view::npos) {
    const std::string_view digits = text.substr(comma + 6);
    unsigned mode = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), mode, 8);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || mode > 0777) {
      return Error{"'" + std::string(whole) + "': mode must be octal, 0000..0777 (mode=0660)"};
    }
    a.mode = mode;
    text = text.substr(0, comma);
  }
  if (text.empty() || text.front() != '/') {
    return Error{"'" + std::string(whole) + "': a Unix socket needs an absolute path (unix:/run/app.sock)"};
  }
  if (text.size() >= 108) return Error{"'" + std::string(whole) + "': a Unix socket path has at most 107 bytes"};
  a.path = std::string(text);
  return a;
}

}  // namespace

std::string ListenAddress::text() const {
  if (kind == Kind::Unix) return "unix:" + path;
  const std::string p = std::to_string(port);
  if (host.empty()) return "*:" + p;
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + p;
  return host + ":" + p;
}

Result<ListenAddress> parse_listen_address(std::string_view text) {
  if (text.starts_with("unix:")) return parse_unix(text.substr(5), text);
  const std::string bad = "'" + std::string(text) + "': expected a port, host:port, [IPv6]:port or unix:/path";
  ListenAddress a;
  std::string_view host, port = text;
  if (text.starts_with("[")) {
    auto close = text.find("]:");
    if (close == std::string_view::npos) return Error{bad};
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    in6_addr v6{};
    if (!inet_pton(AF_INET6, std::string(host).c_str(), &v6)) {
      return Error{"'" + std::string(text) + "': '" + std::string(host) + "' is not an IPv6 address"};
    }
  } else if (auto colon = text.rfind(':'); colon != std::string_view::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host == "*") host = "";
    if (host == "localhost") host = "127.0.0.1";
    in_addr v4{};
    if (!host.empty() && !inet_pton(AF_INET, std::string(host).c_str(), &v4)) {
      return Error{"'" + std::string(text) + "': '" + std::string(host) +
                   "' is not an IP address (write IPv6 as [::1]:3000; host names are not resolved)"};
    }
  }
  if (!parse_port(port, a.port)) {
    return Error{port.empty() ? bad : "'" + std::string(text) + "': the port must be 1..65535"};
  }
  a.host = std::string(host);
  return a;
}

Result<std::vector<ListenAddress>> listen_addresses(const AppSpec& spec) {
  std::vector<ListenAddress> out;
  for (const auto& entry : spec.listen) {
    auto a = parse_listen_address(entry);
    if (!a) return Error{"option 'listen': " + a.error()};
    out.push_back(std::move(*a));
  }
  if (out.empty() && spec.port > 0) {
    ListenAddress a;
    a.port = spec.port;
    out.push_back(a);
  }
  return out;
}

bool is_node_app(const AppSpec& spec) {
  const std::string& i = spec.interpreter;
  const std::string base = i.substr(i.find_last_of('/') == std::string::npos ? 0 : i.find_last_of('/') + 1);
  return base == "node" || base == "nodejs";
}

void apply_cluster_rule(AppSpec& spec) {
  if (is_node_app(spec) || spec.port > 0 || !spec.listen.empty()) spec.exec_mode = "cluster";
}

bool runs_in_cluster_mode(const AppSpec& spec) {
  return spec.exec_mode == "cluster" && (is_node_app(spec) || spec.port > 0 || !spec.listen.empty());
}

const char* exec_mode_name(const AppSpec& spec) { return runs_in_cluster_mode(spec) ? "cluster_mode" : "fork_mode"; }

}  // namespace pmx::config
