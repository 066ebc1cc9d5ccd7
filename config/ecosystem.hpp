// Ecosystem files: YAML, JSON (and the JSON a .config.js evaluates to) -> validated AppSpecs,
// with errors and warnings that name file:line:col.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/app_spec.hpp"
#include "config/result.hpp"

namespace pmx::config {

enum class Format { Yaml, Json, JavaScript };

/// The format a file name says, by PM2's rule: *.yaml|*.yml, *.json, *.config.js|cjs|mjs;
/// nullopt for anything else (app.js is a script, not an ecosystem file).
std::optional<Format> format_of(const std::string& path);

struct LoadOptions {
  std::string env_name;           ///< --env <name>: env_<name> is merged over env
  std::vector<std::string> only;  ///< --only a,b: keep these apps (after validating all)
  /// What `script: "serve"` runs, as under PM2 its static server (configured by the app's
  /// PM2_SERVE_* env): pmx-serve's path, found by the CLI. Empty: "serve" is an ordinary script.
  std::string serve_program;
  /// --only also keeps the apps of the file the kept ones depend on (`depends_on`), as a
  /// start needs them.
  bool only_with_dependencies = false;
};

struct Ecosystem {
  std::vector<AppSpec> apps;          ///< paths absolute, interpreter chosen, names set
  std::vector<std::string> warnings;  ///< "file:line:col: ..." (unknown keys and the like)
  /// Where each app with a depends_on gives it, as messages start: "file:line:col: ".
  std::map<std::string, std::string> depends_on_at;
};

/// The whole document of an ecosystem text as JSON, for the sections beside `apps` (deploy);
/// an error names the file (and the line, for YAML and JSON).
Result<nlohmann::json> parse_ecosystem_document(std::string_view text, Format format, const std::string& display_name);

/// Parses an ecosystem text. display_name prefixes every message; base_dir resolves relative
/// paths. For Format::JavaScript the text is the JSON the file evaluated to, and messages
/// name the app and option instead of a line. All or nothing: any error fails the whole file,
/// with one line per error.
Result<Ecosystem> parse_ecosystem(std::string_view text, Format format, const std::string& display_name,
                                  const std::string& base_dir, const LoadOptions& options);

/// Reads a YAML or JSON file and parses it (a .js file is evaluated by the CLI with node).
Result<Ecosystem> load_ecosystem(const std::string& path, const LoadOptions& options);

/// The closest known option name to an unknown key, "" when none is close.
std::string suggest_option(const std::string& key);

/// The commented example `pmx ecosystem` writes.
std::string example_ecosystem_yaml();

}  // namespace pmx::config
