// `pmx serve`: starts pmx-serve as an app, named and configured as PM2 names and configures
// its static server.
#include "cli/serve_verb.hpp"

#include <CLI/CLI.hpp>
#include <charconv>
#include <cstdlib>

#include "cli/autostart.hpp"
#include "cli/command_line.hpp"
#include "cli/commands.hpp"
#include "cli/daemon_connection.hpp"
#include "cli/start_verb.hpp"
#include "config/paths.hpp"

namespace pmx::cli {

void define_serve(CLI::App& c, CommandLine& cl) {
  ServeVerbOptions& o = cl.serve;
  c.add_option("folder", o.folder, "the folder to serve (default: the current one)");
  c.add_option("port", o.port, "the port (default 8080)");
  c.add_option("--port", o.port, "the port (default 8080)");
  c.add_option("-n,--name", o.name, "the app's name (default static-page-server-<port>)");
  c.add_flag("--spa", o.spa, "single-page app: paths that name no file get index.html");
  c.add_option("--basic-auth-username", o.user, "ask for this user name (HTTP Basic auth)");
  c.add_option("--basic-auth-password", o.password, "and this password");
}

int run_serve(Invocation& inv) {
  const ServeVerbOptions& o = inv.cl.serve;
  const std::string port = o.port.empty() ? "8080" : o.port;
  int number = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (ec != std::errc{} || end != port.data() + port.size() || number < 1 || number > 65535) {
    throw Failure(kUsage, "serve: port '" + port + "' is not a number from 1 to 65535");
  }
  const std::string folder = config::absolute_path(o.folder.empty() ? "." : o.folder, config::current_directory());
  if (!config::is_directory(folder)) throw Failure(kUsage, "serve: " + folder + " is not a folder");
  if (o.user.empty() != o.password.empty()) {
    throw Failure(kUsage, "serve: --basic-auth-username and --basic-auth-password go together");
  }
  const std::string binary = companion_binary("pmx-serve", "serve");
  if (binary.front() != '/' && config::find_in_path(binary).empty()) {
    throw Failure(kFailed, "serve: pmx-serve is not installed next to pmx (nor in PATH)");
  }
  StartOptions so;
  so.positional = {binary, folder, port};
  if (o.spa) so.positional.push_back("--spa");
  so.values["name"] = o.name.empty() ? "static-page-server-" + port : o.name;
  // The credentials go in the app's environment (PM2's variables), not in its arguments, which
  // any user of the machine can read in ps.
  if (!o.user.empty()) {
    ::setenv("PM2_SERVE_BASIC_AUTH_USERNAME", o.user.c_str(), 1);
    ::setenv("PM2_SERVE_BASIC_AUTH_PASSWORD", o.password.c_str(), 1);
  }
  return start_script(inv.daemon, so);
}

}  // namespace pmx::cli
