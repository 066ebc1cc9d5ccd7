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
  std::string settings() const { return home + "/pmx.yaml"; }  ///< config/daemon_settings.hpp
  std::string logs_dir() const { return home + "/logs"; }
  std::string pids_dir() const { return home + "/pids"; }
  std::string dump() const { return home + "/dump.pmx"; }  ///< pmx save's app list
  std::string dump_backup() const { return home + "/dump.pmx.bak"; }  ///< the one before it
  std::string cgroup_name() const;  ///< a name unique to this home, for the cgroup folder

  std::string out_log(const std::string& app_name) const;
  std::string err_log(const std::string& app_name) const;
  std::string pid_file(const std::string& app_name, int pm_id) const;
};

/// The file name part for an app name, one to one (no two names share a log or pid file):
/// ASCII letters, digits, '.', '-' and '_' and valid UTF-8 sequences of non-ASCII characters
/// stay as they are; every other byte (space, '/', '%', control characters, invalid UTF-8)
/// becomes %XX (upper-case hex), as in URLs. "api", "my-app", "worker.1", "my_app", "日本"
/// map to themselves; "a b" becomes "a%20b".
std::string file_safe_name(const std::string& name);

/// True when path names a regular file.
bool is_regular_file(const std::string& path);

/// True when path names a folder (through links).
bool is_directory(const std::string& path);

/// path made absolute against base and lexically normal ("./a", "b/../a" and "a" are one path;
/// empty stays empty), as Node's path.resolve does.
std::string absolute_path(const std::string& path, const std::string& base);

/// open(2) of path with O_CREAT in flags, making its missing folders (mode 0755) first when
/// they are what is missing, as PM2 does for log and pid files ("./logs/out.log").
int open_creating_folders(const std::string& path, int flags, unsigned mode);

/// The current working directory ("." if it cannot be read).
std::string current_directory();

/// path with its symbolic links and ".." resolved, as realpath(3) does; as given when it cannot
/// be resolved (it does not exist).
std::string real_path(const std::string& path);

/// The running program's own executable (/proc/self/exe), "" when it cannot be read.
std::string own_executable();

/// The executable called name in the ':'-separated directories of path_list (PATH's value;
/// the process's PATH when empty), or "" when there is none. A name with a '/' is not searched.
std::string find_in_path(const std::string& name, const std::string& path_list = "");

}  // namespace pmx::config
