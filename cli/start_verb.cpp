// `pmx start`: its options (PM2's flags, from the option table config/app_options.hpp), the spec
// built from them with PM2's defaults and checked before anything is sent, and what a script
// argument can be.
#include "cli/start_verb.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/daemon_connection.hpp"
#include "cli/ecosystem_file.hpp"
#include "cli/file_verbs.hpp"
#include "config/app_options.hpp"
#include "config/interpreter.hpp"
#include "config/paths.hpp"

namespace pmx::cli {

namespace {

/// The typed codes of an exit-code flag as integers (the daemon checks their range).
json exit_codes(const config::AppOption& option, const std::vector<std::string>& typed) {
  json codes = json::array();
  for (const auto& c : typed) {
    char* end = nullptr;
    long v = std::strtol(c.c_str(), &end, 10);
    if (c.empty() || *end != '\0') {
      throw Failure(kUsage, std::string(option.cli.flags) + ": '" + c + "' is not an exit code");
    }
    codes.push_back(v);
  }
  return codes;
}

// Builds the spec sent to the daemon from the command line, with PM2's defaults: each flag
// given, as its option's row says, then what the command line chooses when no flag says.
json build_spec(const StartOptions& o, const std::string& script_path) {
  json app = json::object();
  const std::string& script = o.positional.front();
  const std::string here = config::current_directory();
  const std::string cwd = o.value("cwd").empty() ? here : config::absolute_path(o.value("cwd"), here);
  for (const config::AppOption& option : config::app_options()) {
    const config::OptionFlag& flag = option.cli;
    const char* key = option.name;
    switch (flag.form) {
      case config::CliForm::None:
      case config::CliForm::RequestSwitch:
        break;
      case config::CliForm::Positional:
        app[key] = script_path;
        break;
      case config::CliForm::AfterDashes:
        app[key] = std::vector<std::string>(o.positional.begin() + 1, o.positional.end());
        break;
      case config::CliForm::Value:
      case config::CliForm::OptionalValue: {
        const std::string& typed = o.value(key);
        if (typed.empty()) break;
        if (flag.path == config::CliPath::AgainstCurrentDir) app[key] = config::absolute_path(typed, here);
        else if (flag.path == config::CliPath::AgainstAppCwd && typed != config::kOptionalFlagValue) {
          app[key] = config::absolute_path(typed, cwd);
        } else {
          app[key] = typed;
        }
        break;
      }
      case config::CliForm::Switch:
        if (o.on(key)) app[key] = true;
        break;
      case config::CliForm::NegatedSwitch:
        if (o.on(key)) app[key] = false;
        break;
      case config::CliForm::ExitCodes:
        if (auto it = o.lists.find(key); it != o.lists.end() && !it->second.empty()) app[key] = exit_codes(option, it->second);
        break;
    }
  }
  app["cwd"] = cwd;
  if (!app.contains("name")) app["name"] = config::default_name(script);
  if (!app.contains("interpreter")) app["interpreter"] = config::choose_interpreter(script_path);
  // Validate here too, so the user sees the option's name before anything is sent.
  auto checked = config::spec_from_json(app);
  if (!checked) throw Failure(kUsage, checked.error());
  warn_unsupported(*checked);
  return app;
}

}  // namespace

// Options whose behaviour is still to come are said so, never silently ignored.
void warn_unsupported(const config::AppSpec& app) {
  for (const auto& what : config::unsupported_options(app)) {
    std::cerr << "pmx: warning: app '" << app.name << "': " << what
              << " is not yet supported: it is stored, and has no effect yet\n";
  }
}

void define_start(CLI::App& c, CommandLine& cl) {
  StartOptions& so = cl.start;
  for (const config::AppOption& option : config::app_options()) {
    const config::OptionFlag& flag = option.cli;
    const std::string key = option.name;
    switch (flag.form) {
      case config::CliForm::None:
      case config::CliForm::AfterDashes:
        break;
      case config::CliForm::Positional:
        c.add_option(flag.flags, so.positional, flag.help);
        break;
      case config::CliForm::Value:
        c.add_option(flag.flags, so.values[key], flag.help);
        break;
      case config::CliForm::OptionalValue:
        // `-l` alone, as in PM2: the combined log in the logs folder (<name>.log).
        c.add_option(flag.flags, so.values[key], flag.help)->expected(0, 1)->default_str(config::kOptionalFlagValue);
        break;
      case config::CliForm::Switch:
      case config::CliForm::NegatedSwitch:
      case config::CliForm::RequestSwitch:
        c.add_flag(flag.flags, so.switches[key], flag.help);
        break;
      case config::CliForm::ExitCodes:
        c.add_option(flag.flags, so.lists[key], flag.help);
        break;
    }
  }
}

int start_script(DaemonConnection& s, const StartOptions& o) {
  const std::string& script = o.positional.front();
  const std::string base =
      o.value("cwd").empty() ? config::current_directory() : config::absolute_path(o.value("cwd"), config::current_directory());
  std::string path = config::absolute_path(script, base);
  if (!config::is_regular_file(path)) path = config::find_in_path(script);
  if (path.empty() && config::looks_like_command(script)) {
    // No such file, but a command line (config::command_string).
    auto parsed = config::command_string(script);
    if (!parsed) throw Failure(kUsage, "start: " + parsed.error());
    StartOptions command = o;
    if (command.value("name").empty()) command.values["name"] = config::command_name(script);
    command.positional = parsed->argv;
    command.positional.insert(command.positional.end(), o.positional.begin() + 1, o.positional.end());
    return start_script(s, command);
  }
  if (path.empty()) {
    // `pmx start <name|id>` of an app pmx already has restarts it, as in PM2.
    json apps = s.call("list");
    bool known = false;
    for (const auto& app : apps) {
      known = known || app.value("name", "") == script || std::to_string(app.value("pm_id", -1)) == script ||
              app["pm2_env"].value("namespace", "") == script;
    }
    if (known || script == "all") {
      return call_on_targets(s, "restart", {script});
    }
    throw Failure(kUsage, "script not found: " + config::absolute_path(script, base) + " (nor an app of that name or id)");
  }
  json params{{"app", build_spec(o, path)}, {"env", caller_env()}, {"force", o.on("force")}};
  json started = s.call_entries("start", std::move(params));
  s.show_list();
  return report_errored(started);
}

int run_start(Invocation& inv) {
  StartOptions& so = inv.cl.start;
  FileOptions& fo = inv.cl.file;
  if (so.positional.empty()) {
    std::string file = default_ecosystem_file();
    if (file.empty()) throw Failure(kUsage, "start needs a script, a binary or an ecosystem file (none found here)");
    so.positional.push_back(file);
  }
  if (so.positional.size() > 1) throw Failure(kUsage, "start takes one script; put its arguments after --");
  if (is_ecosystem_file(so.positional.front()) && inv.app_args.empty()) {
    fo.force = so.on("force");
    return run_on_file(inv.daemon, kFileStart, so.positional.front(), fo);
  }
  so.positional.insert(so.positional.end(), inv.app_args.begin(), inv.app_args.end());
  return start_script(inv.daemon, so);
}

}  // namespace pmx::cli
