// MetricsHistory: a fixed ring of packed points, one per step.
#include "daemon/instance/metrics_history.hpp"

#include <algorithm>
#include <limits>

namespace pmx::daemon {

MetricsHistory::MetricsHistory(std::uint32_t step_s) : step_s_(std::max(step_s, kMinStepSeconds)) {}

void MetricsHistory::add(std::uint32_t time_s, double cpu_percent, std::uint64_t rss_bytes,
                         std::optional<double> loop_p99_ms) {
  if (!points_.empty()) {
    const HistoryPoint& last = points_[(next_ + points_.size() - 1) % points_.size()];
    if (time_s < last.time_s) clear();  // the wall clock went back: older points would lie
    else if (time_s - last.time_s < step_s_) return;
  }
  if (points_.empty()) points_.reserve(kCapacity);
  HistoryPoint p;
  p.time_s = time_s;
  p.rss_kib = static_cast<std::uint32_t>(std::min<std::uint64_t>(rss_bytes / 1024, std::numeric_limits<std::uint32_t>::max()));
  p.cpu_percent = static_cast<float>(cpu_percent);
  p.loop_p99_ms = loop_p99_ms ? static_cast<float>(*loop_p99_ms) : -1.0f;
  if (points_.size() < kCapacity) {
    points_.push_back(p);
    return;
  }
  points_[next_] = p;
  next_ = (next_ + 1) % kCapacity;
}

std::vector<HistoryPoint> MetricsHistory::since(std::uint32_t since_s) const {
  std::vector<HistoryPoint> out;
  const std::size_t n = points_.size();
  for (std::size_t i = 0; i < n; ++i) {
    const HistoryPoint& p = points_[(next_ + i) % n];
    if (p.time_s > since_s) out.push_back(p);
  }
  return out;
}

void MetricsHistory::clear() {
  std::vector<HistoryPoint>().swap(points_);
  next_ = 0;
}

}  // namespace pmx::daemon
