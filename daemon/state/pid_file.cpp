// PidFile: a temporary file in the held folder, written, then renamed over the pid file.
#include "daemon/state/pid_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <spdlog/spdlog.h>

#include "daemon/state/safe_path.hpp"

namespace pmx::daemon {

namespace {

/// The pid files whose last write failed and was logged: logged once, not at every spawn.
std::set<std::string>& failing_pid_files() {
  static std::set<std::string> paths;  // the event loop's thread only
  return paths;
}

/// Writes text into the folder's name; empty on success, else what went wrong.
std::string write_in(const SafeLocation& where, const std::string& text) {
  PathError error;
  std::string tmp;
  UniqueFd fd = where.dir.create_temp(where.name + ".tmp", 0644, tmp, error);
  if (!fd) return "cannot create a file in " + where.dir.path() + ": " + error.message();
  std::string why;
  // Mode 0644 whatever the umask: anyone may read a pid file, as with PM2's.
  if (::fchmod(fd.get(), 0644) != 0 || ::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    why = std::strerror(errno);
  } else if (auto ec = where.dir.rename(tmp, where.name, false)) {
    why = ec.message();
  }
  if (!why.empty()) where.dir.remove(tmp);
  return why;
}

}  // namespace

void write_pid_file(const std::string& path, pid_t pid) {
  PathError error;
  const SafeLocation where = locate(path, true, error);
  std::string why = where.dir.valid() ? write_in(where, std::to_string(pid) + "\n") : error.message();
  auto& failing = failing_pid_files();
  if (why.empty()) {
    failing.erase(path);
    return;
  }
  if (failing.insert(path).second) spdlog::warn("cannot write pid file {}: {}, ignoring", path, why);
}

void remove_pid_file(const std::string& path) {
  PathError error;
  const SafeLocation where = locate(path, false, error);
  if (where.dir.valid()) where.dir.remove(where.name);
}

}  // namespace pmx::daemon
