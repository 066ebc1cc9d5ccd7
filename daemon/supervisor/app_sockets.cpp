// AppSockets: a cluster-mode app's sockets bound, handed out on request, released when idle.
#include "daemon/supervisor/app_sockets.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>
#include <set>
#include <utility>
#include <spdlog/spdlog.h>

#include "config/listen_address.hpp"

namespace pmx::daemon {

using json = ipc::json;

AppSockets::AppSockets(Registry& registry, CredentialsLookup credentials)
    : registry_(registry), credentials_(std::move(credentials)) {}

void AppSockets::answer_listen(Instance& in, NodeChannel& channel, const json& request, bool preloaded) {
  // A listen() of the app, as Node normalised it: address null (every address), an IP, or a
  // Unix path with port -1. Untrusted: any line on the channel can claim to be one.
  const auto id = request.find("id");
  json reply{{"cmd", "NODE_PMX"}, {"pmx", "listen"}, {"id", id != request.end() && id->is_number() ? *id : json()}};
  config::ListenAddress address;
  auto refuse = [&](int err, const std::string& why) {
    // An app may flood the channel: the first ten refusals are logged, then every thousandth.
    const std::uint64_t n = ++in.listen_refusals;
    if (n <= 10 || n % 1000 == 0) {
      spdlog::warn("{} asked pmxd to listen on {}: refused ({}), {}{}", label(in), address.text(), std::strerror(err),
                   why, n > 10 ? fmt::format(" ({} refusals so far)", n) : "");
    }
    reply["errno"] = -err;
    channel.send(reply);
  };
  const json host = request.contains("address") ? request["address"] : json();
  const auto port_field = request.find("port");
  const int port = port_field != request.end() && port_field->is_number_integer() &&
                           port_field->get<long long>() >= -1 && port_field->get<long long>() <= 65535
                       ? static_cast<int>(port_field->get<long long>())
                       : -2;
  const auto index_field = request.find("index");
  const int index = index_field != request.end() && index_field->is_number_unsigned() &&
                            index_field->get<std::uint64_t>() <= 65535
                        ? static_cast<int>(index_field->get<std::uint64_t>())
                        : 0;
  auto flag = [&](const char* key) {
    const auto f = request.find(key);
    return f != request.end() && f->is_boolean() && f->get<bool>();
  };
  if (port == -1 && host.is_string()) {
    address.kind = config::ListenAddress::Kind::Unix;
    address.path = host.get<std::string>();
    // As Node's own listen(path) makes it (umask 022), widened by readableAll / writableAll.
    address.mode = 0755 | (flag("readableAll") ? 0444 : 0) | (flag("writableAll") ? 0222 : 0);
  } else if (port >= 0 && (host.is_null() || host.is_string())) {
    address.port = port;
    if (host.is_string()) address.host = host.get<std::string>();
  } else {
    return refuse(EINVAL, "not a listen request pmxd can read");
  }
  // Only a run that has the preload asks for sockets: any other app's channel (fork mode, a
  // non-cluster app, reuse_port) gets nothing bound, whatever it sends.
  if (!preloaded) return refuse(EPERM, "only cluster-mode Node apps run with pmx's preload ask for sockets");
  const bool unix_path = address.kind == config::ListenAddress::Kind::Unix;
  if (unix_path && (address.path.empty() || address.path[0] != '/' || address.path.size() >= 108)) {
    return refuse(EINVAL, "a Unix socket needs an absolute path of at most 107 bytes");
  }
  // What the operator granted: the app's own port and listen entries, bound before it started.
  bool granted = false;
  if (auto configured = config::listen_addresses(in.spec)) {
    for (const auto& a : *configured) granted = granted || same_socket(a, address);
  }
  // Anything else is made as the app's user, as it would have made it itself.
  std::optional<Credentials> user;
  if ((!in.spec.uid.empty() || !in.spec.gid.empty()) && ::geteuid() == 0) {
    auto resolved = credentials_(in.spec.uid, in.spec.gid);
    if (!resolved) return refuse(EPERM, resolved.error());
    user = *resolved;
  }
  const bool as_root = ::geteuid() == 0 && (!user || !user->uid || *user->uid == 0);
  if (!granted && !unix_path && address.port > 0 && address.port < 1024 && !as_root) {
    return refuse(EACCES, "a port below 1024 is bound for an app only when its port or listen option names it");
  }
  App& app = registry_.apps().at(in.spec.name);
  for (const auto& [name, other] : registry_.apps()) {
    if (&other != &app && other.listeners.has(address)) return refuse(EADDRINUSE, "app '" + name + "' listens there");
  }
  const int fd = app.listeners.socket_for(address, index, granted || !user ? nullptr : &*user, in.app_instance);
  if (fd < 0) {
    const int err = errno;
    if (err == EMFILE && app.listeners.size() >= Listeners::kMaxSockets) {
      return refuse(err, "the app holds " + std::to_string(Listeners::kMaxSockets) +
                             " sockets already, the most pmxd binds for one app");
    }
    return refuse(err, granted || !user ? "binding failed" : "binding as the app's user failed");
  }
  channel.send_handle(reply, fd);
}

Result<bool> AppSockets::bind(App& app, const config::AppSpec& spec) {
  if (app.listeners.bound()) return true;
  auto addresses = config::listen_addresses(spec);
  if (!addresses) return Error{addresses.error()};
  if (addresses->empty()) return true;
  for (const auto& [name, other] : registry_.apps()) {
    for (const auto& a : *addresses) {
      if (&other != &app && other.listeners.has(a)) return Error{a.text() + ": app '" + name + "' listens there"};
    }
  }
  // An app run as another user gets its socket files (the operator named their paths).
  std::optional<Credentials> owner;
  if ((!spec.uid.empty() || !spec.gid.empty()) && ::geteuid() == 0) {
    auto resolved = credentials_(spec.uid, spec.gid);
    if (!resolved) return Error{resolved.error()};
    owner = *resolved;
  }
  auto bound = app.listeners.bind(*addresses, owner ? &*owner : nullptr);
  if (!bound) return bound;
  std::string list;
  for (const auto& t : app.listeners.texts()) list += (list.empty() ? "" : ", ") + t;
  spdlog::info("{}: listening on {}", app.name(), list);
  return true;
}

void AppSockets::update_slots(App& app) {
  if (!app.listeners.bound()) return;
  // A slot serves while its instance is online (a reload's replacement runs beside it in the
  // same slot); it keeps its socket, out of the turn, while a run is on its way or stopping.
  std::set<int> serving, held;
  for (const auto& [id, in] : app.instances()) {
    const State state = in->fsm.state();
    if (state == State::Online) serving.insert(in->app_instance);
    else if (!is_stopped(state)) held.insert(in->app_instance);
  }
  app.listeners.set_slots(serving, held);
}

void AppSockets::release_if_idle(App& app) {
  if (!app.listeners.bound()) return;
  for (const auto& [id, in] : app.instances()) {
    if (!is_stopped(in->fsm.state())) return;
  }
  app.listeners.close();
  spdlog::info("{}: every instance is stopped, its sockets are closed", app.name());
}


}  // namespace pmx::daemon
