// MonitModel: what `pmx monit` shows of each instance (read from a `metrics` or `list` reply), the history
// of samples behind its sparklines, and the log lines of the selected app. Pure: no terminal,
// no socket.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/result.hpp"

namespace pmx::cli::monit {

/// One custom or runtime metric of an app (pm2_env.axm_monitor: {"Heap Size": {"value": "7.23",
/// "unit": "MiB"}}), its value already written as text.
struct Metric {
  std::string name;
  std::string value;  ///< value and unit ("7.23 MiB")
};

/// One instance as monit shows it.
struct AppRow {
  int id = -1;
  std::string name;
  std::string ns = "default";
  std::string mode = "fork";  ///< fork or cluster
  std::string status = "?";
  int pid = 0;
  int restarts = 0;
  std::int64_t uptime_ms = 0;
  double cpu = 0;              ///< percent of one core
  std::uint64_t memory = 0;    ///< bytes, every process of the instance
  std::string cgroup;          ///< "" without one
  std::string last_exit;       ///< "code 1", "signal SIGKILL", "" when it never exited
  std::string reason;          ///< status_reason
  std::vector<Metric> metrics; ///< axm_monitor, in its order; empty when the jlist has none
  /// pmxd's history points of the instance that the reply carried (a `metrics` reply), oldest
  /// first; empty for a `list` reply.
  struct Point {
    std::uint32_t time = 0;  ///< epoch seconds
    double cpu = 0;
    std::uint64_t memory = 0;
  };
  std::vector<Point> points;
};

/// The rows of a `list` reply, or of a `metrics` reply's `instances` (the same fields, at the
/// entry's top level instead of in pm2_env, and history columns). Anything malformed in an
/// entry (a missing field, a wrong type, columns of unequal length) reads as its default; a
/// reply that is not an array is an error.
Result<std::vector<AppRow>> rows_of(const nlohmann::json& list);

/// One sample of an instance, as a sparkline draws it.
struct Sample {
  double cpu = 0;
  std::uint64_t memory = 0;
};

/// The samples of each instance, at most capacity each (oldest dropped): pmxd's own history
/// points when the rows carry them (so the sparklines are full the moment monit opens), else
/// one sample per record(). Instances no longer listed are forgotten at the next record().
class History {
 public:
  explicit History(std::size_t capacity = 128) : capacity_(capacity) {}
  /// Adds each row's points newer than those already kept for its id (or, for a row without
  /// points, its current reading), and forgets the ids that are not among rows.
  void record(const std::vector<AppRow>& rows);
  /// The samples of id, oldest first (empty when unknown).
  std::vector<Sample> of(int id) const;
  /// What to ask pmxd for next (`metrics`' since): the oldest of the newest points kept per
  /// instance; 0 (everything) before the first points.
  std::uint32_t since() const;
  std::size_t instances() const { return samples_.size(); }
  std::size_t capacity() const { return capacity_; }

 private:
  struct Kept {
    std::deque<Sample> samples;
    std::uint32_t last_time = 0;  ///< of the newest of pmxd's points kept; 0: none
  };
  std::size_t capacity_;
  std::map<int, Kept> samples_;
};

/// The last lines of the app monit follows (at most capacity; oldest dropped).
class LogTail {
 public:
  explicit LogTail(std::size_t capacity = 200) : capacity_(capacity) {}
  void clear() { lines_.clear(); }
  void add(std::string line, bool err);
  struct Line {
    std::string text;
    bool err = false;
  };
  const std::deque<Line>& lines() const { return lines_; }

 private:
  std::size_t capacity_;
  std::deque<Line> lines_;
};

/// Whether row matches filter: a case-insensitive part of its name or namespace ("" matches).
bool matches(const AppRow& row, const std::string& filter);

}  // namespace pmx::cli::monit
