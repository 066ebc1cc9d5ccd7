// The verbs given an ecosystem file: start, restart, reload, stop, delete, startOrRestart and
// startOrReload act on the file's apps; `ecosystem` writes an example file.
#pragma once

#include <string>

#include "cli/command_line.hpp"

namespace pmx::cli {

/// What a verb does to the apps of an ecosystem file (the verb table's `on_file`).
struct FileAction {
  /// Apps pmx does not have are started, the others restarted with `restart` (as PM2's start).
  bool starts_new = false;
  /// -f starts new copies of the apps pmx has instead of restarting them (start).
  bool force_starts_copies = false;
  /// The call that restarts apps ("restart", "reload"); without starts_new, every app of the
  /// file. nullptr: none.
  const char* restart = nullptr;
  /// The call given every app of the file ("stop", "delete"); nullptr: none.
  const char* every_app = nullptr;
};

inline constexpr FileAction kFileStart{true, true, "restart", nullptr};
inline constexpr FileAction kFileStartOrRestart{true, false, "restart", nullptr};
inline constexpr FileAction kFileStartOrReload{true, false, "reload", nullptr};
inline constexpr FileAction kFileRestart{false, false, "restart", nullptr};
inline constexpr FileAction kFileReload{false, false, "reload", nullptr};
inline constexpr FileAction kFileStop{false, false, nullptr, "stop"};
inline constexpr FileAction kFileDelete{false, false, nullptr, "delete"};

/// action on the apps of the ecosystem file arg; the exit code.
int run_on_file(DaemonConnection& daemon, const FileAction& action, const std::string& arg, const FileOptions& fo);
/// `pmx ecosystem`: writes a commented ecosystem.yaml here.
int run_ecosystem(Invocation& inv);

}  // namespace pmx::cli
