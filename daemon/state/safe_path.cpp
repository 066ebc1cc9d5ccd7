// SafePath: the walk from "/", openat2 (O_NOFOLLOW where it is missing), and the checks made
// on a file before it is used.
#include "daemon/state/safe_path.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>

#include "config/paths.hpp"

namespace pmx::daemon {

namespace {

/// Links followed in one walk at most (the kernel's own limit).
constexpr int kMaxLinks = 40;
/// Steps of one walk at most (folders, links, folders made): a bound on a walk raced by
/// someone who keeps removing what it makes.
constexpr int kMaxSteps = 4096;

/// A user who may own what a link is followed through: root, or the user pmxd runs as.
bool trusted_owner(uid_t uid) { return uid == 0 || uid == ::geteuid(); }

/// Whether someone besides a trusted owner can add, rename or remove the folder's entries.
bool others_can_write(const struct stat& st) {
  return !trusted_owner(st.st_uid) || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0;
}

std::string describe_folder(const std::string& path, const struct stat& st) {
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  return path + " (owner uid " + std::to_string(st.st_uid) + ", mode " + mode + ")";
}

std::string kind_of(mode_t mode) {
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISDIR(mode)) return "a folder";
  return "not a regular file";
}

std::string join(const std::string& folder, const std::string& name) {
  return folder == "/" ? "/" + name : folder + "/" + name;
}

/// One component (no '/') opened relative to dir, following no link at all: openat2 with
/// RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH, or openat with O_NOFOLLOW on kernels before 5.6
/// (for one component the two refuse the same links, except O_PATH, which O_DIRECTORY covers).
int open_beneath(int dir, const std::string& name, int flags, mode_t mode) {
  open_how how{};
  how.flags = static_cast<std::uint64_t>(flags);
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_BENEATH;
  for (;;) {
    const long fd = ::syscall(SYS_openat2, dir, name.c_str(), &how, sizeof how);
    if (fd >= 0) return static_cast<int>(fd);
    if (errno == EINTR) continue;
    if (errno != ENOSYS) return -1;
    break;
  }
  return ::openat(dir, name.c_str(), flags | O_NOFOLLOW, mode);
}

std::deque<std::string> components(const std::string& path) {
  std::deque<std::string> parts;
  std::size_t from = 0;
  while (from <= path.size()) {
    std::size_t slash = path.find('/', from);
    if (slash == std::string::npos) slash = path.size();
    std::string part = path.substr(from, slash - from);
    if (!part.empty() && part != ".") parts.push_back(std::move(part));
    from = slash + 1;
  }
  return parts;
}

/// Where a walk is: the folder held, its path and status, and whether it could have been put
/// there by someone else.
struct Position {
  UniqueFd fd;
  std::string path;
  struct stat st {};
  /// The first folder on the way whose entries others could replace (described), so that this
  /// one may not be what it seems; empty while none.
  std::string tainted_by;

  /// Whether an entry of this folder owned by uid can only have been put there, renamed or
  /// replaced by a trusted user: this folder is not tainted, and either no one else can write
  /// it, or it is sticky (as /tmp), a trusted user's, and so is the entry (others cannot rename
  /// what they do not own there).
  bool protects(uid_t uid) const {
    if (!tainted_by.empty()) return false;
    return !others_can_write(st) || ((st.st_mode & S_ISVTX) && trusted_owner(st.st_uid) && trusted_owner(uid));
  }
  /// This folder, and what made it suspect, for messages.
  std::string suspect() const {
    return describe_folder(path, st) + (tainted_by.empty() ? "" : ", below " + tainted_by);
  }
};

/// Moves the walk into the folder fd (named path), an entry of the folder it was in (none for
/// "/"); false with error set when fd is not a folder.
bool enter(Position& at, UniqueFd fd, std::string path, PathError& error, bool from_parent = true) {
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    error.code = errno;
    return false;
  }
  if (!S_ISDIR(st.st_mode)) {
    error.code = ENOTDIR;
    return false;
  }
  if (from_parent && at.tainted_by.empty() && !at.protects(st.st_uid)) at.tainted_by = describe_folder(at.path, at.st);
  at.fd = std::move(fd);
  at.path = std::move(path);
  at.st = st;
  return true;
}

bool enter_root(Position& at, PathError& error) {
  UniqueFd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) {
    error.code = errno;
    return false;
  }
  at.tainted_by.clear();
  return enter(at, std::move(root), "/", error, false);
}

}  // namespace

std::string PathError::message() const {
  if (refused()) return "refused: " + refusal;
  return std::strerror(code);
}

SafeDir::SafeDir(UniqueFd fd, std::string path, bool shared, const struct stat& st)
    : fd_(std::move(fd)), path_(std::move(path)), shared_(shared), owner_(st.st_uid), dev_(st.st_dev), ino_(st.st_ino) {}

SafeDir SafeDir::dup() const {
  UniqueFd copy(fd_ ? ::fcntl(fd_.get(), F_DUPFD_CLOEXEC, 0) : -1);
  if (!copy) return {};
  SafeDir same;
  same.fd_ = std::move(copy);
  same.path_ = path_;
  same.shared_ = shared_;
  same.owner_ = owner_;
  same.dev_ = dev_;
  same.ino_ = ino_;
  return same;
}

bool SafeDir::is_at(const std::string& path) const {
  struct stat st {};
  return fd_ && ::stat(path.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_;
}

UniqueFd SafeDir::open_file(const std::string& name, int flags, mode_t mode, PathError& error) const {
  error = {};
  const std::string path = join(path_, name);
  auto refuse = [&](std::string why) {
    error.code = EPERM;
    error.refusal = path + " " + std::move(why) +
                    (shared_ ? ", in a folder others than root can write" : "");
    return UniqueFd();
  };
  // What is there is looked at first, so that no FIFO or device is ever opened.
  struct stat st {};
  if (::fstatat(fd_.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode)) {
    return refuse("is " + kind_of(st.st_mode));
  }
  UniqueFd fd(open_beneath(fd_.get(), name, (flags & ~O_TRUNC) | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, mode));
  if (!fd) {
    const int err = errno;
    // Replaced between the look and the open.
    if (err == ELOOP || err == ENXIO || err == ENODEV || err == EXDEV) {
      if (::fstatat(fd_.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return refuse("is " + kind_of(st.st_mode));
      return refuse("is a symbolic link");
    }
    error.code = err;
    return {};
  }
  if (::fstat(fd.get(), &st) != 0) {
    error.code = errno;
    return {};
  }
  if (!S_ISREG(st.st_mode)) return refuse("is " + kind_of(st.st_mode));
  if (st.st_nlink > 1) return refuse("has " + std::to_string(st.st_nlink) + " hard links");
  if (shared_ && !trusted_owner(st.st_uid) && st.st_uid != owner_) {
    return refuse("belongs to uid " + std::to_string(st.st_uid) + ", not to the folder's owner");
  }
  if ((flags & O_TRUNC) && ::ftruncate(fd.get(), 0) != 0) {
    error.code = errno;
    return {};
  }
  return fd;
}

UniqueFd SafeDir::create_temp(const std::string& prefix, mode_t mode, std::string& name, PathError& error) const {
  error = {};
  for (int attempt = 0; attempt < 16; ++attempt) {
    unsigned char bytes[8];
    if (::getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes)) {
      error.code = errno ? errno : EIO;
      return {};
    }
    char hex[2 * sizeof bytes + 1];
    for (std::size_t i = 0; i < sizeof bytes; ++i) std::snprintf(hex + 2 * i, 3, "%02x", bytes[i]);
    name = prefix + "." + hex;
    UniqueFd fd(open_beneath(fd_.get(), name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
    if (fd) return fd;
    if (errno != EEXIST) {
      error.code = errno;
      return {};
    }
  }
  error.code = EEXIST;
  return {};
}

std::error_code SafeDir::stat(const std::string& name, struct stat& st) const {
  if (::fstatat(fd_.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return {errno, std::generic_category()};
  return {};
}

std::error_code SafeDir::rename(const std::string& from, const std::string& to, bool no_replace) const {
  if (::renameat2(fd_.get(), from.c_str(), fd_.get(), to.c_str(), no_replace ? RENAME_NOREPLACE : 0) == 0) return {};
  // Filesystems without RENAME_NOREPLACE: the same check, made just before.
  if (no_replace && errno == EINVAL) {
    struct stat st {};
    if (::fstatat(fd_.get(), to.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return {EEXIST, std::generic_category()};
    if (::renameat(fd_.get(), from.c_str(), fd_.get(), to.c_str()) == 0) return {};
  }
  return {errno, std::generic_category()};
}

std::error_code SafeDir::remove(const std::string& name) const {
  if (::unlinkat(fd_.get(), name.c_str(), 0) != 0) return {errno, std::generic_category()};
  return {};
}

std::vector<std::string> SafeDir::regular_files() const {
  std::vector<std::string> names;
  const int listing = ::openat(fd_.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (listing < 0) return names;
  DIR* d = ::fdopendir(listing);
  if (!d) {
    ::close(listing);
    return names;
  }
  while (const dirent* e = ::readdir(d)) {
    struct stat st {};
    if (::fstatat(fd_.get(), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) names.emplace_back(e->d_name);
  }
  ::closedir(d);
  return names;
}

SafeLocation locate(const std::string& given, bool create_folders, PathError& error) {
  error = {};
  if (given.empty()) {
    error.code = ENOENT;
    return {};
  }
  const std::string path = given[0] == '/' ? given : config::absolute_path(given, config::current_directory());
  std::deque<std::string> todo = components(path);
  Position at;
  if (!enter_root(at, error)) return {};
  int links = 0;
  for (int steps = 0; !todo.empty(); ++steps) {
    if (steps > kMaxSteps) {
      error.code = ELOOP;
      return {};
    }
    std::string name = std::move(todo.front());
    todo.pop_front();
    if (name == "..") {
      // Only a followed link's target brings one (paths are lexically normal): up one folder.
      UniqueFd up(::openat(at.fd.get(), "..", O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (!up) {
        error.code = errno;
        return {};
      }
      const auto slash = at.path.rfind('/');
      std::string parent = slash == 0 || slash == std::string::npos ? "/" : at.path.substr(0, slash);
      // Its protection comes from its own parent, unknown here: what tainted the walk stays.
      if (!enter(at, std::move(up), std::move(parent), error, false)) return {};
      continue;
    }
    const bool last = todo.empty();
    const std::string here = join(at.path, name);
    struct stat st {};
    if (::fstatat(at.fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      const int err = errno;
      if (err == ENOENT && last) {  // the file itself: made by whoever opens it
        todo.push_front(std::move(name));
        break;
      }
      if (err == ENOENT && create_folders) {
        if (::mkdirat(at.fd.get(), name.c_str(), 0755) != 0 && errno != EEXIST) {
          error.code = errno;
          return {};
        }
        todo.push_front(std::move(name));
        continue;
      }
      error.code = err;
      return {};
    }
    if (S_ISLNK(st.st_mode)) {
      const bool followed = at.protects(st.st_uid) && trusted_owner(st.st_uid);
      if (!followed && last) {
        // The file's own name: the link is what the caller finds there (open_file refuses it,
        // a rename replaces it, a removal removes it), never what it points to.
        todo.push_front(std::move(name));
        break;
      }
      if (!followed) {
        error.code = ELOOP;
        error.refusal = here + " is a symbolic link someone other than root could have made (owner uid " +
                        std::to_string(st.st_uid) + ", in " + at.suspect() + ")";
        return {};
      }
      if (++links > kMaxLinks) {
        error.code = ELOOP;
        return {};
      }
      std::string target(static_cast<std::size_t>(st.st_size > 0 ? st.st_size : 255) + 1, '\0');
      const ssize_t n = ::readlinkat(at.fd.get(), name.c_str(), target.data(), target.size());
      if (n < 0 || static_cast<std::size_t>(n) >= target.size()) {
        error.code = n < 0 ? errno : ENAMETOOLONG;
        return {};
      }
      target.resize(static_cast<std::size_t>(n));
      if (target.empty()) {
        error.code = ENOENT;
        return {};
      }
      auto parts = components(target);
      todo.insert(todo.begin(), parts.begin(), parts.end());
      if (target[0] == '/' && !enter_root(at, error)) return {};
      if (todo.empty()) break;  // the link named "/": a folder, not a file
      continue;
    }
    if (last) {
      todo.push_front(std::move(name));
      break;
    }
    if (!S_ISDIR(st.st_mode)) {
      error.code = ENOTDIR;
      return {};
    }
    UniqueFd next(open_beneath(at.fd.get(), name, O_PATH | O_DIRECTORY | O_CLOEXEC, 0));
    if (!next) {
      error.code = errno;
      if (errno == ELOOP || errno == ENOTDIR) error.refusal = here + " was replaced while pmxd opened it";
      return {};
    }
    if (!enter(at, std::move(next), here, error)) return {};
  }
  if (todo.empty()) {
    error.code = EISDIR;
    return {};
  }
  // What is left is the file's name: the loop stops before it (pushed back) or at its ENOENT.
  std::string name = todo.size() == 1 ? todo.front() : std::string();
  if (name.empty() || name == "..") {
    error.code = EISDIR;
    return {};
  }
  const bool shared = !at.tainted_by.empty() || others_can_write(at.st);
  return SafeLocation{SafeDir(std::move(at.fd), std::move(at.path), shared, at.st), std::move(name)};
}

UniqueFd open_file(const std::string& path, int flags, mode_t mode, bool create_folders, PathError& error) {
  SafeLocation where = locate(path, create_folders, error);
  if (!where.dir.valid()) return {};
  return where.dir.open_file(where.name, flags, mode, error);
}

}  // namespace pmx::daemon
