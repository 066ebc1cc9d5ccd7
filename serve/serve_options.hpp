// What pmx-serve serves and how: its command line (`pmx-serve [path] [port] [--spa] ...`, as
// `pmx serve` passes it) over PM2's PM2_SERVE_* environment (ecosystem files written for
// `pm2 serve`).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace pmx::serve {

struct ServeOptions {
  std::string root = ".";        ///< the folder served
  int port = 8080;               ///< PM2's default
  bool spa = false;              ///< unknown paths get the homepage (a single-page app's router)
  std::string homepage = "/index.html";  ///< the --spa fallback, below root
  std::string user;              ///< Basic auth when both are set
  std::string password;
};

/// The options of args (argv without the program) over the environment's PM2_SERVE_PATH,
/// PM2_SERVE_PORT, PM2_SERVE_SPA, PM2_SERVE_HOMEPAGE, PM2_SERVE_BASIC_AUTH_USERNAME and
/// PM2_SERVE_BASIC_AUTH_PASSWORD; an error message naming what is wrong.
struct ParsedOptions {
  std::optional<ServeOptions> options;
  std::string error;
};
ParsedOptions parse_serve_options(const std::vector<std::string>& args);

}  // namespace pmx::serve
