// `pmx start`: its options, the spec built from them, and starting a script, a binary or a
// command line (an ecosystem file goes through file_verbs).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "cli/command_line.hpp"
#include "config/app_spec.hpp"

namespace pmx::cli {

/// Adds start's options and its script argument to c.
void define_start(CLI::App& c, CommandLine& cl);
/// `pmx start ...`: an ecosystem file's apps, a script, a binary, a command line, or the
/// restart of an app pmx has by that name or id.
int run_start(Invocation& inv);
/// Starts the script (or command line) of o as one app; the exit code.
int start_script(DaemonConnection& daemon, const StartOptions& o);
/// Says which options of app are stored but have no effect yet (never silently ignored).
void warn_unsupported(const config::AppSpec& app);

}  // namespace pmx::cli
