// ListenAddress: a socket pmx binds for a cluster-mode app ("3000", "127.0.0.1:3000",
// "[::1]:8080", "unix:/run/app.sock,mode=0660"), and the rule that says which apps run in
// cluster mode.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/app_spec.hpp"
#include "config/result.hpp"

namespace pmx::config {

struct ListenAddress {
  enum class Kind { Tcp, Unix };
  Kind kind = Kind::Tcp;
  std::string host;    ///< an IP literal; "" is every address (IPv6 and IPv4)
  int port = 0;        ///< 1..65535 for Tcp
  std::string path;    ///< absolute path of a Unix socket
  unsigned mode = 0666;  ///< the Unix socket file's mode (systemd's SocketMode default)

  /// The canonical form, as messages and `jlist` show it: "*:3000", "127.0.0.1:3000",
  /// "[::1]:3000", "unix:/run/app.sock".
  std::string text() const;
  bool operator==(const ListenAddress&) const = default;
};

/// Reads one entry of the `listen` option:
///   "3000", ":3000", "*:3000"       every address, port 3000
///   "0.0.0.0:3000", "[::]:3000"     IPv4 only, IPv6 (and IPv4 unless the system says v6only)
///   "127.0.0.1:3000", "[::1]:3000"  one address (IP literals, or "localhost" for 127.0.0.1)
///   "unix:/run/app.sock"            a Unix socket; ",mode=0660" sets its file mode (default 0666)
Result<ListenAddress> parse_listen_address(std::string_view text);

/// The sockets a cluster-mode app is given: its `listen` entries, else its `port` on every
/// address, else none. Fails naming the entry that cannot be read.
Result<std::vector<ListenAddress>> listen_addresses(const AppSpec& spec);

/// A Node app: its interpreter is node (or nodejs).
bool is_node_app(const AppSpec& spec);

/// PM2's rule for an app that gives `instances` but no `exec_mode`: cluster mode for a Node app
/// and, beyond PM2, for any app with `port` or `listen`. Call once the interpreter is known.
void apply_cluster_rule(AppSpec& spec);

/// Whether the app's instances run in cluster mode: exec_mode cluster for a Node app (the
/// preload hands each `listen()` the shared socket), or for any app with sockets to hand over
/// (`port` or `listen`). A non-Node app in exec_mode cluster without either runs in fork mode.
bool runs_in_cluster_mode(const AppSpec& spec);
/// The mode as PM2 spells it in jlist, the environment and the metrics: "cluster_mode" or
/// "fork_mode".
const char* exec_mode_name(const AppSpec& spec);

}  // namespace pmx::config
