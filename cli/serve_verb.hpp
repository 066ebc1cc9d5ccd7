// `pmx serve [folder] [port]`: PM2's static file server, as an app pmxd manages (listed,
// logged, restarted), run by pmx-serve (serve/), which needs no Node.
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace pmx::cli {

struct CommandLine;
struct Invocation;

struct ServeVerbOptions {
  std::string folder;     ///< the folder served; "." when not given
  std::string port;       ///< the port, positional or --port; 8080 when not given
  std::string name;       ///< the app's name; static-page-server-<port> as in PM2
  bool spa = false;       ///< unknown paths get index.html
  std::string user;       ///< --basic-auth-username
  std::string password;   ///< --basic-auth-password
};

void define_serve(CLI::App& c, CommandLine& cl);
int run_serve(Invocation& inv);

}  // namespace pmx::cli
