// The verb table: each verb of pmx with its help, aliases, options and the function that runs
// it. `pmx --help`, parsing and dispatch all read this one table.
#pragma once

#include <array>
#include <span>

#include "cli/command_line.hpp"

namespace pmx::cli {

struct FileAction;

/// One verb of the command line.
struct Verb {
  const char* name;
  const char* help;
  std::array<const char*, 4> aliases;
  /// Adds its options and arguments to its CLI11 subcommand.
  void (*define)(CLI::App&, CommandLine&);
  /// Runs it; the exit code.
  int (*run)(Invocation&);
  /// pmxd answers it once apps have stopped or started: no time limit unless --timeout.
  bool waits_for_apps = false;
  /// Given one ecosystem file as its target, what it does to the file's apps (file_verbs);
  /// nullptr: it takes no file.
  const FileAction* on_file = nullptr;
  /// It takes the app's arguments after `--` (start only).
  bool app_args = false;
};

/// Every verb, in the order `pmx --help` lists them.
std::span<const Verb> verbs();
/// The verb named (or aliased) word; nullptr when there is none.
const Verb* find_verb(std::string_view word);

}  // namespace pmx::cli
