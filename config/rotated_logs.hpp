// Rotated log files: the names a rotation gives a log file, and which files of a folder are
// one log file's rotations (never another app's that shares a prefix).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pmx::config {

/// The name a rotation gives path at t (UTC, so names sort in time order whatever the
/// DST): "/d/app-out.log" -> "/d/app-out__2026-11-27_10-00-00-123.log"; without a ".log"
/// extension the stamp is appended: "/d/x.txt" -> "/d/x.txt__2026-...-123".
std::string rotated_name(const std::string& path, std::chrono::system_clock::time_point t);

/// The time stamped in a rotated file's name (a path or a bare name, ".gz" or not); nullopt
/// when the name carries no stamp of that shape.
std::optional<std::chrono::system_clock::time_point> rotated_stamp(std::string_view name);

/// Whether file_name (a bare name in path's folder) is a rotated file of path: exactly
/// the pattern above, optionally followed by ".gz". "app-out__..." is NOT a rotated file of
/// "/d/app.log" nor of "/d/ap.log" (pm2-logrotate deletes other apps' files that share a
/// prefix: pmx must not).
bool is_rotated_of(const std::string& path, std::string_view file_name);

/// The rotated files of path (full paths), oldest first (by name), read from its folder.
/// Only regular files count; a folder that cannot be read has none.
std::vector<std::string> rotated_files(const std::string& path);

}  // namespace pmx::config
