// DaemonConnection: calls to pmxd with the verb's timeout, refusals as exit codes.
#include "cli/daemon_connection.hpp"

#include <iostream>

#include "cli/autostart.hpp"
#include "cli/commands.hpp"
#include "cli/list_entries.hpp"

extern char** environ;

namespace pmx::cli {

namespace {

/// How long a verb that only reads or signals waits for pmxd's answer unless --timeout says
/// otherwise. Verbs that wait for apps wait without limit by default: pmxd answers them once
/// the apps are stopped or started, which can take each app's kill_timeout.
constexpr std::chrono::milliseconds kQuickVerbTimeout{10'000};

}  // namespace

DaemonConnection::DaemonConnection(const Globals& globals, bool patient)
    : globals_(globals), patient_(patient), paths_(config::Paths::from_environment()) {}

std::chrono::milliseconds DaemonConnection::timeout() const {
  if (globals_.timeout) return *globals_.timeout;
  return patient_ ? std::chrono::milliseconds{0} : kQuickVerbTimeout;
}

namespace {

/// Whether pmxd went away without reading the request (see ipc::Client::call): then it was not
/// handled and may be sent again, to the pmxd started in its place.
bool unread(const ipc::Response& r) {
  return r.error && r.error->data.is_object() && r.error->data.value("unread", false);
}

}  // namespace

json DaemonConnection::call(const std::string& method, const json& params, bool autostart) {
  if (!client_.connected()) connect(client_, paths_, autostart);
  client_.set_timeout(timeout());
  ipc::Response r = client_.call(method, params);
  if (unread(r) && autostart) {
    // A pmxd killed a moment ago still took the connection into its backlog.
    connect(client_, paths_, autostart);
    client_.set_timeout(timeout());
    r = client_.call(method, params);
  }
  if (r.error) fail(*r.error);
  return r.result.value_or(json());
}

std::string DaemonConnection::call_text(const std::string& method, const json& params) {
  if (!client_.connected()) connect(client_, paths_, true);
  std::string text;
  client_.set_timeout(timeout());
  ipc::Response r = client_.call_raw(method, params, text);
  if (unread(r)) {
    connect(client_, paths_, true);
    client_.set_timeout(timeout());
    text.clear();
    r = client_.call_raw(method, params, text);
  }
  if (r.error) fail(*r.error);
  return text.empty() ? r.result.value_or(json()).dump() : text;
}

json DaemonConnection::call_entries(const std::string& method, json params) {
  params["brief"] = true;
  json entries = parse_list_entries(call_text(method, params));
  if (entries.is_discarded()) throw Failure(kFailed, "pmxd's answer to " + method + " is not JSON");
  return entries;
}

void DaemonConnection::fail(const ipc::RpcError& error) {
  const auto kind = error.data.value("kind", std::string());
  if (kind == "transport" || kind == "timeout") throw Unreachable(error.message);
  throw Failure(kind == "invalid_params" || kind == "too_large" ? kUsage : kFailed, error.message);
}

void DaemonConnection::print_list(const json& apps) const {
  if (apps.empty()) {
    std::cout << "No app is managed by pmx yet: start one with `pmx start <script>`.\n";
    return;
  }
  std::cout << render_list(apps, style());
}

json caller_env() {
  json env = json::object();
  for (char** e = environ; e && *e; ++e) {
    std::string entry = *e;
    auto eq = entry.find('=');
    if (eq != std::string::npos && eq > 0) env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  return env;
}

json targets_of(const std::vector<std::string>& targets) {
  json t = json::array();
  for (const auto& s : targets) t.push_back(s);
  return t;
}

int call_on_targets(DaemonConnection& s, const std::string& method, const std::vector<std::string>& targets, json extra) {
  json params = extra.is_object() ? extra : json::object();
  params["targets"] = targets_of(targets);
  params["cwd"] = config::current_directory();  // a target may be a script path: relative to here
  json result = s.call(method, params);
  if (method == "delete") {
    for (const auto& id : result.value("deleted", json::array())) std::cout << "deleted id " << id << "\n";
  }
  s.show_list();
  // A restarted app that could not run (exec failed, crashed at once) makes a failed restart.
  return method == "restart" || method == "reload" ? report_errored(result) : kOk;
}

int report_errored(const json& started) {
  int code = kOk;
  for (const auto& app : started) {
    const json& env = app["pm2_env"];
    if (const json log = env.value("log_error", json()); log.is_string()) {
      std::cerr << "pmx: warning: " << app.value("name", "?") << " (id " << app.value("pm_id", -1)
                << "): cannot write its log file " << log.get<std::string>()
                << "; its output is dropped (and counted) until it can be written\n";
    }
    if (const json ready = env.value("ready_warning", json()); ready.is_string()) {
      std::cerr << "pmx: warning: " << app.value("name", "?") << " (id " << app.value("pm_id", -1)
                << "): " << ready.get<std::string>() << "\n";
    }
    if (const json why = env.value("status_reason", json());
        env.value("status", "") == "launching" && why.is_string() && why.get<std::string>().starts_with("waiting for ")) {
      // Held for a depends_on app that will not get ready by itself (pmxd answers only then).
      std::cerr << "pmx: " << app.value("name", "?") << " (id " << app.value("pm_id", -1) << ") not started: "
                << why.get<std::string>() << "\n";
      code = kFailed;
      continue;
    }
    if (env.value("status", "") != "errored") continue;
    const json why = env.value("exec_error", json());
    std::cerr << "pmx: " << app.value("name", "?") << " (id " << app.value("pm_id", -1) << ") errored: "
              << (why.is_string() ? why.get<std::string>() : env.value("status_reason", std::string("?"))) << "\n";
    code = kFailed;
  }
  return code;
}

}  // namespace pmx::cli
