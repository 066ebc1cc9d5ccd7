// The `metrics` request: usage, axm_monitor and history of the instances, history as columns.
#include "daemon/supervisor/metrics_report.hpp"

#include <unistd.h>

#include <chrono>
#include <cmath>

#include "config/json_access.hpp"
#include "config/listen_address.hpp"
#include "daemon/process/timers.hpp"
#include "daemon/supervisor/describe.hpp"
#include "daemon/supervisor/prometheus_text.hpp"

namespace pmx::daemon {

using json = ipc::json;

namespace {

/// One decimal, as the sampler's CPU figure: a float's noise is not shown.
double one_decimal(double d) { return std::round(d * 10.0) / 10.0; }

json history_columns(const MetricsHistory& history, std::uint32_t since_s) {
  json time = json::array(), cpu = json::array(), memory = json::array(), loop = json::array();
  for (const HistoryPoint& p : history.since(since_s)) {
    time.push_back(p.time_s);
    cpu.push_back(one_decimal(p.cpu_percent));
    memory.push_back(static_cast<std::uint64_t>(p.rss_kib) * 1024);
    loop.push_back(p.loop_p99_ms < 0 ? json(nullptr) : json(std::round(p.loop_p99_ms * 100.0) / 100.0));
  }
  return {{"time", std::move(time)}, {"cpu", std::move(cpu)}, {"memory", std::move(memory)}, {"loop_p99_ms", std::move(loop)}};
}

}  // namespace

json metrics_report(const Registry& registry, const std::vector<int>& ids, std::uint32_t since_s, bool with_history,
                    std::int64_t now_ms) {
  json instances = json::array();
  for (int id : ids) {
    const Instance* in = registry.find(id);
    if (!in) continue;
    const bool alive = in->run.pid > 0;
    json entry{
        {"pm_id", in->id},
        {"name", in->spec.name},
        {"namespace", in->spec.namespace_},
        {"status", status_name(in->fsm.state())},
        {"pid", alive ? in->run.pid : 0},
        {"restart_time", in->fsm.restart_count()},
        {"pm_uptime", in->started_at_ms},
        {"uptime_ms", alive ? now_ms - in->started_at_ms : 0},
        {"exec_mode", config::exec_mode_name(in->spec)},
        {"status_reason", in->fsm.reason()},
        {"exit_code", exit_code_json(*in)},
        {"exit_signal", exit_signal_json(*in)},
        {"cgroup", in->run.cgroup.empty() ? json(nullptr) : json(in->run.cgroup)},
        {"monit", {{"memory", alive ? in->usage.rss_bytes : 0}, {"cpu", alive ? in->usage.cpu_percent : 0.0}}},
        {"axm_monitor", axm_monitor(in->metrics)},
    };
    if (with_history) entry["history"] = history_columns(in->history, since_s);
    instances.push_back(std::move(entry));
  }
  return {{"time", now_ms / 1000}, {"step", MetricsHistory::kMinStepSeconds},
          {"capacity", MetricsHistory::kCapacity}, {"instances", std::move(instances)}};
}

void answer_metrics(const Registry& registry, const json& params, const Reply& reply,
                    const std::function<std::string()>& exposition) {
  const auto format = config::string_field(params, "format");
  if (!format || (*format && **format != "json" && **format != "prometheus")) {
    return reply.fail(ipc::invalid_param("format", "must be \"json\" or \"prometheus\""));
  }
  if (*format && **format == "prometheus") return reply.ok({{"text", exposition()}});
  std::vector<int> ids;
  const json* targets = config::member(params, "targets");
  if (targets && !targets->is_null()) {
    if (auto err = registry.resolve(params, ids)) return reply.fail(*err);
  } else {
    for (const auto& [id, in] : registry.by_id()) ids.push_back(id);
  }
  const auto since = config::int_field(params, "since", 0, UINT32_MAX);
  if (!since) return reply.fail(ipc::invalid_param("since", since.error()));
  const auto history = config::bool_field(params, "history");
  if (!history) return reply.fail(ipc::invalid_param("history", history.error()));
  const std::int64_t now_ms = wall_clock_ms();
  json result = metrics_report(registry, ids, static_cast<std::uint32_t>(since->value_or(0)), history->value_or(true), now_ms);
  const DaemonFigures daemon = read_daemon_figures();
  result["daemon"] = {{"pid", ::getpid()},
                      {"version", PMX_VERSION},
                      {"commit", build_commit()},
                      {"uptime_ms", static_cast<std::int64_t>(daemon.uptime_seconds * 1000)},
                      {"resident_bytes", daemon.resident_bytes},
                      {"open_fds", daemon.open_fds}};
  reply.ok(result);
}

}  // namespace pmx::daemon
