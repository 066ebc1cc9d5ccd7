// SafePath: the files pmxd opens, renames and removes on an app's behalf (its log and pid files),
// reached without following a link that someone other than root could have planted.
//
// pmxd usually runs as root and its apps as other users, and an app's log folder is often the
// app's own. Opened by path, a log file that the app replaced with a symbolic link would make
// root append the app's output to whatever the link names. So a path is walked from "/" one
// folder at a time, each folder held open (O_PATH) and the next one opened relative to it
// (openat2 with RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH, or O_NOFOLLOW where openat2 is missing):
//
// - a folder is *shared* when someone besides root (and pmxd's own user) can add, rename or
//   remove its entries: another owner, or group/other write permission; every folder below a
//   shared one is shared too (its owner can rename it away and put another in its place);
// - a symbolic link is followed only outside shared folders, and only when root (or pmxd's
//   user) owns it: a link only root could have made, as /var/run -> /run; in a shared folder
//   a link is refused, wherever it points;
// - the file itself is opened O_NOFOLLOW | O_NONBLOCK (a FIFO or a device never blocks the
//   loop) and kept only when it is a regular file with no other hard link, and, in a shared
//   folder, owned by root, pmxd's user or the folder's owner (as fs.protected_regular);
// - renames, removals and temporary files happen relative to the held folder (renameat,
//   unlinkat, O_EXCL with a random name), never by path again.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <string>
#include <system_error>
#include <vector>

#include "daemon/state/unique_fd.hpp"

namespace pmx::daemon {

/// Why a path could not be used. refusal says what pmxd found where it expected a folder or a
/// regular file (a symbolic link in a shared folder, a FIFO, a file with other hard links); it
/// is empty for an ordinary failure (no permission, no space), which code carries.
struct PathError {
  int code = 0;
  std::string refusal;

  bool refused() const { return !refusal.empty(); }
  /// "refused: <refusal>", or the text of code.
  std::string message() const;
};

/// A folder held open (O_PATH) and whether it is shared (see above).
class SafeDir {
 public:
  SafeDir() = default;
  /// fd: the folder, as st describes it.
  SafeDir(UniqueFd fd, std::string path, bool shared, const struct stat& st);

  bool valid() const { return fd_.valid(); }
  int fd() const { return fd_.get(); }
  /// The folder's path as it was reached (links resolved), for messages.
  const std::string& path() const { return path_; }
  /// Whether someone besides root (pmxd's user) can change its entries.
  bool shared() const { return shared_; }
  /// Another handle on the same folder (for a worker thread); invalid when out of descriptors.
  SafeDir dup() const;
  /// Whether path (followed as stat(2) follows it) names this folder still: one system call
  /// instead of a new walk, to notice a folder moved away. Nothing is opened through path.
  bool is_at(const std::string& path) const;

  /// Opens the file name (no '/') of this folder with open(2)'s flags and mode: O_NOFOLLOW,
  /// O_NONBLOCK and O_CLOEXEC are added; O_TRUNC is applied only once the file is known to be
  /// acceptable (a regular file, one link, and in a shared folder an owner it may have).
  UniqueFd open_file(const std::string& name, int flags, mode_t mode, PathError& error) const;
  /// Creates a new file named prefix + "." + random letters (O_EXCL: never an existing name or
  /// link), for writing; name gets the name chosen.
  UniqueFd create_temp(const std::string& prefix, mode_t mode, std::string& name, PathError& error) const;
  /// lstat of name in this folder (a link is not followed); errno on failure.
  std::error_code stat(const std::string& name, struct stat& st) const;
  /// renameat within this folder (to is replaced, never followed); with no_replace an existing
  /// to is an error (EEXIST).
  std::error_code rename(const std::string& from, const std::string& to, bool no_replace) const;
  /// unlinkat of name (a link is removed itself).
  std::error_code remove(const std::string& name) const;
  /// The names of the regular files in this folder (links and other kinds are left out).
  std::vector<std::string> regular_files() const;

 private:
  UniqueFd fd_;
  std::string path_;
  bool shared_ = false;
  uid_t owner_ = 0;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

/// A file's folder, held, and its name in it.
struct SafeLocation {
  SafeDir dir;
  std::string name;
};

/// Walks path (made absolute against the current directory) as described above, to its last
/// component: the folder that holds it (reached through the links that may be followed) and its
/// name. A link as the last component is followed by the same rule; one that may not be is
/// returned as it is (open_file refuses it; rename and remove act on the link itself). With
/// create_folders, missing folders are made (mode 0755, owned by pmxd's user). An invalid dir
/// on failure, with error set (refused for a link on the way that may not be followed).
SafeLocation locate(const std::string& path, bool create_folders, PathError& error);

/// locate, then SafeDir::open_file.
UniqueFd open_file(const std::string& path, int flags, mode_t mode, bool create_folders, PathError& error);

}  // namespace pmx::daemon
