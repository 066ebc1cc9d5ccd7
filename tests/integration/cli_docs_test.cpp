// What the docs and the completion scripts say of pmx's verbs and flags, checked against the
// built pmx: docs/cli.md's compatibility table, packaging/completions/pmx.bash and _pmx.
#include <catch2/catch.hpp>

#include <regex>
#include <set>
#include <sstream>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;

namespace {

const std::string kSource = PMX_SOURCE_DIR;

/// The verbs and aliases `pmx --help` lists ("  describe, desc, info, show   show everything...").
std::set<std::string> verbs_of_help() {
  const auto help = run_process({bin::kPmx, "--help"});
  REQUIRE(help.exit_code == 0);
  std::set<std::string> words;
  std::istringstream in(help.out);
  std::string line;
  bool in_list = false;
  while (std::getline(in, line)) {
    if (line.starts_with("Subcommands:")) {
      in_list = true;
      continue;
    }
    if (!in_list || line.empty()) {
      if (in_list) break;
      continue;
    }
    // The names end where two spaces begin the help text.
    std::string names = line.substr(2, line.find("  ", 2) - 2);
    std::istringstream parts(names);
    std::string name;
    while (std::getline(parts, name, ',')) {
      name.erase(0, name.find_first_not_of(' '));
      words.insert(name);
    }
  }
  return words;
}

/// The long flags `pmx <verb> --help` lists.
std::set<std::string> long_flags_of(const std::string& verb) {
  const auto help = run_process({bin::kPmx, verb, "--help"});
  REQUIRE(help.exit_code == 0);
  std::set<std::string> flags;
  const std::regex flag("--[a-z][a-z0-9-]*");
  for (auto it = std::sregex_iterator(help.out.begin(), help.out.end(), flag); it != std::sregex_iterator(); ++it) {
    flags.insert(it->str());
  }
  return flags;
}

/// A row of docs/cli.md's verb compatibility table: the PM2 verbs it names and what pmx does.
struct VerbRow {
  std::vector<std::string> verbs;  ///< the first word of each `code` span of the first column
  std::string status;              ///< same, differs, not yet
  std::string text;
};

std::vector<VerbRow> compatibility_rows() {
  const auto doc = read_file(kSource + "/docs/cli.md");
  REQUIRE(doc);
  std::istringstream in(*doc);
  std::string line;
  while (std::getline(in, line) && line != "| PM2 | pmx | notes |") {
  }
  REQUIRE(std::getline(in, line));  // |---|---|---|
  std::vector<VerbRow> rows;
  const std::regex code("`([^`]*)`");
  while (std::getline(in, line) && line.starts_with("|")) {
    VerbRow row;
    row.text = line;
    const std::size_t first_end = line.find(" | ", 2);
    const std::size_t second_end = line.find(" |", first_end + 3);
    REQUIRE(first_end != std::string::npos);
    REQUIRE(second_end != std::string::npos);
    const std::string first = line.substr(2, first_end - 2);
    row.status = line.substr(first_end + 3, second_end - first_end - 3);
    if (first.starts_with("(API)")) continue;
    for (auto it = std::sregex_iterator(first.begin(), first.end(), code); it != std::sregex_iterator(); ++it) {
      const std::string span = (*it)[1];
      if (span.starts_with("[") || span.starts_with("-")) continue;  // options: `[--force]`
      row.verbs.push_back(span.substr(0, span.find(' ')));
    }
    rows.push_back(row);
  }
  REQUIRE(rows.size() > 10);
  return rows;
}

/// The words of the bash script's `local verbs="..."`.
std::set<std::string> bash_completion_verbs() {
  const auto script = read_file(kSource + "/packaging/completions/pmx.bash");
  REQUIRE(script);
  const std::size_t at = script->find("local verbs=\"");
  REQUIRE(at != std::string::npos);
  const std::size_t begin = at + 13;
  std::istringstream words(script->substr(begin, script->find('"', begin) - begin));
  std::set<std::string> verbs;
  for (std::string w; words >> w;) verbs.insert(w);
  return verbs;
}

/// The names of the zsh script's `verbs=( 'name:help' ... )`.
std::set<std::string> zsh_completion_verbs() {
  const auto script = read_file(kSource + "/packaging/completions/_pmx");
  REQUIRE(script);
  const std::size_t at = script->find("  verbs=(");
  REQUIRE(at != std::string::npos);
  const std::string block = script->substr(at, script->find("\n  )", at) - at);
  std::set<std::string> verbs;
  const std::regex entry("['\"]([A-Za-z-]+):");
  for (auto it = std::sregex_iterator(block.begin(), block.end(), entry); it != std::sregex_iterator(); ++it) {
    verbs.insert((*it)[1]);
  }
  return verbs;
}

}  // namespace

TEST_CASE("docs/cli.md's compatibility table names pmx's verbs as pmx --help lists them", "[integration][cli][docs]") {
  const auto verbs = verbs_of_help();
  REQUIRE(verbs.count("start") == 1);
  std::set<std::string> documented;
  for (const auto& row : compatibility_rows()) {
    INFO(row.text);
    const bool has = row.status == "same" || row.status == "differs";
    CHECK((has || row.status == "not yet"));
    for (const auto& verb : row.verbs) {
      INFO(verb);
      if (verb == "help") continue;  // pmx help is pmx --help
      if (has) {
        CHECK(verbs.count(verb) == 1);
        documented.insert(verb);
      } else {
        CHECK(verbs.count(verb) == 0);  // the table says "not yet" of a verb pmx has
      }
    }
  }
  for (const auto& verb : verbs) {
    INFO("pmx " << verb << " is missing from docs/cli.md's compatibility table");
    CHECK(documented.count(verb) == 1);
  }
}

TEST_CASE("the completion scripts offer every verb and alias of pmx --help, and no other", "[integration][cli][docs]") {
  auto verbs = verbs_of_help();
  verbs.insert("help");  // pmx help, as pm2 help: pmx --help
  CHECK(bash_completion_verbs() == verbs);
  CHECK(zsh_completion_verbs() == verbs);
}

TEST_CASE("the completion scripts offer every flag of pmx start, and pmx completion prints them", "[integration][cli][docs]") {
  const auto bash = read_file(kSource + "/packaging/completions/pmx.bash");
  const auto zsh = read_file(kSource + "/packaging/completions/_pmx");
  REQUIRE(bash);
  REQUIRE(zsh);
  for (const auto& flag : long_flags_of("start")) {
    if (flag == "--help") continue;
    INFO(flag);
    CHECK((mentions(*bash, flag + " ") || mentions(*bash, flag + "\n") || mentions(*bash, flag + "\"")));
    CHECK(mentions(*zsh, flag));
  }
  const auto printed_bash = run_process({bin::kPmx, "completion"});
  CHECK(printed_bash.exit_code == 0);
  CHECK(printed_bash.out == *bash);
  const auto printed_zsh = run_process({bin::kPmx, "completion", "zsh"});
  CHECK(printed_zsh.exit_code == 0);
  CHECK(printed_zsh.out == *zsh);
  const auto fish = run_process({bin::kPmx, "completion", "fish"});
  CHECK(fish.exit_code == 2);
  CHECK(mentions(fish.err, "unknown shell 'fish'"));
}

TEST_CASE("pmx completion install puts the bash script where bash-completion loads a user's own", "[integration][cli]") {
  TempHome temp;  // a fresh folder, used as the user's HOME here
  const std::string home = temp.path();
  RunOptions opts;
  opts.env = {{"HOME", home}};
  opts.unset = {"XDG_DATA_HOME"};
  const auto installed = run_process({bin::kPmx, "completion", "install"}, opts);
  REQUIRE(installed.exit_code == 0);
  const std::string path = home + "/.local/share/bash-completion/completions/pmx";
  CHECK(mentions(installed.out, path));
  CHECK(read_file(path) == read_file(kSource + "/packaging/completions/pmx.bash"));
  // bash reads it: the function it defines is there and completes the verbs.
  const auto loaded = run_process({"/bin/bash", "-c", "source '" + path + "' 2>/dev/null; declare -F _pmx"}, opts);
  CHECK(loaded.out == "_pmx\n");
}
