// PidFile: an instance's pid file (PM2's pm_pid_path), written as root at every spawn and removed
// when the run ends. Its folder may be the app's own, so it is reached through SafePath: the file
// is written whole under a random name and renamed over the pid file, which replaces whatever
// the app put there (a link is replaced, never followed, never truncated).
#pragma once

#include <sys/types.h>

#include <string>

namespace pmx::daemon {

/// Writes "<pid>\n" to path (its missing folders made). A path SafePath refuses (a folder on
/// the way is a link in a folder others can write) or cannot write is logged once, until a
/// write succeeds again, and left alone.
void write_pid_file(const std::string& path, pid_t pid);

/// Removes the pid file at path, if any (a link there is removed itself, a refused path left).
void remove_pid_file(const std::string& path);

}  // namespace pmx::daemon
