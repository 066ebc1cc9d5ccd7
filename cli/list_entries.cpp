// List entries: a jlist-shaped array parsed with only the pm2_env fields the tables read.
#include "cli/list_entries.hpp"

#include <algorithm>
#include <array>
#include <string>

namespace pmx::cli {

namespace {

using json = nlohmann::json;

/// The pm2_env fields that render_list (cells_of, the health column) and report_errored read.
/// A column that reads another field adds it here (tests/unit/cli/list_entries_test.cpp
/// renders full and filtered entries side by side).
constexpr std::array<std::string_view, 23> kListFields = {
    "status",          "exec_mode",       "namespace",      "uptime_ms",      "restart_time",
    "health",          "username",        "unstable_restarts", "unique_id",  "status_reason",
    "notify_status",   "exit_code",       "exit_signal",    "last_exit_reason", "last_exit_at",
    "health_last_result", "health_last_at", "exec_error",   "created_at",     "cgroup",
    "log_error",       "ready_warning",   "pm_uptime"};

bool listed(const std::string& key) {
  return std::find(kListFields.begin(), kListFields.end(), key) != kListFields.end();
}

}  // namespace

json parse_list_entries(std::string_view text) {
  // Depths as nlohmann counts them: the array 0, an entry's keys 2, pm2_env's keys 3.
  bool in_pm2_env = false;
  auto keep = [&in_pm2_env](int depth, json::parse_event_t event, json& parsed) {
    if (event != json::parse_event_t::key) return true;
    if (depth == 2) {
      in_pm2_env = parsed.is_string() && parsed.get_ref<const std::string&>() == "pm2_env";
      return true;
    }
    if (depth == 3 && in_pm2_env) return parsed.is_string() && listed(parsed.get_ref<const std::string&>());
    return true;
  };
  return json::parse(text.begin(), text.end(), keep, /*allow_exceptions=*/false);
}

}  // namespace pmx::cli
