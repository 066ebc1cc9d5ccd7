// The pmx home layout.
#include "config/paths.hpp"

#include <limits.h>
#include <pwd.h>
#include <sys/stat.h>
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

bool is_regular_file(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string absolute_path(const std::string& path, const std::string& base) {
  if (path.empty() || path[0] == '/') return path;
  return base + "/" + path;
}

std::string current_directory() {
  char buf[PATH_MAX];
  return ::getcwd(buf, sizeof buf) ? buf : ".";
}

std::string find_in_path(const std::string& name, const std::string& path_list) {
  if (name.empty() || name.find('/') != std::string::npos) return "";
  std::string dirs = path_list;
  if (dirs.empty()) {
    const char* p = std::getenv("PATH");
    dirs = p && *p ? p : "/usr/local/bin:/usr/bin:/bin";
  }
  std::size_t start = 0;
  while (start <= dirs.size()) {
    std::size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (is_regular_file(candidate) && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

}  // namespace pmx::config
