// The Prometheus exposition: one family at a time, each instance's series with the labels app,
// id and namespace.
#include "daemon/supervisor/prometheus_text.hpp"

#include <fmt/format.h>

#include <dirent.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

namespace pmx::daemon {

namespace {

/// The statuses `pmx list` shows, each a series of pmx_instance_status (a state set).
constexpr const char* kStatuses[] = {"launching", "online", "stopping", "stopped", "errored", "waiting restart"};

/// The shortest text that reads back as value ("0.3", "42", "1700000000.5").
void append_number(std::string& out, double value) { fmt::format_to(std::back_inserter(out), "{}", value); }

class Exposition {
 public:
  explicit Exposition(std::string& out) : out_(out) {}

  void family(const char* name, const char* type, const char* help) {
    name_ = name;
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  /// A series of the current family for instance in, with one more label when extra_name is set.
  void series(const Instance& in, double value, const char* extra_name = nullptr, std::string_view extra_value = {}) {
    out_ += name_;
    out_ += "{app=\"";
    out_ += prometheus_label(in.spec.name);
    out_ += "\",id=\"";
    out_ += std::to_string(in.id);
    out_ += "\",namespace=\"";
    out_ += prometheus_label(in.spec.namespace_);
    if (extra_name) {
      out_ += "\",";
      out_ += extra_name;
      out_ += "=\"";
      out_ += prometheus_label(extra_value);
    }
    out_ += "\"} ";
    append_number(out_, value);
    out_ += '\n';
  }
  void plain(double value, std::string_view labels = {}) {
    out_ += name_;
    out_ += labels;
    out_ += ' ';
    append_number(out_, value);
    out_ += '\n';
  }

 private:
  std::string& out_;
  const char* name_ = "";
};

}  // namespace

const char* build_commit() {
#ifdef PMX_COMMIT
  return PMX_COMMIT;
#else
  return "unknown";
#endif
}

std::string pmxd_exposition(const Registry& registry, std::uint64_t requests) {
  static const double hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
  DaemonFigures figures = read_daemon_figures();
  figures.requests = requests;
  figures.version = PMX_VERSION;
  figures.commit = build_commit();
  return prometheus_text(registry, figures, hz);
}

std::string prometheus_label(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

DaemonFigures read_daemon_figures() {
  DaemonFigures f;
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  if (statm >> size >> resident) f.resident_bytes = resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    while (const dirent* e = ::readdir(dir)) {
      if (e->d_name[0] != '.') ++f.open_fds;
    }
    ::closedir(dir);
    if (f.open_fds > 0) --f.open_fds;  // the directory's own descriptor
  }
  // Field 22 of /proc/self/stat (after the command's closing parenthesis) is the start time in
  // ticks since boot; /proc/uptime's first field is the time since boot.
  std::ifstream stat("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  std::ifstream uptime_file("/proc/uptime");
  double since_boot = 0;
  const std::size_t paren = text.rfind(')');
  if (paren != std::string::npos && (uptime_file >> since_boot)) {
    std::istringstream fields(text.substr(paren + 2));
    std::string field;
    for (int i = 3; i <= 22 && (fields >> field); ++i) {
      if (i == 22) {
        const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
        f.uptime_seconds = std::max(0.0, since_boot - std::strtod(field.c_str(), nullptr) / ticks);
      }
    }
  }
  return f;
}

std::string prometheus_text(const Registry& registry, const DaemonFigures& daemon, double ticks_per_second) {
  std::string out;
  out.reserve(1024 + registry.by_id().size() * 1536);
  Exposition e(out);
  const auto& all = registry.by_id();

  e.family("pmx_instance_status", "gauge", "The instance's status as pmx list shows it: 1 for the current one.");
  for (const auto& [id, in] : all) {
    const std::string_view current = status_name(in->fsm.state());
    for (const char* status : kStatuses) e.series(*in, current == status ? 1 : 0, "status", status);
  }
  e.family("pmx_instance_restarts_total", "counter", "Restarts of the instance (PM2's restart_time).");
  for (const auto& [id, in] : all) e.series(*in, static_cast<double>(in->fsm.restart_count()));
  e.family("pmx_instance_cpu_seconds_total", "counter",
           "CPU time of the instance's current run, every process of it (its cgroup's where it has one).");
  for (const auto& [id, in] : all) {
    const double seconds = ticks_per_second > 0 ? static_cast<double>(in->usage.cpu_ticks) / ticks_per_second : 0;
    e.series(*in, in->run.pid > 0 ? seconds : 0);
  }
  e.family("pmx_instance_memory_bytes", "gauge", "Resident memory of every process of the instance.");
  for (const auto& [id, in] : all) e.series(*in, in->run.pid > 0 ? static_cast<double>(in->usage.rss_bytes) : 0);
  e.family("pmx_instance_start_time_seconds", "gauge", "When the instance's current run started, in seconds since the epoch.");
  for (const auto& [id, in] : all) e.series(*in, static_cast<double>(in->started_at_ms) / 1000.0);

  // Health checks: only the instances of apps that have one.
  e.family("pmx_instance_healthy", "gauge", "1 when the instance's last health check passed, else 0 (apps with a health_check).");
  for (const auto& [id, in] : all) {
    if (in->spec.health_check.enabled()) e.series(*in, in->health.health == Health::Healthy ? 1 : 0);
  }
  e.family("pmx_instance_health_state", "gauge", "The instance's health as pm2_env.health says it: 1 for the current one.");
  for (const auto& [id, in] : all) {
    if (!in->spec.health_check.enabled()) continue;
    const Health current = in->health.health == Health::None ? Health::Starting : in->health.health;
    for (Health h : {Health::Starting, Health::Healthy, Health::Unhealthy}) e.series(*in, current == h ? 1 : 0, "state", to_string(h));
  }
  // Resource limits (cpu_quota, memory_max, tasks_max): what they count, where the run has one.
  e.family("pmx_instance_cpu_throttled_seconds_total", "counter", "Time the current run was held back by its cpu_quota.");
  for (const auto& [id, in] : all) {
    if (in->limit_usage.cpu_throttled_us) e.series(*in, static_cast<double>(*in->limit_usage.cpu_throttled_us) / 1e6);
  }
  e.family("pmx_instance_oom_kills_total", "counter", "Processes of the current run the kernel OOM-killed within its memory_max.");
  for (const auto& [id, in] : all) {
    if (in->limit_usage.oom_kills) e.series(*in, static_cast<double>(*in->limit_usage.oom_kills));
  }
  e.family("pmx_instance_tasks", "gauge", "Processes and threads of the current run (apps with tasks_max).");
  for (const auto& [id, in] : all) {
    if (in->limit_usage.tasks) e.series(*in, static_cast<double>(*in->limit_usage.tasks));
  }

  auto runtime_family = [&](const char* name, const char* help, auto field) {
    e.family(name, "gauge", help);
    for (const auto& [id, in] : all) {
      const auto& r = in->metrics.runtime;
      if (in->run.pid > 0 && r && ((*r).*field)) e.series(*in, *((*r).*field));
    }
  };
  runtime_family("pmx_nodejs_heap_used_bytes", "V8 heap used (Node apps with pmx's preload).", &RuntimeMetrics::heap_used_bytes);
  runtime_family("pmx_nodejs_heap_total_bytes", "V8 heap size (Node apps with pmx's preload).", &RuntimeMetrics::heap_total_bytes);
  runtime_family("pmx_nodejs_active_handles", "Active libuv handles (Node apps with pmx's preload).", &RuntimeMetrics::active_handles);
  e.family("pmx_nodejs_eventloop_delay_seconds", "gauge",
           "Event-loop delay over the last second, from perf_hooks.monitorEventLoopDelay.");
  for (const auto& [id, in] : all) {
    const auto& r = in->metrics.runtime;
    if (in->run.pid <= 0 || !r) continue;
    const std::pair<const char*, const std::optional<double>*> quantiles[] = {
        {"0.5", &r->loop_p50_ms}, {"0.95", &r->loop_p95_ms}, {"0.99", &r->loop_p99_ms}};
    for (const auto& [q, v] : quantiles) {
      if (*v) e.series(*in, **v / 1000.0, "quantile", q);
    }
  }
  e.family("pmx_app_metric", "gauge", "The app's own numeric metrics (@pm2/io), by name.");
  for (const auto& [id, in] : all) {
    if (in->run.pid <= 0) continue;
    for (const CustomMetric& m : in->metrics.custom) {
      if (auto v = numeric_value(m.value)) e.series(*in, *v, "metric", m.name);
      else if (m.value.is_boolean()) e.series(*in, m.value.get<bool>() ? 1 : 0, "metric", m.name);
    }
  }

  e.family("pmx_daemon_resident_memory_bytes", "gauge", "pmxd's resident memory.");
  e.plain(static_cast<double>(daemon.resident_bytes));
  e.family("pmx_daemon_open_fds", "gauge", "pmxd's open file descriptors.");
  e.plain(static_cast<double>(daemon.open_fds));
  e.family("pmx_daemon_requests_total", "counter", "Control requests and scrapes pmxd answered.");
  e.plain(static_cast<double>(daemon.requests));
  e.family("pmx_build_info", "gauge", "pmxd's version and commit.");
  e.plain(1, "{version=\"" + prometheus_label(daemon.version) + "\",commit=\"" + prometheus_label(daemon.commit) + "\"}");
  return out;
}

}  // namespace pmx::daemon
