// Paths: every location under the pmx home directory (PMX_HOME, default ~/.pmx).
#pragma once

#include <string>

namespace pmx::config {

/// The layout of a pmx home. Nothing else builds paths under it.
struct Paths {
  std::string home;

  /// PMX_HOME if set, else $HOME/.pmx (the password database's home when HOME is unset).
  static Paths from_environment();

  std::string socket() const { return home + "/pmx.sock"; }
  std::string daemon_pid() const { return home + "/pmxd.pid"; }
  std::string daemon_log() const { return home + "/pmx.log"; }
  std::string logs_dir() const { return home + "/logs"; }
  std::string pids_dir() const { return home + "/pids"; }
  std::string cgroup_name() const;  ///< a name unique to this home, for the cgroup folder

  std::string out_log(const std::string& app_name) const;
  std::string err_log(const std::string& app_name) const;
  std::string pid_file(const std::string& app_name, int pm_id) const;
};

}  // namespace pmx::config
