// pmx-serve: the static file server of `pmx serve` (PM2's `pm2 serve`), run by pmxd as an app.
#include <climits>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <sys/stat.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "serve/serve_options.hpp"
#include "serve/static_server.hpp"

int main(int argc, char** argv) {
  using namespace pmx::serve;
  const auto parsed = parse_serve_options(std::vector<std::string>(argv + 1, argv + argc));
  if (!parsed.options) {
    std::cerr << "pmx-serve: " << parsed.error << "\nusage: pmx-serve [folder] [port] [--spa] [--homepage /index.html]"
              << " [--basic-auth-username U --basic-auth-password P]\n";
    return 2;
  }
  ServeOptions options = *parsed.options;
  char resolved[PATH_MAX];
  struct stat st {};
  if (!::realpath(options.root.c_str(), resolved) || ::stat(resolved, &st) != 0 || !S_ISDIR(st.st_mode)) {
    std::cerr << "pmx-serve: " << options.root << " is not a folder\n";
    return 2;
  }
  options.root = resolved;
  boost::asio::io_context io;
  try {
    StaticServer server(io, options);
    server.start();
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code&, int) {
      server.stop();
      io.stop();
    });
    std::cout << "pmx-serve: serving " << options.root << " on port " << options.port
              << (options.spa ? " (single-page app: unknown paths get " + options.homepage + ")" : "")
              << (options.user.empty() ? "" : ", Basic auth") << std::endl;
    io.run();
  } catch (const std::exception& e) {
    std::cerr << "pmx-serve: port " << options.port << ": " << e.what() << "\n";
    return 1;
  }
  return 0;
}
