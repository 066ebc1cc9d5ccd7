// Reading an ecosystem file for the CLI: YAML/JSON through config/, .js through node, "-" from stdin.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "config/ecosystem.hpp"

namespace pmx::cli {

/// True when arg names an ecosystem file (by its name, and it exists) or is "-" (stdin).
bool is_ecosystem_file(const std::string& arg);

/// The ecosystem file `pmx start` uses without an argument (ecosystem.config.js, .cjs,
/// ecosystem.yaml, .yml, .json in the current directory), or "".
std::string default_ecosystem_file();

/// Loads the file: a YAML or JSON file directly, a .js file by running node to print it as
/// JSON, "-" as JSON from stdin.
Result<config::Ecosystem> read_ecosystem(const std::string& arg, const config::LoadOptions& options);

/// The whole document of the file (a .js one evaluated by node), for its deploy section.
Result<nlohmann::json> read_ecosystem_document(const std::string& arg);

}  // namespace pmx::cli
