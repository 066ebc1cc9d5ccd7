// The pmx home layout.
#include "config/paths.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>

#include "config/app_spec.hpp"

namespace pmx::config {

Paths Paths::from_environment() {
  if (const char* h = std::getenv("PMX_HOME"); h && *h) return Paths{h};
  std::string user_home;
  if (const char* h = std::getenv("HOME"); h && *h) {
    user_home = h;
  } else if (const passwd* pw = getpwuid(getuid()); pw && pw->pw_dir) {
    user_home = pw->pw_dir;
  } else {
    user_home = "/tmp";
  }
  return Paths{user_home + "/.pmx"};
}

std::string Paths::cgroup_name() const {
  return "pmx-" + std::to_string(getuid()) + "-" +
         std::to_string(std::hash<std::string>{}(home) & 0xffffffffu);
}

std::string Paths::out_log(const std::string& app_name) const {
  return logs_dir() + "/" + file_safe_name(app_name) + "-out.log";
}

std::string Paths::err_log(const std::string& app_name) const {
  return logs_dir() + "/" + file_safe_name(app_name) + "-error.log";
}

std::string Paths::pid_file(const std::string& app_name, int pm_id) const {
  return pids_dir() + "/" + file_safe_name(app_name) + "-" + std::to_string(pm_id) + ".pid";
}

}  // namespace pmx::config
