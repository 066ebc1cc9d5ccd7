// The pmx home layout.
#include "config/paths.hpp"
#include "config/utf8.hpp"

#include <cerrno>
#include <filesystem>

#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>

namespace pmx::config {

std::string file_safe_name(const std::string& name) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(name.size());
  for (std::size_t i = 0; i < name.size();) {
    const char c = name[i];
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                      c == '-' || c == '_';
    if (keep) {
      out += c;
      ++i;
    } else if (std::size_t len = 1; utf8_sequence(name, i, len)) {
      out.append(name, i, len);
      i += len;
    } else {
      const auto b = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 0xF];
      ++i;
    }
  }
  return out;
}

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

bool is_directory(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string absolute_path(const std::string& path, const std::string& base) {
  if (path.empty()) return path;
  // Lexically, as Node's path.resolve (which PM2 uses): "./app.js" and "app.js" are one script.
  const std::filesystem::path p = path[0] == '/' ? std::filesystem::path(path) : std::filesystem::path(base) / path;
  return p.lexically_normal().string();
}

int open_creating_folders(const std::string& path, int flags, unsigned mode) {
  int fd = ::open(path.c_str(), flags, mode);
  if (fd >= 0 || errno != ENOENT) return fd;
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (parent.empty() || !std::filesystem::create_directories(parent, ec)) {
    errno = ec ? ec.value() : ENOENT;  // nothing was missing above it: the file's own ENOENT
    return -1;
  }
  return ::open(path.c_str(), flags, mode);
}

std::string current_directory() {
  char buf[PATH_MAX];
  return ::getcwd(buf, sizeof buf) ? buf : ".";
}

std::string real_path(const std::string& path) {
  char* real = ::realpath(path.c_str(), nullptr);
  if (!real) return path;
  std::string out = real;
  std::free(real);
  return out;
}

std::string own_executable() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
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
