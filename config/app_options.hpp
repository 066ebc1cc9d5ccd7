// AppOption: the table of app options. One row per PM2 option says its names, what kind of
// value it takes, how it reads into and writes from AppSpec, its `pmx start` flag, its row in
// `pmx describe` and its key in jlist's pm2_env. spec_from_json, to_json, canonical_option,
// start's flags, describe's option rows and jlist's option fields are generated from it, and
// docs/configuration.md's option table is checked against it (tests/unit/config/app_options_test.cpp).
//
// Adding an option: a member of AppSpec, a row here, a row in docs/configuration.md; then the
// code that gives it its effect.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "config/app_spec.hpp"

namespace pmx::config {

class OptionReader;

/// What an option's value is, as files and requests write it (what its reader accepts).
enum class OptionKind {
  String,       ///< any string
  Path,         ///< a path; the CLI and the loaders resolve it
  Bool,         ///< true or false (or their text)
  Int,          ///< an integer >= AppOption::min
  Duration,     ///< milliseconds, or 500ms, 5s, 2m, 1h
  Size,         ///< bytes, or 200K, 150M, 1G
  Words,        ///< a list of strings, or one string split as a shell splits it
  Env,          ///< an object of NAME: value
  ExitCodes,    ///< an exit code or a list of them, 0..255
  Choice,       ///< one of AppOption::choices
  User,         ///< a user or group name, or a numeric id
  Instances,    ///< a count, "max", 0 or -N
  BoolOrWords,  ///< true or false, or words (filter_env: prefixes; watch: paths)
  Cron,         ///< a cron expression; 0 or "0" is none
  HealthCheck,  ///< an object (http, tcp or exec, and its timings) or a string (config/health_check.hpp)
  Percent,      ///< a whole percentage with its sign: 50%, 150% (cpu_quota, config/cpu_quota.hpp)
};

/// Where a generically read and written option lives in AppSpec.
using OptionField =
    std::variant<std::monostate, std::string AppSpec::*, bool AppSpec::*, int AppSpec::*, std::uint64_t AppSpec::*,
                 std::vector<std::string> AppSpec::*, Env AppSpec::*, std::vector<int> AppSpec::*,
                 std::optional<std::uint64_t> AppSpec::*, std::optional<int> AppSpec::*,
                 std::optional<bool> AppSpec::*, std::optional<std::string> AppSpec::*>;

/// How `pmx start` takes an option.
enum class CliForm {
  None,           ///< files and requests only
  Positional,     ///< the script argument
  AfterDashes,    ///< the words after `--`
  Value,          ///< --flag VALUE, sent as typed (spec_from_json checks it)
  OptionalValue,  ///< --flag [VALUE]; alone, it sends kOptionalFlagValue
  Switch,         ///< --flag sends true
  NegatedSwitch,  ///< --no-flag sends false
  ExitCodes,      ///< --flag CODE..., sent as a list of integers
  RequestSwitch,  ///< a switch of the start request, not of the app (-f: `force` of `start`)
};

/// What `-l` alone sends (log_file: true, the default combined log).
inline constexpr const char* kOptionalFlagValue = "true";

/// How `pmx start` makes a typed path absolute.
enum class CliPath {
  AsTyped,
  AgainstCurrentDir,  ///< cwd
  AgainstAppCwd,      ///< log and pid files (kOptionalFlagValue stays as it is)
};

/// An option's flag of `pmx start`.
struct OptionFlag {
  const char* flags = nullptr;  ///< as CLI11 spells them: "-n,--name"; the positional's name
  const char* help = nullptr;
  CliForm form = CliForm::None;
  CliPath path = CliPath::AsTyped;
};

/// The sections of `pmx describe` that show options, between the instance's own rows.
enum class DescribeGroup { None, Identity, Run, Logs, Policy };

/// An option's row of `pmx describe`: its label, shown with the value of its (first) jlist key.
struct OptionDescribe {
  const char* label = nullptr;
  DescribeGroup group = DescribeGroup::None;
  const char* missing = "";  ///< shown when pm2_env has no such key
};

/// How an option shows in jlist's pm2_env, under each of AppOption::jlist_keys.
enum class JlistForm {
  None,           ///< not shown
  Value,          ///< as to_json writes it
  NullWhenEmpty,  ///< as to_json writes it, null for ""
  Custom,         ///< AppOption::jlist_value
  FromInstance,   ///< the instance's own resolved value (log and pid paths), written by the daemon
};

/// One app option. Rows without `read` are read by kind into `field`; rows without `value`
/// write `field` in to_json.
struct AppOption {
  const char* name;                  ///< PM2's name
  std::vector<const char*> aliases;  ///< PM2's other names and camelCase forms, tried in order
  OptionKind kind;
  OptionField field{};
  int min = 0;                           ///< Int: the smallest value
  std::vector<const char*> choices{};    ///< Choice: the values allowed
  bool omit_default = false;             ///< to_json leaves it out while it has AppSpec's default
  void (*read)(OptionReader&, AppSpec&) = nullptr;
  nlohmann::json (*value)(const AppSpec&) = nullptr;
  OptionFlag cli{};
  OptionDescribe describe{};
  std::vector<const char*> jlist_keys{};
  JlistForm jlist = JlistForm::None;
  nlohmann::json (*jlist_value)(const AppSpec&) = nullptr;
};

/// Every app option, in the order spec_from_json reads them (the first error wins) and
/// docs/configuration.md lists them.
const std::vector<AppOption>& app_options();

/// The row of an option by its PM2 name or an alias; nullptr when there is none.
const AppOption* find_app_option(std::string_view name_or_alias);

/// Reads the option of row `option` from r into spec (its custom reader, or by kind).
void read_option(const AppOption& option, OptionReader& r, AppSpec& spec);

/// The option's value as to_json writes it; null when to_json leaves it out.
nlohmann::json option_value(const AppOption& option, const AppSpec& spec);

/// Adds the option fields of pm2_env (jlist, describe) for spec: every row with a jlist form
/// other than None and FromInstance.
void write_jlist_options(const AppSpec& spec, nlohmann::json& pm2_env);

}  // namespace pmx::config
