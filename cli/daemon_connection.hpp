// DaemonConnection: the CLI's one connection to pmxd (started when needed), calls that turn the
// daemon's refusals into exit codes, and what several verbs print from its answers.
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/command_line.hpp"
#include "cli/render.hpp"
#include "config/paths.hpp"
#include "ipc/client.hpp"
#include "ipc/protocol.hpp"

namespace pmx::cli {

using json = nlohmann::json;

/// A refusal by the daemon or a failure, with its exit code, printed by run().
struct Failure : std::runtime_error {
  Failure(int code, const std::string& what) : std::runtime_error(what), exit_code(code) {}
  int exit_code;
};

class DaemonConnection {
 public:
  /// patient: the verb waits for apps to stop or start (start, stop, restart, ...): without
  /// --timeout it waits as long as pmxd takes; other verbs wait 10 s.
  DaemonConnection(const Globals& globals, bool patient);

  const config::Paths& paths() const { return paths_; }

  /// Calls a method, starting the daemon when needed; a refusal throws Failure (exit 1, or 2
  /// for invalid params), an unreachable daemon Unreachable (exit 3).
  json call(const std::string& method, const json& params = json::object(), bool autostart = true);
  /// The result's JSON text as the daemon sent it (jlist prints it without re-encoding).
  std::string call_text(const std::string& method, const json& params = json::object());
  /// A call whose result is jlist entries (list, start, restart), read only for the tables
  /// and warnings (parse_list_entries): asked for without the environments ("brief").
  json call_entries(const std::string& method, json params = json::object());
  /// Turns a daemon error into the exception that carries its exit code.
  [[noreturn]] static void fail(const ipc::RpcError& error);

  Style style() const { return detect_style(globals_.no_color); }
  /// The table of apps (or a word that there is none).
  void print_list(const json& apps) const;
  void show_list() { print_list(call_entries("list")); }

 private:
  std::chrono::milliseconds timeout() const;

  const Globals& globals_;
  bool patient_;
  config::Paths paths_;
  ipc::Client client_;
};

/// The caller's environment as a JSON object (sent with start, and restart --update-env).
json caller_env();
/// targets as a JSON array of strings.
json targets_of(const std::vector<std::string>& targets);
/// Calls method (stop, restart, delete, ...) on targets (names, ids, namespaces, scripts, all;
/// extra: more params), then shows the table; a restarted app that could not run fails it.
int call_on_targets(DaemonConnection& daemon, const std::string& method, const std::vector<std::string>& targets,
                    json extra = json::object());
/// Warns about a log file an app cannot write, and fails (exit 1) when an app could not even
/// run (exec failed, crashed at once); started: jlist entries.
int report_errored(const json& started);

}  // namespace pmx::cli
