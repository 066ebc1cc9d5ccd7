// MonitModel: rows from a `list` or `metrics` reply read defensively (pmxd's reply, but the metrics in it
// come from apps), bounded histories and log tails.
#include "cli/monit_model.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <limits>
#include <set>

namespace pmx::cli::monit {

using json = nlohmann::json;

namespace {

const json& member(const json& j, const char* key) {
  static const json none;
  if (!j.is_object()) return none;
  auto it = j.find(key);
  return it == j.end() ? none : *it;
}

std::string text_of(const json& j, const char* key, std::string fallback = "") {
  const json& v = member(j, key);
  return v.is_string() ? v.get<std::string>() : fallback;
}

template <typename T>
T number_of(const json& j, const char* key, T fallback = 0) {
  const json& v = member(j, key);
  if (!v.is_number()) return fallback;
  const double d = v.get<double>();
  if (!(d >= static_cast<double>(std::numeric_limits<T>::lowest()) && d <= static_cast<double>(std::numeric_limits<T>::max()))) {
    return fallback;
  }
  return static_cast<T>(d);
}

/// A metric's value as text: strings as they are, numbers with at most two decimals.
std::string metric_value(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return v.dump();
  if (v.is_number()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", v.get<double>());
    return buf;
  }
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return "";
}

/// pmxd's history columns ({"time": [...], "cpu": [...], "memory": [...]}) as points; columns
/// of unequal length, or a point with a value of the wrong type, read as no points.
std::vector<AppRow::Point> points_of(const json& history) {
  const json& time = member(history, "time");
  const json& cpu = member(history, "cpu");
  const json& memory = member(history, "memory");
  if (!time.is_array() || !cpu.is_array() || !memory.is_array()) return {};
  if (cpu.size() != time.size() || memory.size() != time.size()) return {};
  std::vector<AppRow::Point> points;
  points.reserve(time.size());
  for (std::size_t i = 0; i < time.size(); ++i) {
    if (!time[i].is_number_integer() || !cpu[i].is_number() || !memory[i].is_number_integer()) return {};
    const auto t = time[i].get<std::int64_t>();
    const auto bytes = memory[i].get<std::int64_t>();
    if (t < 0 || t > std::numeric_limits<std::uint32_t>::max() || bytes < 0) return {};
    points.push_back({static_cast<std::uint32_t>(t), std::max(0.0, cpu[i].get<double>()), static_cast<std::uint64_t>(bytes)});
  }
  return points;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

Result<std::vector<AppRow>> rows_of(const json& list) {
  if (!list.is_array()) return Error{"the list reply is not an array"};
  std::vector<AppRow> rows;
  rows.reserve(list.size());
  for (const json& app : list) {
    if (!app.is_object()) continue;
    // A `list` entry keeps its fields in pm2_env; a `metrics` entry at its top level.
    const json& env = app.contains("pm2_env") ? member(app, "pm2_env") : app;
    const json& monit = member(app, "monit");
    AppRow row;
    row.id = number_of<int>(app, "pm_id", -1);
    row.name = text_of(app, "name", "?");
    row.ns = text_of(env, "namespace", "default");
    row.mode = text_of(env, "exec_mode") == "cluster_mode" ? "cluster" : "fork";
    row.status = text_of(env, "status", "?");
    row.pid = number_of<int>(app, "pid");
    row.restarts = number_of<int>(env, "restart_time");
    row.uptime_ms = std::max<std::int64_t>(0, number_of<std::int64_t>(env, "uptime_ms"));
    row.cpu = std::max(0.0, number_of<double>(monit, "cpu"));
    row.memory = number_of<std::uint64_t>(monit, "memory");
    row.cgroup = text_of(env, "cgroup");
    row.reason = text_of(env, "status_reason");
    if (const json& code = member(env, "exit_code"); code.is_number_integer()) {
      row.last_exit = "code " + code.dump();
    } else if (const json& sig = member(env, "exit_signal"); sig.is_string() || sig.is_number_integer()) {
      row.last_exit = "signal " + (sig.is_string() ? sig.get<std::string>() : sig.dump());
    }
    const json& axm = member(env, "axm_monitor");
    if (axm.is_object()) {
      for (const auto& [name, entry] : axm.items()) {
        Metric m;
        m.name = name;
        if (entry.is_object()) {
          m.value = metric_value(member(entry, "value"));
          if (std::string unit = text_of(entry, "unit"); !unit.empty() && !m.value.empty()) m.value += " " + unit;
        } else {
          m.value = metric_value(entry);
        }
        row.metrics.push_back(std::move(m));
      }
    }
    row.points = points_of(member(app, "history"));
    rows.push_back(std::move(row));
  }
  std::sort(rows.begin(), rows.end(), [](const AppRow& a, const AppRow& b) { return a.id < b.id; });
  return rows;
}

void History::record(const std::vector<AppRow>& rows) {
  std::set<int> listed;
  for (const AppRow& row : rows) {
    listed.insert(row.id);
    Kept& kept = samples_[row.id];
    if (row.points.empty()) {
      kept.samples.push_back({row.cpu, row.memory});
    } else {
      for (const AppRow::Point& p : row.points) {
        if (p.time <= kept.last_time) continue;
        kept.samples.push_back({p.cpu, p.memory});
        kept.last_time = p.time;
      }
    }
    while (kept.samples.size() > capacity_) kept.samples.pop_front();
  }
  std::erase_if(samples_, [&](const auto& entry) { return !listed.count(entry.first); });
}

std::vector<Sample> History::of(int id) const {
  auto it = samples_.find(id);
  if (it == samples_.end()) return {};
  return {it->second.samples.begin(), it->second.samples.end()};
}

std::uint32_t History::since() const {
  std::uint32_t since = 0;
  bool first = true;
  for (const auto& [id, kept] : samples_) {
    since = first ? kept.last_time : std::min(since, kept.last_time);
    first = false;
  }
  return since;
}

void LogTail::add(std::string line, bool err) {
  lines_.push_back({std::move(line), err});
  while (lines_.size() > capacity_) lines_.pop_front();
}

bool matches(const AppRow& row, const std::string& filter) {
  if (filter.empty()) return true;
  const std::string f = lower(filter);
  return lower(row.name).find(f) != std::string::npos || lower(row.ns).find(f) != std::string::npos;
}

}  // namespace pmx::cli::monit
