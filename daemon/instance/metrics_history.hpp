// MetricsHistory: the recent samples of one instance (CPU, memory, event-loop p99) in a ring of
// fixed size, so that a dashboard opened now draws the last minutes at once (PM2's monit opens
// blank). One point per step (the sampler's round over every instance, 5 s by default); 128
// points cover at least 10 minutes; 16 bytes a point, allocated at the first one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace pmx::daemon {

/// One sample, packed: 16 bytes.
struct HistoryPoint {
  std::uint32_t time_s = 0;     ///< wall clock, epoch seconds
  std::uint32_t rss_kib = 0;    ///< whole tree, KiB (saturates at 4 TiB)
  float cpu_percent = 0;        ///< of one CPU
  float loop_p99_ms = -1;       ///< event-loop delay p99 of a Node app; < 0: none
};

class MetricsHistory {
 public:
  /// Points kept: with steps of at least 5 s, 128 points are 10 min 40 s.
  static constexpr std::size_t kCapacity = 128;
  /// The shortest step between two points (the sampler may read an instance more often).
  static constexpr std::uint32_t kMinStepSeconds = 5;

  /// step_s: the time between two points; below kMinStepSeconds, kMinStepSeconds.
  explicit MetricsHistory(std::uint32_t step_s = kMinStepSeconds);

  /// Adds a point, unless the last one is less than a step older (then it is dropped); a
  /// clock that went back starts the ring again.
  void add(std::uint32_t time_s, double cpu_percent, std::uint64_t rss_bytes, std::optional<double> loop_p99_ms);
  /// The points newer than since_s, oldest first.
  std::vector<HistoryPoint> since(std::uint32_t since_s) const;
  std::size_t size() const { return points_.size(); }
  std::uint32_t step() const { return step_s_; }
  void clear();

 private:
  std::vector<HistoryPoint> points_;  ///< the ring; reserved to kCapacity at the first point
  std::size_t next_ = 0;              ///< where the next point goes once the ring is full
  std::uint32_t step_s_;
};

}  // namespace pmx::daemon
