// pmx-serve's command line and PM2's serve environment.
#include "serve/serve_options.hpp"

#include <charconv>
#include <cstdlib>

namespace pmx::serve {
namespace {

std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value && *value ? value : fallback;
}

std::optional<int> port_number(const std::string& text) {
  int port = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc{} || end != text.data() + text.size() || port < 1 || port > 65535) return std::nullopt;
  return port;
}

}  // namespace

ParsedOptions parse_serve_options(const std::vector<std::string>& args) {
  ServeOptions o;
  o.root = env_or("PM2_SERVE_PATH", o.root);
  std::string port_text = env_or("PM2_SERVE_PORT", "");
  const std::string spa = env_or("PM2_SERVE_SPA", "");
  o.spa = spa == "true" || spa == "1";
  o.homepage = env_or("PM2_SERVE_HOMEPAGE", o.homepage);
  o.user = env_or("PM2_SERVE_BASIC_AUTH_USERNAME", "");
  o.password = env_or("PM2_SERVE_BASIC_AUTH_PASSWORD", "");
  std::vector<std::string> positional;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string& into) {
      if (i + 1 >= args.size()) return false;
      into = args[++i];
      return true;
    };
    if (a == "--spa") {
      o.spa = true;
    } else if (a == "--port" || a == "-p") {
      if (!value(port_text)) return {std::nullopt, a + " needs a value"};
    } else if (a == "--homepage") {
      if (!value(o.homepage)) return {std::nullopt, a + " needs a value"};
    } else if (a == "--basic-auth-username") {
      if (!value(o.user)) return {std::nullopt, a + " needs a value"};
    } else if (a == "--basic-auth-password") {
      if (!value(o.password)) return {std::nullopt, a + " needs a value"};
    } else if (a.starts_with("-")) {
      return {std::nullopt, "unknown option " + a};
    } else {
      positional.push_back(a);
    }
  }
  if (positional.size() > 2) return {std::nullopt, "takes a folder and a port, not " + positional[2]};
  if (!positional.empty()) o.root = positional[0];
  if (positional.size() == 2) port_text = positional[1];
  if (!port_text.empty()) {
    const auto port = port_number(port_text);
    if (!port) return {std::nullopt, "port '" + port_text + "' is not a number from 1 to 65535"};
    o.port = *port;
  }
  if (o.user.empty() != o.password.empty()) {
    return {std::nullopt, "basic auth needs both a username and a password"};
  }
  if (o.homepage.empty() || o.homepage.front() != '/') o.homepage = "/" + o.homepage;
  return {o, ""};
}

}  // namespace pmx::serve
