// `pmx startup` and `pmx unstartup`: the systemd unit that starts pmxd at boot with the apps
// `pmx save` recorded (docs/systemd.md says why the unit is as it is).
#pragma once

#include <string>

namespace pmx::cli {

struct StartupOptions {
  std::string init_system;   ///< "systemd" (the only one) or empty
  std::string user;          ///< User= of the unit; empty: the caller
  std::string home_dir;      ///< --hp: the user's home folder; PMX_HOME is <it>/.pmx
  std::string service_name;  ///< empty: pmx-<user>
  std::string unit_dir = "/etc/systemd/system";
  bool dry_run = false;
};

/// The unit's text for these options: pmxd and pmx are the binaries' absolute paths.
std::string startup_unit(const std::string& user, const std::string& pmx_home, const std::string& pmxd,
                         const std::string& pmx, const std::string& path_env);

/// pmx startup: writes and enables the unit, or prints it and the commands to run (dry run,
/// or not root). Returns the exit code.
int run_startup(const StartupOptions& options);

/// pmx unstartup: disables and removes the unit. Returns the exit code.
int run_unstartup(const StartupOptions& options);

}  // namespace pmx::cli
