// pmx's command line: parse it with the verb table, run the verb, map failures to exit codes.
#include "cli/commands.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "cli/autostart.hpp"
#include "cli/daemon_connection.hpp"
#include "cli/ecosystem_file.hpp"
#include "cli/file_verbs.hpp"
#include "cli/verbs.hpp"
#include "config/suggest.hpp"
#include "config/units.hpp"
#include "ipc/version.hpp"

namespace pmx::cli {
namespace {

constexpr const char* kExitCodes =
    "Exit codes: 0 ok, 1 the operation failed or the daemon refused it (unknown app, invalid\n"
    "state, already launched), 2 usage or configuration error, 3 the daemon is unreachable\n"
    "or did not answer within --timeout.";

/// The first word of the command line that is not an option (nor --timeout's value), if any.
std::optional<std::string> first_word(const std::vector<std::string>& words) {
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (words[i] == "--timeout") {
      ++i;
      continue;
    }
    if (!words[i].starts_with("-")) return words[i];
  }
  return std::nullopt;
}

/// The verb a command line names; null when there is none or it is no verb.
const Verb* named_verb(const std::vector<std::string>& words) {
  const auto word = first_word(words);
  return word ? find_verb(*word) : nullptr;
}

/// PM2's verbs that pmx does not have yet: named as such rather than as typos.
constexpr const char* kPm2VerbsToCome[] = {
    "dash", "dashboard", "install", "uninstall", "set", "get", "conf", "config",
    "link", "unlink", "plus", "attach", "inspect", "module:install",
    "pull", "forward", "backward", "sendLineToStdin", "examples"};

/// Whether words ask PM2 for its log rotation module (`install pm2-logrotate`, `set
/// pm2-logrotate:max_size 10M`): pmx rotates logs itself.
bool asks_for_logrotate(const std::vector<std::string>& words) {
  for (const auto& w : words) {
    if (w == "pm2-logrotate" || w.starts_with("pm2-logrotate:") || w.starts_with("pm2-logrotate@")) return true;
  }
  return false;
}

/// What a PM2 user who asks for pm2-logrotate is told instead.
constexpr const char* kLogrotateBuiltIn =
    "pmx: log rotation is built in, there is no module to install: every app's logs rotate by\n"
    "size (10M) and keep 30 files by default. Set the defaults for every app in $PMX_HOME/pmx.yaml\n"
    "(logs: max_size, retain, compress, rotate_interval: pm2-logrotate's max_size, retain, compress\n"
    "and rotateInterval), or per app with log_max_size, log_retain, log_compress and\n"
    "log_rotate_interval; then run pmx reloadLogs. docs/configuration.md has the details.";

/// "unknown command 'x'", with the verbs it may have meant or what PM2 verb it is.
std::string unknown_verb_message(const std::string& word) {
  std::string message = "pmx: unknown command '" + word + "'";
  if (std::find(std::begin(kPm2VerbsToCome), std::end(kPm2VerbsToCome), word) != std::end(kPm2VerbsToCome)) {
    return message + ": PM2 has it, pmx does not have it yet (docs/cli.md lists what pmx has)";
  }
  std::vector<std::string> names;
  for (const auto& v : verbs()) {
    names.push_back(v.name);
    for (const char* a : v.aliases) {
      if (a) names.push_back(a);
    }
  }
  const auto near = config::closest(word, names);
  if (!near.empty()) {
    message += "; did you mean";
    for (std::size_t i = 0; i < near.size() && i < 3; ++i) message += std::string(i ? "," : "") + " '" + near[i] + "'";
    message += "?";
  }
  return message + " (pmx --help lists the commands)";
}

}  // namespace

int run(int argc, char** argv) {
  CLI::App app{"pmx: a process manager for Linux servers (PM2's verbs, native daemon)", "pmx"};
  app.footer(kExitCodes);
  app.require_subcommand(1);
  CommandLine cl;
  // Global options are accepted after the verb too (pmx ping --timeout 1s).
  app.fallthrough();
  app.add_flag("--no-color", cl.globals.no_color, "no ANSI colours (also NO_COLOR)");
  app.add_option("--timeout", cl.timeout_text,
                 "longest wait for pmxd's answer (5s, 500ms, 0 for none; default 10s, and no limit for "
                 "verbs that wait for apps: start, stop, restart, reload, delete, scale, kill); exit 3 when it passes");
  app.set_version_flag("-v,--version", "pmx " + ipc::version_line());

  // Everything after "--" belongs to the app: split it off before CLI11 sees it.
  std::vector<std::string> words(argv + 1, argv + argc);
  std::vector<std::string> app_args;
  if (auto dashes = std::find(words.begin(), words.end(), "--"); dashes != words.end()) {
    app_args.assign(dashes + 1, words.end());
    words.erase(dashes, words.end());
  }
  // Only the verb given gets its subcommand built: constructing all of them (start alone has
  // some fifty options) cost more than the rest of a `pmx jlist`. Without a known verb (help,
  // a typo) every verb is built, so help and errors read as before.
  if (first_word(words) == "help") words = {"--help"};  // pm2 help
  const Verb* given = named_verb(words);
  if (auto word = first_word(words); word && !given) {
    if ((word == "install" || word == "module:install") && asks_for_logrotate(words)) {
      std::cout << kLogrotateBuiltIn << "\n";  // what the user wanted is there: not a failure
      return kOk;
    }
    if (asks_for_logrotate(words)) {
      std::cerr << kLogrotateBuiltIn << "\n";
      return kUsage;
    }
    std::cerr << unknown_verb_message(*word) << "\n";
    return kUsage;
  }
  for (const auto& v : verbs()) {
    if (given && given != &v) continue;
    auto* c = app.add_subcommand(v.name, v.help);
    for (const char* alias : v.aliases) {
      if (alias) c->alias(alias);
    }
    v.define(*c, cl);
  }
  std::reverse(words.begin(), words.end());  // CLI11 takes a reversed vector
  try {
    app.parse(words);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kOk : kUsage;
  }
  const Verb& verb = *find_verb(app.get_subcommands().front()->get_name());

  if (!cl.timeout_text.empty()) {
    auto t = config::parse_duration_ms(cl.timeout_text);
    if (!t) {
      std::cerr << "pmx: --timeout: " << t.error() << "\n";
      return kUsage;
    }
    cl.globals.timeout = std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(*t));
  }
  DaemonConnection daemon(cl.globals, verb.waits_for_apps);
  Invocation inv{cl, std::move(app_args), daemon, verb.name};
  try {
    cl.file.update_env = cl.update_env;
    // A verb given one ecosystem file acts on the file's apps.
    if (verb.on_file && cl.targets.size() == 1 && is_ecosystem_file(cl.targets.front())) {
      return run_on_file(daemon, *verb.on_file, cl.targets.front(), cl.file);
    }
    if (!inv.app_args.empty() && !verb.app_args) {
      throw Failure(kUsage, "arguments after -- are only for start");
    }
    return verb.run(inv);
  } catch (const Unreachable& e) {
    std::cerr << "pmx: " << e.what() << "\n";
    return kUnreachable;
  } catch (const Failure& e) {
    std::cerr << "pmx: " << e.what() << "\n";
    return e.exit_code;
  }
}

}  // namespace pmx::cli
