// The verb table and the verbs that are one request and a rendering of its answer.
#include "cli/verbs.hpp"
#include "cli/report.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>

#include "cli/autostart.hpp"
#include "cli/commands.hpp"
#include "cli/completion.hpp"
#include "cli/daemon_connection.hpp"
#include "cli/file_verbs.hpp"
#include "cli/deploy_verb.hpp"
#include "cli/monit.hpp"
#include "cli/serve_verb.hpp"
#include "cli/start_verb.hpp"
#include "config/dump.hpp"
#include "config/log_format.hpp"
#include "config/paths.hpp"
#include "config/scale_count.hpp"
#include "config/units.hpp"

namespace pmx::cli {

namespace {

void define_logs(CLI::App& c, CommandLine& cl) {
  LogsOptions& lo = cl.logs;
  c.add_option("target", lo.target, "name, id, namespace or all (default all)");
  c.add_option("--lines", lo.lines, "lines of each file to show first (15; 0: only what comes next)")
      ->check(CLI::NonNegativeNumber);
  auto* err = c.add_flag("--err", lo.err_only, "only stderr");
  c.add_flag("--out", lo.out_only, "only stdout")->excludes(err);
  c.add_flag("--raw", lo.raw, "the bare lines, without the id|name prefix");
  c.add_flag("--json", lo.json, "one JSON object per line (message, timestamp, type, process_id, app_name)");
  c.add_flag("--nostream", lo.nostream, "print the last lines and exit");
  cl.logs_timestamp = c.add_option("--timestamp", cl.logs_stamp_format,
                                   "prefix each line with the time it was read (format: YYYY-MM-DDTHH:mm:ss)")
                          ->expected(0, 1);
  c.add_option("--highlight", lo.highlight, "show this word in inverse video (on a terminal)");
}

void define_targets(CLI::App& c, CommandLine& cl) {
  c.add_option("targets", cl.targets, "names, ids, namespaces, scripts or all")->required();
}

void define_file_flags(CLI::App& c, CommandLine& cl) {
  c.add_option("--only", cl.file.only, "with an ecosystem file: only these apps (a,b)");
  c.add_option("--env", cl.file.env, "with an ecosystem file: merge env_<name> over env");
}

void define_update_env(CLI::App& c, CommandLine& cl) {
  c.add_flag("--update-env", cl.update_env, "give the apps the current environment");
}

void define_one(CLI::App& c, CommandLine& cl, const char* name, const char* help, bool required) {
  auto* o = c.add_option(name, cl.one, help);
  if (required) o->required();
}

void define_startup(CLI::App& c, CommandLine& cl) {
  StartupOptions& o = cl.startup;
  c.add_option("platform", o.init_system, "the init system: systemd (the default and only one)");
  c.add_option("-u,--user", o.user, "the user pmxd runs as (default: you)");
  c.add_option("--hp", o.home_dir, "that user's home folder: PMX_HOME is <it>/.pmx");
  c.add_option("-n,--service-name", o.service_name, "the unit's name (default pmx-<user>)");
  c.add_option("--unit-dir", o.unit_dir, "where the unit goes (default /etc/systemd/system)");
  c.add_flag("--dry-run", o.dry_run, "print the unit and the commands, change nothing");
}

/// Empties the targets' log files and names them; a file that could not be emptied fails it.
int cmd_flush(DaemonConnection& s, const std::vector<std::string>& targets) {
  json r = s.call("flush", {{"targets", targets_of(targets)}, {"cwd", config::current_directory()}});
  for (const auto& path : r.value("flushed", json::array())) std::cout << "flushed " << path.get<std::string>() << "\n";
  int status = kOk;
  for (const auto& f : r.value("failed", json::array())) {
    std::cerr << "pmx: cannot flush " << f.value("path", "") << ": " << f.value("error", "") << "\n";
    status = kFailed;
  }
  return status;
}

/// `scale <app> <N|+N|-N>`: the table afterwards, or the daemon's "nothing to do"; an added
/// instance that could not run fails it, as at start.
int cmd_scale(DaemonConnection& s, const std::string& name, const std::string& count) {
  // A count that can never work is a usage error, said without asking (or starting) pmxd.
  if (auto parsed = config::parse_scale_count(count); !parsed) {
    throw Failure(kUsage, "scale " + name + " " + count + ": " + parsed.error());
  }
  json result = s.call("scale", {{"name", name}, {"count", count}});
  if (const json message = result.value("message", json()); message.is_string()) {
    std::cout << message.get<std::string>() << "\n";
    return kOk;
  }
  s.show_list();
  const json added = result.value("added", json::array());
  json entries = json::array();
  for (const auto& app : result.value("apps", json::array())) {
    if (std::find(added.begin(), added.end(), app.value("pm_id", json())) != added.end()) entries.push_back(app);
  }
  return report_errored(entries);
}

int cmd_trigger(DaemonConnection& s, const std::string& target, const std::string& action,
                const std::optional<std::string>& action_params) {
  json params = {{"targets", targets_of({target})}, {"cwd", config::current_directory()}, {"action", action}};
  if (action_params) params["params"] = *action_params;
  const json r = s.call("trigger", params);
  // One line per instance, name:id: what its action returned, or that it did not answer in time.
  auto instance = [](const json& e) { return e.value("name", "") + ":" + e.value("pm_id", json()).dump(); };
  for (const auto& e : r.value("replies", json::array())) std::cout << instance(e) << " " << e["return"].dump() << "\n";
  const json missing = r.value("no_reply", json::array());
  const std::string wait = r.value("wait_ms", json()).dump();
  for (const auto& e : missing) std::cerr << "pmx: " << instance(e) << " did not reply within " << wait << " ms\n";
  return missing.empty() ? kOk : kFailed;
}

int cmd_send_data(DaemonConnection& s, const std::string& target, const std::string& text, const std::string& topic) {
  json data = json::parse(text, nullptr, false);
  if (data.is_discarded()) throw Failure(kUsage, "sendData: '" + text + "' is not JSON (quote a string: '\"text\"')");
  json params = {{"targets", targets_of({target})}, {"cwd", config::current_directory()}, {"data", data}};
  if (!topic.empty()) params["topic"] = topic;
  const json r = s.call("sendData", params);
  std::cout << "sent to " << r.value("ids", json::array()).size() << " instance(s)\n";
  return kOk;
}

int cmd_describe(DaemonConnection& s, const std::vector<std::string>& targets) {
  json apps = s.call("describe", {{"targets", targets_of(targets)}, {"cwd", config::current_directory()}});
  for (const auto& app : apps) std::cout << render_describe(app, s.style()) << "\n";
  return kOk;
}

int cmd_env(DaemonConnection& s, const std::string& target) {
  json apps = s.call("describe", {{"targets", json::array({target})}, {"cwd", config::current_directory()}});
  for (const auto& app : apps) {
    const json env = app["pm2_env"].value("env", json::object());
    for (const auto& [k, v] : env.items()) {
      std::cout << k << ": " << (v.is_string() ? v.get<std::string>() : v.dump()) << "\n";
    }
  }
  return kOk;
}

int cmd_pid(DaemonConnection& s, const std::string& target) {
  json apps = target.empty() ? s.call("list")
                             : s.call("describe", {{"targets", json::array({target})}, {"cwd", config::current_directory()}});
  for (const auto& app : apps) {
    if (app.value("pid", 0) > 0) std::cout << app.value("pid", 0) << "\n";
  }
  return kOk;
}

int cmd_id(DaemonConnection& s, const std::string& name) {
  json ids = json::array();
  for (const auto& app : s.call("list")) {
    if (app.value("name", "") == name) ids.push_back(app.value("pm_id", -1));
  }
  std::cout << ids.dump() << "\n";
  return kOk;
}

int cmd_kill(DaemonConnection& s) {
  json pong;
  try {
    pong = s.call("ping", json::object(), false);
  } catch (const Unreachable&) {
    std::cout << "pmxd is not running\n";
    return kOk;
  }
  s.call("kill");
  // The daemon answered once every app was stopped; wait until it has let go of the home.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  const std::string proc = "/proc/" + std::to_string(pong.value("pid", 0));
  while (::access(proc.c_str(), F_OK) == 0) {
    if (std::chrono::steady_clock::now() > deadline) throw Failure(kFailed, "pmxd did not exit within 10 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::cout << "pmxd stopped, every app with it\n";
  return kOk;
}

int cmd_save(DaemonConnection& s, bool force) {
  json r = s.call("save", {{"force", force}});
  std::cout << "saved " << r.value("saved", 0) << " instance(s) to " << r.value("path", "") << "\n";
  if (r["backup"].is_string()) std::cout << "the previous dump is kept as " << r["backup"].get<std::string>() << "\n";
  return kOk;
}

/// The dump.pm2 that `pm2 save` wrote, in pmx's dump format. path: given, or $PM2_HOME's, or ~/.pm2's.
json read_pm2_dump(std::string path) {
  if (path.empty()) {
    const char* pm2_home = std::getenv("PM2_HOME");
    const char* home = std::getenv("HOME");
    path = pm2_home && *pm2_home ? std::string(pm2_home) + "/dump.pm2" : std::string(home ? home : "") + "/.pm2/dump.pm2";
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Failure(kUsage, "resurrect --from-pm2: cannot read " + path + ": " + std::strerror(errno));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto saved = config::from_pm2_dump(text);
  if (!saved) throw Failure(kUsage, "resurrect --from-pm2: " + path + ": " + saved.error());
  return json{{"dump", json::parse(config::encode_dump(*saved, ""))}, {"source", path}};
}

int cmd_resurrect(DaemonConnection& s, const std::optional<std::string>& from_pm2) {
  json params = from_pm2 ? read_pm2_dump(*from_pm2) : json::object();
  json r = s.call("resurrect", params);
  if (r["warning"].is_string()) std::cerr << "pmx: warning: " << r["warning"].get<std::string>() << "\n";
  std::cout << "restored " << r["apps"].size() << " instance(s) from " << r.value("source", "") << "\n";
  for (const auto& name : r["skipped"]) std::cout << "'" << name.get<std::string>() << "' is here already, left as it is\n";
  for (const auto& f : r["failed"]) {
    std::cerr << "pmx: app '" << f.value("name", "") << "' not restored: " << f.value("error", "") << "\n";
  }
  s.show_list();
  return r["failed"].empty() ? report_errored(r["apps"]) : kFailed;
}

/// pmx update: pmxd execs the pmxd pmx would start now (the one installed), keeping its pid
/// and its apps; done once the same pid answers from the new binary.
int cmd_update(DaemonConnection& s, const Globals& globals) {
  json before;
  try {
    before = s.call("ping", json::object(), false);
  } catch (const Unreachable&) {
    std::cout << "pmxd is not running: the next pmx command starts the installed one\n";
    return kOk;
  }
  const std::string binary = config::real_path(daemon_binary());
  const int pid = before.value("pid", 0);
  s.call("update", {{"binary", binary}});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  for (;;) {
    try {
      DaemonConnection fresh(globals, false);
      json after = fresh.call("ping", json::object(), false);
      if (after.value("pid", 0) == pid && after.value("exe", "") == binary) {
        std::cout << "pmxd " << pid << " now runs " << binary << " (" << after.value("version", "") << "), "
                  << after.value("apps", 0) << " app instance(s) kept\n";
        return kOk;
      }
      if (after.value("pid", 0) != pid) throw Failure(kFailed, "another pmxd answers (pid " + std::to_string(after.value("pid", 0)) + ")");
    } catch (const Unreachable&) {
      // Between the exec and the new binary's socket.
    }
    if (std::chrono::steady_clock::now() > deadline) {
      throw Failure(kFailed, "pmxd " + std::to_string(pid) + " did not come back from " + binary + " within 15 s (see pmx.log)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

int cmd_logs(Invocation& v) {
  CommandLine& cl = v.cl;
  if (cl.logs_timestamp->count() > 0) {
    cl.logs.timestamp = cl.logs_stamp_format;
    if (!cl.logs_stamp_format.empty()) {
      if (auto checked = config::DateFormat::compile(cl.logs_stamp_format); !checked) {
        throw Failure(kUsage, "logs --timestamp: " + checked.error());
      }
    }
  }
  cl.logs.color = v.daemon.style().color;
  cl.logs.escape = ::isatty(STDOUT_FILENO) != 0;
  return run_logs(v.daemon.paths(), cl.logs, cl.globals.timeout);
}

/// `monit [--interval 1s]`: never starts pmxd (it says on screen that none runs).
int cmd_monit(Invocation& v) {
  auto interval = config::parse_duration_ms(v.cl.monit_interval);
  if (!interval || *interval < 100) {
    throw Failure(kUsage, "monit --interval: " + (interval ? std::string("at least 100ms") : interval.error()));
  }
  return run_monit(v.daemon.paths(), {std::chrono::milliseconds(*interval), v.cl.globals.no_color});
}

int cmd_reload_logs(DaemonConnection& s) {
  json r = s.call("reloadLogs");
  std::cout << "reopened " << r.value("reopened", 0) << " log file(s)\n";
  // pmx.yaml is read again too: a mistake in it is named, and the settings in use stay.
  if (const auto& error = r.value("settings_error", json()); error.is_string()) {
    std::cerr << "pmx: " << error.get<std::string>() << "\n";
    return kFailed;
  }
  if (const auto& error = r.value("metrics_error", json()); error.is_string()) {
    std::cerr << "pmx: cannot serve metrics on " << error.get<std::string>() << "\n";
    return kFailed;
  }
  return kOk;
}

/// restart and reload: --update-env sends the caller's environment; restart --watch toggles.
int cmd_restart(Invocation& v) {
  json extra = json::object();
  if (v.cl.update_env) extra["env"] = caller_env();
  if (v.cl.watch) extra["watch"] = "toggle";  // as PM2: restart --watch turns watching on or off
  return call_on_targets(v.daemon, v.verb, v.cl.targets, extra);
}

void no_options(CLI::App&, CommandLine&) {}

const Verb kVerbs[] = {
    {"start", "start a script or binary, or restart an app by name or id", {},
     [](CLI::App& c, CommandLine& cl) { define_start(c, cl), define_update_env(c, cl), define_file_flags(c, cl); },
     run_start, true, nullptr, true},
    {"stop", "stop apps", {},
     [](CLI::App& c, CommandLine& cl) {
       define_targets(c, cl), define_file_flags(c, cl);
       c.add_flag("--watch", cl.watch, "also stop watching their files");
     },
     [](Invocation& v) { return call_on_targets(v.daemon, "stop", v.cl.targets, v.cl.watch ? json{{"watch", false}} : json::object()); },
     true, &kFileStop},
    {"restart", "restart apps (start them if stopped)", {},
     [](CLI::App& c, CommandLine& cl) {
       define_targets(c, cl), define_update_env(c, cl), define_file_flags(c, cl);
       c.add_flag("--watch", cl.watch, "turn watching their files on or off");
     },
     cmd_restart, true, &kFileRestart},
    {"reload", "restart apps; cluster-mode instances one at a time, each ready before the next", {},
     [](CLI::App& c, CommandLine& cl) { define_targets(c, cl), define_update_env(c, cl), define_file_flags(c, cl); },
     cmd_restart, true, &kFileReload},
    {"startOrRestart", "start an ecosystem file's missing apps, restart the others", {},
     [](CLI::App& c, CommandLine& cl) { define_targets(c, cl), define_update_env(c, cl), define_file_flags(c, cl); },
     [](Invocation&) -> int { throw Failure(kUsage, "startOrRestart and startOrReload take an ecosystem file"); },
     true, &kFileStartOrRestart},
    {"startOrReload", "as startOrRestart", {},
     [](CLI::App& c, CommandLine& cl) { define_targets(c, cl), define_update_env(c, cl), define_file_flags(c, cl); },
     [](Invocation&) -> int { throw Failure(kUsage, "startOrRestart and startOrReload take an ecosystem file"); },
     true, &kFileStartOrReload},
    {"delete", "stop and forget apps", {"del"},
     [](CLI::App& c, CommandLine& cl) { define_targets(c, cl), define_file_flags(c, cl); },
     [](Invocation& v) { return call_on_targets(v.daemon, "delete", v.cl.targets); }, true, &kFileDelete},
    {"scale", "set (N), add (+N) or remove (-N) instances of an app", {},
     [](CLI::App& c, CommandLine& cl) {
       define_one(c, cl, "app", "app name", true);
       c.add_option("count", cl.count, "N: the total, +N: instances to add, -N: instances to remove")->required();
     },
     [](Invocation& v) { return cmd_scale(v.daemon, v.cl.one, v.cl.count); }, true},
    {"ecosystem", "write a commented ecosystem.yaml example here", {"init"}, no_options, run_ecosystem},
    {"reset", "zero the restart counters", {}, define_targets,
     [](Invocation& v) { return call_on_targets(v.daemon, "reset", v.cl.targets); }},
    {"describe", "show everything about apps", {"desc", "info", "show"}, define_targets,
     [](Invocation& v) { return cmd_describe(v.daemon, v.cl.targets); }},
    {"list", "list apps", {"ls", "l", "ps", "status"}, no_options,
     [](Invocation& v) { return v.daemon.show_list(), int{kOk}; }},
    {"jlist", "list apps as JSON (PM2's shape)", {}, no_options,
     [](Invocation& v) { return std::cout << v.daemon.call_text("list") << "\n", int{kOk}; }},
    {"prettylist", "list apps as indented JSON", {}, no_options,
     [](Invocation& v) { return std::cout << v.daemon.call("list").dump(2) << "\n", int{kOk}; }},
    {"env", "print the environment an app was given", {},
     [](CLI::App& c, CommandLine& cl) { define_one(c, cl, "id", "app id or name", true); },
     [](Invocation& v) { return cmd_env(v.daemon, v.cl.one); }},
    {"pid", "print the pid of apps (all when no name)", {},
     [](CLI::App& c, CommandLine& cl) { define_one(c, cl, "name", "app name or id", false); },
     [](Invocation& v) { return cmd_pid(v.daemon, v.cl.one); }},
    {"id", "print the ids of an app name", {},
     [](CLI::App& c, CommandLine& cl) { define_one(c, cl, "name", "app name", true); },
     [](Invocation& v) { return cmd_id(v.daemon, v.cl.one); }},
    {"flush", "empty the log files of apps (all when no target)", {},
     [](CLI::App& c, CommandLine& cl) { c.add_option("targets", cl.targets, "names, ids, namespaces or all"); },
     [](Invocation& v) { return cmd_flush(v.daemon, v.cl.targets.empty() ? std::vector<std::string>{"all"} : v.cl.targets); }},
    {"reloadLogs", "reopen every log file (after an external logrotate moved them) and read pmx.yaml again", {},
     no_options, [](Invocation& v) { return cmd_reload_logs(v.daemon); }},
    {"logs", "show the apps' last log lines, then their output as it comes", {}, define_logs, cmd_logs},
    {"monit", "a live dashboard: apps with CPU and memory, the selected app's logs and metrics, keys for the verbs", {},
     [](CLI::App& c, CommandLine& cl) {
       c.add_option("--interval", cl.monit_interval, "how often the list is read (default 1s)");
     },
     cmd_monit},
    {"ping", "check that pmxd answers (starting it if needed)", {}, no_options,
     [](Invocation& v) { return std::cout << v.daemon.call("ping").dump() << "\n", int{kOk}; }},
    {"kill", "stop every app and the daemon", {}, no_options, [](Invocation& v) { return cmd_kill(v.daemon); }, true},
    {"trigger", "run an action the app registered (@pm2/io io.action) and print its replies", {},
     [](CLI::App& c, CommandLine& cl) {
       define_one(c, cl, "target", "name, id, namespace or all", true);
       c.add_option("action", cl.action, "the action's name")->required();
       c.add_option("params", cl.action_params, "given to the action");
     },
     [](Invocation& v) { return cmd_trigger(v.daemon, v.cl.one, v.cl.action, v.cl.action_params); }},
    {"sendData", "send a JSON value to Node apps as a process:msg packet (process.on('message'))", {"send-data"},
     [](CLI::App& c, CommandLine& cl) {
       define_one(c, cl, "target", "name, id, namespace or all", true);
       c.add_option("data", cl.data, "a JSON value ('{\"a\":1}', '\"text\"', 42)")->required();
       c.add_option("--topic", cl.topic, "the packet's topic (default: true)");
     },
     [](Invocation& v) { return cmd_send_data(v.daemon, v.cl.one, v.cl.data, v.cl.topic); }},
    {"save", "save the app list to $PMX_HOME/dump.pmx, for resurrect and the startup unit", {"dump"},
     [](CLI::App& c, CommandLine& cl) { c.add_flag("-f,--force", cl.force, "save even an empty list over a non-empty dump"); },
     [](Invocation& v) { return cmd_save(v.daemon, v.cl.force); }},
    {"resurrect", "start the apps of the last save (those not running)", {},
     [](CLI::App& c, CommandLine& cl) {
       c.add_option("--from-pm2", cl.from_pm2, "import the dump of `pm2 save` (default $PM2_HOME/dump.pm2 or ~/.pm2/dump.pm2)")
           ->expected(0, 1);
     },
     [](Invocation& v) { return cmd_resurrect(v.daemon, v.cl.from_pm2); }, true},
    {"cleardump", "empty the saved app list (the old one is kept as dump.pmx.bak)", {}, no_options,
     [](Invocation& v) {
       std::cout << "emptied " << v.daemon.call("cleardump").value("path", "") << "\n";
       return int{kOk};
     }},
    {"startup", "start pmxd at boot with the saved apps: write and enable a systemd unit", {}, define_startup,
     [](Invocation& v) { return run_startup(v.cl.startup); }},
    {"unstartup", "disable and remove the unit of pmx startup", {}, define_startup,
     [](Invocation& v) { return run_unstartup(v.cl.startup); }},
    {"update", "replace the running pmxd with the installed one: same pid, apps untouched", {}, no_options,
     [](Invocation& v) { return cmd_update(v.daemon, v.cl.globals); }},
    {"serve", "serve a folder's files over HTTP, as an app (PM2's static server; pmx-serve, no Node)", {},
     define_serve, run_serve, true},
    {"deploy", "deploy a git repository to hosts over ssh from the file's deploy section (PM2's deploy)", {},
     define_deploy, run_deploy},
    {"completion", "print the bash completion script (zsh: completion zsh; install: for this user)", {},
     [](CLI::App& c, CommandLine& cl) { define_one(c, cl, "shell", "bash (the default), zsh, or install", false); },
     [](Invocation& v) { return run_completion(v.cl.one); }},
    {"signal", "send a signal to apps", {"sendSignal"},
     [](CLI::App& c, CommandLine& cl) {
       c.add_option("signal", cl.signal_name, "signal name or number (SIGUSR2, 12)")->required();
       define_targets(c, cl);
     },
     [](Invocation& v) {
       json r = v.daemon.call("signal", {{"signal", v.cl.signal_name},
                                         {"targets", targets_of(v.cl.targets)},
                                         {"cwd", config::current_directory()}});
       std::cout << "sent " << r.value("signal", "") << " to " << r["ids"].size() << " app(s)\n";
       return int{kOk};
     }},
    // Observability (docs/metrics.md).
    {"metrics", "print the Prometheus exposition of every app and of pmxd (what GET /metrics serves)", {}, no_options,
     [](Invocation& v) {
       std::cout << v.daemon.call("metrics", {{"format", "prometheus"}}).value("text", "");
       return int{kOk};
     }},
    {"report", "print what a bug report needs: versions, kernel, cgroups, pmxd, each app's state and last errors", {},
     no_options, [](Invocation& v) { return cmd_report(v.daemon); }},
};

}  // namespace

std::span<const Verb> verbs() { return kVerbs; }

const Verb* find_verb(std::string_view word) {
  for (const auto& v : kVerbs) {
    if (word == v.name) return &v;
    for (const char* a : v.aliases) {
      if (a && word == a) return &v;
    }
  }
  return nullptr;
}

}  // namespace pmx::cli
