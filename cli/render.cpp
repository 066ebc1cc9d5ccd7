// Table rendering: compute cells, drop columns that do not fit, draw boxes or plain columns.
#include "cli/render.hpp"
#include "cli/render_metrics.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstdio>
#include <ctime>
#include <tuple>

#include "cli/ansi.hpp"
#include "config/app_options.hpp"
#include "config/units.hpp"

namespace pmx::cli {
namespace {

using namespace ansi;

using json = nlohmann::json;

/// A time in milliseconds since the epoch as local time, "2026-12-07 07:15:02 +0000", as
/// describe shows it; the value as it is when it is not a time.
std::string local_time(const json& ms) {
  if (!ms.is_number_integer() || ms.get<long long>() <= 0) return ms.is_null() ? "" : ms.dump();
  const std::time_t t = static_cast<std::time_t>(ms.get<long long>() / 1000);
  std::tm tm{};
  if (!::localtime_r(&t, &tm)) return ms.dump();
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %z", &tm);
  return buf;
}

// Display width of UTF-8 text (every code point counts one column; enough for our cells).
std::size_t display_width(const std::string& s) {
  std::size_t w = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++w;
  }
  return w;
}

std::string pad(const std::string& s, std::size_t width) {
  std::size_t w = display_width(s);
  return w >= width ? s : s + std::string(width - w, ' ');
}

const char* status_color(const std::string& status) {
  if (status == "online") return kGreen;
  if (status == "errored" || status == "stopped") return kRed;
  return kYellow;
}

struct Column {
  const char* title;
  int drop_order;  ///< narrow terminals drop the highest first; 0 never dropped
};

// id, name, namespace, mode, pid, uptime, ↺, status, health, cpu, mem, user
constexpr Column kColumns[] = {
    {"id", 0},    {"name", 0},   {"namespace", 5}, {"mode", 4},   {"pid", 2},   {"uptime", 3},
    {"↺", 6},     {"status", 0}, {"health", 5},    {"cpu", 1},    {"mem", 1},    {"user", 7},
};
constexpr std::size_t kHealthColumn = 8;  ///< shown only when an app has a health check
constexpr std::size_t kColumnCount = sizeof kColumns / sizeof kColumns[0];

std::vector<std::string> cells_of(const json& app) {
  const json& env = app.value("pm2_env", json::object());
  const std::string status = env.value("status", "?");
  const bool online = status == "online";
  const json& monit = app.value("monit", json::object());
  char cpu[16];
  std::snprintf(cpu, sizeof cpu, "%.0f%%", monit.value("cpu", 0.0));
  const std::string mode = env.value("exec_mode", "fork_mode") == "cluster_mode" ? "cluster" : "fork";
  return {
      std::to_string(app.value("pm_id", -1)),
      app.value("name", "?"),
      env.value("namespace", "default"),
      mode,
      online || app.value("pid", 0) > 0 ? std::to_string(app.value("pid", 0)) : "0",
      online ? config::format_uptime(static_cast<std::uint64_t>(std::max<std::int64_t>(0, env.value("uptime_ms", std::int64_t{0})))) : "0",
      std::to_string(env.value("restart_time", 0)),
      status,
      env.value("health", json()).is_string() ? env["health"].get<std::string>() : "",
      cpu,
      config::format_bytes(monit.value("memory", std::uint64_t{0})),
      env.value("username", ""),
  };
}

}  // namespace

Style detect_style(bool no_color) {
  Style s;
  const bool tty = ::isatty(STDOUT_FILENO);
  const char* nc = std::getenv("NO_COLOR");
  s.color = tty && !no_color && !(nc && *nc);
  s.boxes = tty;
  if (tty) {
    winsize ws{};
    if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) s.width = ws.ws_col;
  }
  if (const char* c = std::getenv("COLUMNS"); c && std::atoi(c) > 0 && s.width == 0 && tty) s.width = std::atoi(c);
  return s;
}

std::string render_list(const json& apps, const Style& style) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& app : apps) rows.push_back(cells_of(app));

  std::vector<std::size_t> widths(kColumnCount);
  for (std::size_t c = 0; c < kColumnCount; ++c) {
    widths[c] = display_width(kColumns[c].title);
    for (const auto& r : rows) widths[c] = std::max(widths[c], display_width(r[c]));
  }
  // Drop columns, least useful first, until the table fits the terminal.
  std::vector<bool> shown(kColumnCount, true);
  shown[kHealthColumn] = std::any_of(apps.begin(), apps.end(), [](const json& app) {
    return app.value("pm2_env", json::object()).value("health", json()).is_string();
  });
  auto total = [&] {
    std::size_t t = 1;
    for (std::size_t c = 0; c < kColumnCount; ++c) {
      if (shown[c]) t += widths[c] + (style.boxes ? 3 : 2);
    }
    return t;
  };
  for (int order = 7; order >= 1 && style.width > 0 && total() > static_cast<std::size_t>(style.width); --order) {
    for (std::size_t c = 0; c < kColumnCount; ++c) {
      if (kColumns[c].drop_order == order) shown[c] = false;
    }
  }

  auto paint = [&](const std::string& text, const char* color) {
    return style.color && color ? std::string(color) + text + kReset : text;
  };
  std::string out;
  auto rule = [&](const char* left, const char* mid, const char* right) {
    if (!style.boxes) return;
    out += left;
    bool first = true;
    for (std::size_t c = 0; c < kColumnCount; ++c) {
      if (!shown[c]) continue;
      if (!first) out += mid;
      first = false;
      for (std::size_t i = 0; i < widths[c] + 2; ++i) out += "─";
    }
    out += right;
    out += '\n';
  };
  auto line = [&](const std::vector<std::string>& cells, bool header) {
    std::string sep = style.boxes ? "│" : "";
    out += sep;
    bool first = true;
    for (std::size_t c = 0; c < kColumnCount; ++c) {
      if (!shown[c]) continue;
      const char* color = nullptr;
      if (header) color = kBold;
      else if (kColumns[c].title == std::string("status")) color = status_color(cells[c]);
      else if (c == 1) color = kCyan;
      else if (c == 0) color = kGrey;
      std::string cell = pad(cells[c], widths[c]);
      if (style.boxes) out += " " + paint(cell, color) + " " + sep;
      else out += (first ? "" : "  ") + paint(cell, color);
      first = false;
    }
    if (!style.boxes) {
      while (!out.empty() && out.back() == ' ') out.pop_back();
    }
    out += '\n';
  };

  std::vector<std::string> titles;
  for (const auto& col : kColumns) titles.push_back(col.title);
  rule("┌", "┬", "┐");
  line(titles, true);
  rule("├", "┼", "┤");
  for (const auto& r : rows) line(r, false);
  rule("└", "┴", "┘");
  return out;
}

std::string render_describe(const json& app, const Style& style) {
  const json& env = app.value("pm2_env", json::object());
  std::vector<std::pair<std::string, std::string>> rows;
  auto text = [](const json& v) { return v.is_string() ? v.get<std::string>() : v.is_null() ? "" : v.dump(); };
  // The rows of the options in group, from the option table, each with its first jlist key.
  auto options = [&](config::DescribeGroup group) {
    for (const config::AppOption& option : config::app_options()) {
      if (option.describe.group != group || option.jlist_keys.empty()) continue;
      auto it = env.find(option.jlist_keys.front());
      rows.emplace_back(option.describe.label, it == env.end() ? std::string(option.describe.missing) : text(*it));
    }
  };
  rows.emplace_back("status", env.value("status", "?"));
  options(config::DescribeGroup::Identity);
  rows.emplace_back("id", std::to_string(app.value("pm_id", -1)));
  rows.emplace_back("pid", std::to_string(app.value("pid", 0)));
  rows.emplace_back("restarts", std::to_string(env.value("restart_time", 0)));
  rows.emplace_back("unstable restarts", std::to_string(env.value("unstable_restarts", 0)));
  rows.emplace_back("uptime", config::format_uptime(static_cast<std::uint64_t>(std::max<std::int64_t>(0, env.value("uptime_ms", std::int64_t{0})))));
  options(config::DescribeGroup::Run);
  if (!env.value("notify_status", "").empty()) rows.emplace_back("app status", env.value("notify_status", ""));
  options(config::DescribeGroup::Logs);
  options(config::DescribeGroup::Policy);
  // Why the last run ended: "signal (SIGTERM) at <time>", "cron at <time>".
  if (const json reason = env.value("last_exit_reason", json()); reason.is_string()) {
    std::string last = reason.get<std::string>();
    if (last == "exit" && env.value("exit_code", json()).is_number()) last += " (code " + text(env["exit_code"]) + ")";
    if ((last == "signal" || last == "oom") && env.value("exit_signal", json()).is_string()) last += " (" + text(env["exit_signal"]) + ")";
    rows.emplace_back("last exit", last + " at " + local_time(env.value("last_exit_at", json())));
  } else {
    rows.emplace_back("last exit", "");
  }
  rows.emplace_back("last exit code", text(env.value("exit_code", json())));
  rows.emplace_back("last exit signal", text(env.value("exit_signal", json())));
  rows.emplace_back("last reason", text(env.value("status_reason", json())));
  if (env.value("health", json()).is_string()) {
    rows.emplace_back("health", env["health"].get<std::string>());
    rows.emplace_back("last probe", env.value("health_last_at", json()).is_number()
                                        ? text(env.value("health_last_result", json())) + " at " + local_time(env["health_last_at"])
                                        : "none yet");
  }
  // What the cgroup limits count (cpu_quota, memory_max, tasks_max), for the limits the app has.
  for (const auto& [key, label, unit] : {std::tuple{"cpu_throttled_usec", "cpu throttled", " µs"},
                                         std::tuple{"oom_kills", "oom kills", ""}, std::tuple{"tasks_current", "tasks", ""}}) {
    if (env.value(key, json()).is_number()) rows.emplace_back(label, text(env[key]) + unit);
  }
  rows.emplace_back("exec error", text(env.value("exec_error", json())));
  rows.emplace_back("unique id", env.value("unique_id", ""));
  rows.emplace_back("cgroup", text(env.value("cgroup", json())));
  rows.emplace_back("created at", local_time(env.value("created_at", json())));

  std::size_t key_width = 0;
  for (const auto& [k, v] : rows) key_width = std::max(key_width, k.size());
  std::string out;
  const std::string head = "Describing " + app.value("name", std::string("?")) + " (id " +
                           std::to_string(app.value("pm_id", -1)) + ")";
  out += style.color ? std::string(kBold) + head + kReset : head;
  out += '\n';
  for (const auto& [k, v] : rows) {
    std::string key = pad(k, key_width);
    if (style.color) key = std::string(kBold) + key + kReset;
    std::string value = v;
    if (k == "status" && style.color) value = std::string(status_color(v)) + v + kReset;
    out += (style.boxes ? "│ " : "") + key + (style.boxes ? " │ " : "  ") + value + '\n';
  }
  out += render_code_metrics(env, style);
  return out;
}

}  // namespace pmx::cli
