// FileWatcher: inotify, a watch per folder, new folders added as they appear, a quiet timer.
#include "daemon/listeners/file_watcher.hpp"

#include <dirent.h>
#include <fnmatch.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <regex>
#include <spdlog/spdlog.h>

namespace pmx::daemon {
namespace {

constexpr std::uint32_t kEvents = IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
                                  IN_ATTRIB | IN_DELETE_SELF | IN_ONLYDIR;

/// Folders and names never worth a restart, as PM2 ignores them by default.
constexpr const char* kAlwaysIgnored[] = {"node_modules", ".git"};

}  // namespace

FileWatcher::FileWatcher(boost::asio::io_context& io, Rules rules, std::chrono::milliseconds delay, Changed on_change)
    : rules_(std::move(rules)), delay_(delay), on_change_(std::move(on_change)), stream_(io), quiet_(io) {
  // A rule with \ ^ $ ( ) | + is a regular expression, searched in "/<relative path>" (PM2's
  // example: "[\/\\]\./" ignores dot files); plain names and globs are not. Compiled here,
  // once: every inotify event is checked against them.
  for (const auto& rule : rules_.ignore) {
    if (rule.find_first_of("\\^$()|+") == std::string::npos) continue;
    try {
      patterns_.emplace_back(rule);
    } catch (const std::regex_error&) {
      // Not a valid expression after all: the name and glob checks have their say.
    }
  }
  fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd_ < 0) {
    spdlog::error("watch: inotify: {}; the app is not watched", std::strerror(errno));
    return;
  }
  stream_.assign(fd_);
  for (const auto& root : rules_.roots) add_tree(root);
  read_events();
}

FileWatcher::~FileWatcher() {
  boost::system::error_code ignored;
  stream_.close(ignored);  // closes the inotify fd and every watch with it
}

bool FileWatcher::ignored(const std::string& path) const {
  if (rules_.ours && rules_.ours(path)) return true;
  // Rules match the path below the watched folder, as chokidar's do under PM2: the folders
  // above it (a /tmp, a /srv/www) are no part of what an app's ignore_watch names.
  std::string relative = path.substr(path.rfind('/') + 1);
  for (const auto& root : rules_.roots) {
    if (path == root) relative.clear();
    else if (path.rfind(root + "/", 0) == 0) relative = path.substr(root.size() + 1);
  }
  const std::string name = path.substr(path.rfind('/') + 1);
  auto component = [&](const std::string& word) {
    std::size_t start = 0;
    while (start <= relative.size()) {
      const std::size_t end = std::min(relative.find('/', start), relative.size());
      if (relative.compare(start, end - start, word) == 0 && end - start == word.size()) return true;
      start = end + 1;
    }
    return false;
  };
  for (const char* always : kAlwaysIgnored) {
    if (component(always)) return true;
  }
  for (const auto& rule : rules_.ignore) {
    if (component(rule) || ::fnmatch(rule.c_str(), relative.c_str(), 0) == 0 ||
        ::fnmatch(rule.c_str(), name.c_str(), 0) == 0) {
      return true;
    }
  }
  if (!patterns_.empty()) {
    const std::string rooted = "/" + relative;
    for (const auto& pattern : patterns_) {
      if (std::regex_search(rooted, pattern)) return true;
    }
  }
  return false;
}

void FileWatcher::add_tree(const std::string& path) {
  if (ignored(path)) return;
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) {
    spdlog::warn("watch: {}: {}", path, std::strerror(errno));
    return;
  }
  if (!S_ISDIR(st.st_mode)) return add_file(path);
  const int wd = ::inotify_add_watch(fd_, path.c_str(), kEvents);
  if (wd < 0) {
    if (!limit_logged_) {
      limit_logged_ = true;
      spdlog::error("watch: cannot watch {}: {} (raise fs.inotify.max_user_watches, or ignore_watch "
                    "more folders); changes there are missed", path, std::strerror(errno));
    }
    return;
  }
  // The same folder added again (a file root in it came first) gives the same descriptor.
  Watched& w = dirs_[wd];
  w.path = path;
  w.whole = true;
  w.names.clear();
  DIR* dir = ::opendir(path.c_str());
  if (!dir) return;
  while (const dirent* e = ::readdir(dir)) {
    const std::string entry = e->d_name;
    if (entry == "." || entry == "..") continue;
    if (e->d_type == DT_DIR || e->d_type == DT_UNKNOWN) {
      const std::string child = path + "/" + entry;
      struct stat cs{};
      if (::lstat(child.c_str(), &cs) == 0 && S_ISDIR(cs.st_mode)) add_tree(child);
    }
  }
  ::closedir(dir);
}

void FileWatcher::add_file(const std::string& path) {
  // Not the file's inode: an editor that saves by renaming a new file over it (or deleting and
  // writing it again) would end that watch (IN_IGNORED) after the first save. Its folder is
  // watched instead, for that name.
  const auto slash = path.rfind('/');
  const std::string folder = slash == 0 ? "/" : path.substr(0, slash);
  const std::string name = path.substr(slash + 1);
  const int wd = ::inotify_add_watch(fd_, folder.c_str(), kEvents);
  if (wd < 0) {
    spdlog::warn("watch: cannot watch {} (its folder {}): {}", path, folder, std::strerror(errno));
    return;
  }
  auto [it, added] = dirs_.try_emplace(wd);
  if (added) it->second.path = folder;
  if (!it->second.whole) it->second.names.insert(name);
}

void FileWatcher::read_events() {
  stream_.async_wait(boost::asio::posix::stream_descriptor::wait_read, [this](const boost::system::error_code& ec) {
    if (ec) return;
    alignas(inotify_event) char buf[16384];
    for (;;) {
      const ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) break;
      for (ssize_t off = 0; off < n;) {
        const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
        off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
        auto dir = dirs_.find(ev->wd);
        if (dir == dirs_.end()) continue;
        if (ev->mask & IN_IGNORED) {
          dirs_.erase(dir);
          continue;
        }
        const Watched& w = dir->second;
        // A folder watched for some of its files: the others' events are not ours.
        if (!w.whole && (ev->len == 0 || !w.names.count(ev->name))) continue;
        const std::string path = ev->len > 0 ? w.path + "/" + ev->name : w.path;
        if (ignored(path)) continue;
        if (w.whole && (ev->mask & (IN_CREATE | IN_MOVED_TO)) && (ev->mask & IN_ISDIR)) add_tree(path);
        if (changes_++ == 0) first_ = path;
        // The burst is over once nothing has changed for the delay: one call for it.
        quiet_.expires_after(delay_);
        quiet_.async_wait([this](const boost::system::error_code& e) {
          if (e || changes_ == 0) return;
          const std::size_t changes = std::exchange(changes_, 0);
          on_change_(first_, changes);
        });
      }
    }
    read_events();
  });
}

}  // namespace pmx::daemon
