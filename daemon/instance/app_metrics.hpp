// AppMetrics: what a Node instance reports about itself over its IPC channel: the preload's
// runtime metrics (heap, active handles and requests, event-loop delay percentiles) and the
// custom metrics of @pm2/io ({type:'axm:monitor'}), kept as the last message gave them, and
// shown in PM2's shape (`pm2_env.axm_monitor`). Everything here comes from the app, so it is
// read with its types checked and bounded in count and size. Pure: no Asio, no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/result.hpp"

namespace pmx::daemon {

/// The preload's report ({"cmd":"NODE_PMX","pmx":"metrics",...}; node/preload.js).
struct RuntimeMetrics {
  std::optional<double> heap_total_bytes;
  std::optional<double> heap_used_bytes;
  std::optional<double> active_handles;
  std::optional<double> active_requests;
  /// Event-loop delay over the last second, in ms: absent when the histogram had no sample.
  std::optional<double> loop_p50_ms, loop_p95_ms, loop_p99_ms, loop_max_ms;
  std::uint64_t errors = 0;  ///< failures inside the preload, as it counted them
};

/// One metric of @pm2/io (io.metric, counter, meter, histogram), as its axm:monitor sends it.
struct CustomMetric {
  std::string name;
  nlohmann::json value;  ///< a number, a string or a boolean
  std::string unit;
  std::string type;      ///< @pm2/io's id ("internal/v8/heap/total"), or empty
  bool historic = false;
};

/// The most custom metrics one run keeps, and the longest name, unit, type and string value:
/// an app cannot grow pmxd without bound (the rest of a message is dropped and counted).
constexpr std::size_t kMaxCustomMetrics = 64;
constexpr std::size_t kMaxMetricName = 128;
constexpr std::size_t kMaxMetricText = 128;

struct AppMetrics {
  std::optional<RuntimeMetrics> runtime;  ///< the preload's last report; none yet
  std::vector<CustomMetric> custom;       ///< @pm2/io's last axm:monitor, in the order sent
  std::uint64_t dropped = 0;              ///< metrics or messages refused (bad shape, over a limit)

  /// Forgets the run's metrics (a new run starts with none).
  void clear() { *this = AppMetrics{}; }
};

/// Reads the preload's message. Fields of the wrong type or not finite and ≥ 0 are an error.
Result<RuntimeMetrics> read_runtime_metrics(const nlohmann::json& message);

/// Reads axm:monitor's data ({"<name>": {value, unit, type, historic}, ...}): the metrics it
/// holds, at most kMaxCustomMetrics; `dropped` counts those refused or over the limit.
Result<std::vector<CustomMetric>> read_axm_monitor(const nlohmann::json& data, std::uint64_t& dropped);

/// pm2_env.axm_monitor: PM2's names and shape ({"Heap Size": {"value": "7.23", "unit": "MiB",
/// "type": "internal/v8/heap/total", "historic": true}, ...}): the app's custom metrics, then
/// the preload's (which win over an app's metric of the same name).
nlohmann::json axm_monitor(const AppMetrics& metrics);

/// The number a metric's value stands for: a number, or a string holding only one ("7.23",
/// as @pm2/io sends its heap sizes); none otherwise.
std::optional<double> numeric_value(const nlohmann::json& value);

}  // namespace pmx::daemon
