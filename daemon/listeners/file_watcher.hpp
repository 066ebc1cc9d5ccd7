// FileWatcher: the `watch` option. inotify over folders, recursively, and over single files
// through their folder (an editor's save replaces the file); one call per burst of changes,
// after the burst has been quiet for a delay (watch_delay).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace pmx::daemon {

class FileWatcher {
 public:
  struct Rules {
    /// Folders (or files) to watch, absolute. A file is watched by name in its folder, not by
    /// inode: a save that renames a new file over it, or deletes and writes it again, is a
    /// change, and the file stays watched after it.
    std::vector<std::string> roots;
    /// ignore_watch entries: a name that any path component equals (node_modules), a glob
    /// matched against the path relative to its root and against the file name (*.log), or,
    /// when it holds one of \ ^ $ ( ) | +, a regular expression searched in "/" + that
    /// relative path ("[/\\]\\." for dot files).
    std::vector<std::string> ignore;
    /// Paths pmx writes itself (log and pid files, its home): never a reason to restart.
    std::function<bool(const std::string& path)> ours;
  };
  using Changed = std::function<void(const std::string& first_path, std::size_t changes)>;

  /// Starts watching; problems (a missing root, the inotify watch limit) are logged once.
  FileWatcher(boost::asio::io_context& io, Rules rules, std::chrono::milliseconds delay, Changed on_change);
  ~FileWatcher();
  FileWatcher(const FileWatcher&) = delete;
  FileWatcher& operator=(const FileWatcher&) = delete;

  /// Whether path would be ignored (for tests and the log).
  bool ignored(const std::string& path) const;
  /// How many ignore_watch rules are regular expressions, compiled once here (never per event).
  std::size_t compiled_patterns() const { return patterns_.size(); }

 private:
  void add_tree(const std::string& path);
  /// Watches path, a file, through its folder: events of that name only.
  void add_file(const std::string& path);
  void read_events();

  Rules rules_;
  /// The ignore_watch rules that are valid regular expressions, compiled once.
  std::vector<std::regex> patterns_;
  std::chrono::milliseconds delay_;
  Changed on_change_;
  int fd_ = -1;
  boost::asio::posix::stream_descriptor stream_;
  boost::asio::steady_timer quiet_;
  /// A folder watched: all of it (a root or below one), or only some names in it (file roots).
  struct Watched {
    std::string path;
    bool whole = false;
    std::set<std::string> names;  ///< the files watched in it, when not whole
  };
  std::map<int, Watched> dirs_;  ///< watch descriptor -> folder
  std::string first_;                ///< the first change of the burst
  std::size_t changes_ = 0;
  bool limit_logged_ = false;
};

}  // namespace pmx::daemon
