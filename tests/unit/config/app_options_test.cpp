// Tests of config/app_options.hpp, the table of app options: docs/configuration.md's option
// table lists exactly its rows (names, aliases, CLI flags, kinds), its names are unique, and
// what is generated from it (reading, to_json, pm2_env's fields, describe's rows) follows it.
#include "config/app_options.hpp"

#include <catch2/catch.hpp>

#include <cctype>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/option_reader.hpp"

namespace pmx::config {
namespace {

using json = nlohmann::json;

std::string read_doc(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string trimmed(const std::string& s) {
  const auto begin = s.find_first_not_of(' ');
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(' ') - begin + 1);
}

// The cells of a Markdown table line ("| a | b \| c |"): '|' escaped by '\' stays in its cell.
std::vector<std::string> cells_of(const std::string& line) {
  std::vector<std::string> cells;
  std::string cur;
  for (std::size_t i = 1; i < line.size(); ++i) {
    if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == '|') {
      cur += '|';
      ++i;
    } else if (line[i] == '|') {
      cells.push_back(trimmed(cur));
      cur.clear();
    } else {
      cur += line[i];
    }
  }
  return cells;
}

// Splits on `sep` outside parentheses.
std::vector<std::string> split_outside_parens(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  for (char c : text) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == sep && depth == 0) {
      out.push_back(trimmed(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!trimmed(cur).empty()) out.push_back(trimmed(cur));
  return out;
}

/// One option as docs/configuration.md's table documents it.
struct DocOption {
  std::string name;
  std::vector<std::string> aliases;
  std::string type;
  std::string flags_cell;  ///< the CLI flag column, shared by the options of one line
};

// The options of the table under "## Options", in order ("uid (user), gid" is two options).
std::vector<DocOption> documented_options() {
  std::istringstream in(read_doc(PMX_SOURCE_DIR "/docs/configuration.md"));
  std::string line;
  bool in_section = false;
  bool in_table = false;
  std::vector<DocOption> out;
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) in_section = line == "## Options";
    if (!in_section) continue;
    if (line.rfind("| option", 0) == 0) {
      in_table = true;
      continue;
    }
    if (!in_table || line.rfind("|---", 0) == 0) continue;
    if (line.rfind("|", 0) != 0) break;
    const auto cells = cells_of(line);
    REQUIRE(cells.size() == 5);
    for (const std::string& entry : split_outside_parens(cells[0], ',')) {
      DocOption o;
      const auto open = entry.find('(');
      o.name = trimmed(entry.substr(0, open));
      if (open != std::string::npos) {
        const auto close = entry.find(')', open);
        REQUIRE(close != std::string::npos);
        o.aliases = split_outside_parens(entry.substr(open + 1, close - open - 1), ',');
      }
      o.type = cells[1];
      o.flags_cell = cells[4];
      out.push_back(o);
    }
  }
  REQUIRE_FALSE(out.empty());
  return out;
}

// The flags written in `backticks` in a cell, each "-n, --name" split into its flags.
std::set<std::string> backticked_flags(const std::string& cell) {
  std::set<std::string> flags;
  std::size_t at = 0;
  while ((at = cell.find('`', at)) != std::string::npos) {
    const auto end = cell.find('`', at + 1);
    if (end == std::string::npos) break;
    for (const auto& f : split_outside_parens(cell.substr(at + 1, end - at - 1), ',')) flags.insert(f);
    at = end + 1;
  }
  return flags;
}

std::set<std::string> table_flags(const AppOption& o) {
  std::set<std::string> flags;
  if (o.cli.flags == nullptr || o.cli.form == CliForm::Positional) return flags;
  for (const auto& f : split_outside_parens(o.cli.flags, ',')) flags.insert(f);
  return flags;
}

bool has_upper(const std::string& s) {
  for (char c : s) {
    if (std::isupper(static_cast<unsigned char>(c))) return true;
  }
  return false;
}

std::string camel_case(const std::string& snake) {
  std::string out;
  bool up = false;
  for (char c : snake) {
    if (c == '_') {
      up = true;
      continue;
    }
    out += up ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    up = false;
  }
  return out;
}

TEST_CASE("docs/configuration.md documents every option of the table, in its order, and no other", "[app_options]") {
  std::vector<std::string> documented;
  for (const auto& d : documented_options()) {
    if (d.name.find('<') == std::string::npos) documented.push_back(d.name);  // env_<name>: a family of keys
  }
  std::vector<std::string> table;
  for (const auto& o : app_options()) table.push_back(o.name);
  CHECK(documented == table);
}

TEST_CASE("docs/configuration.md gives each option its aliases and its CLI flags", "[app_options]") {
  const auto docs = documented_options();
  for (std::size_t i = 0; i < docs.size(); ++i) {
    const DocOption& d = docs[i];
    const AppOption* o = find_app_option(d.name);
    if (d.name.find('<') != std::string::npos) continue;
    INFO("option " << d.name);
    REQUIRE(o != nullptr);
    CHECK(std::string(o->name) == d.name);
    // The documented aliases are PM2's; the camelCase forms are implied.
    std::vector<std::string> snake;
    for (const char* alias : o->aliases) {
      if (!has_upper(alias)) snake.push_back(alias);
    }
    CHECK(snake == d.aliases);
    // The flag column of a line names the flags of every option on it ("uid (user), gid").
    std::set<std::string> expected = table_flags(*o);
    for (std::size_t j = 0; j < docs.size(); ++j) {
      if (j == i || docs[j].flags_cell != d.flags_cell || docs[j].type != d.type) continue;
      if (const AppOption* other = find_app_option(docs[j].name)) {
        for (const auto& f : table_flags(*other)) expected.insert(f);
      }
    }
    switch (o->cli.form) {
      case CliForm::Positional: CHECK(d.flags_cell == "positional"); break;
      case CliForm::AfterDashes: CHECK(d.flags_cell == "after `--`"); break;
      case CliForm::None: CHECK(backticked_flags(d.flags_cell).empty()); break;
      default: CHECK(backticked_flags(d.flags_cell) == expected); break;
    }
  }
}

TEST_CASE("docs/configuration.md's type of each duration, size and bool option says so", "[app_options]") {
  for (const auto& d : documented_options()) {
    const AppOption* o = find_app_option(d.name);
    if (o == nullptr) continue;
    INFO("option " << d.name << ": type " << d.type);
    if (o->kind == OptionKind::Duration) CHECK(d.type.find("duration") != std::string::npos);
    if (o->kind == OptionKind::Size) CHECK(d.type.find("size") != std::string::npos);
    if (o->kind == OptionKind::Bool) CHECK(d.type.find("bool") != std::string::npos);
  }
}

TEST_CASE("app_options: every name and alias names one row, every flag one option", "[app_options]") {
  std::set<std::string> names;
  std::set<std::string> flags;
  for (const auto& o : app_options()) {
    INFO("option " << o.name);
    CHECK(names.insert(o.name).second);
    CHECK(find_app_option(o.name) == &o);
    for (const char* alias : o.aliases) {
      INFO("alias " << alias);
      CHECK(names.insert(alias).second);
      CHECK(find_app_option(alias) == &o);
    }
    for (const auto& f : table_flags(o)) CHECK(flags.insert(f).second);
  }
  CHECK(find_app_option("no_such_option") == nullptr);
}

TEST_CASE("app_options: every camelCase alias is the camelCase of the name or a PM2 alias", "[app_options]") {
  for (const auto& o : app_options()) {
    std::set<std::string> camel{camel_case(o.name)};
    for (const char* alias : o.aliases) camel.insert(camel_case(alias));
    for (const char* alias : o.aliases) {
      INFO("option " << o.name << ", alias " << alias);
      if (has_upper(alias)) CHECK(camel.count(alias) == 1);
    }
  }
}

TEST_CASE("app_options: each row is read either by hand or into a field of its kind", "[app_options]") {
  for (const auto& o : app_options()) {
    INFO("option " << o.name);
    if (o.read != nullptr) continue;
    REQUIRE_FALSE(std::holds_alternative<std::monostate>(o.field));
    const bool fits = std::visit(
        [&](auto m) {
          using M = decltype(m);
          switch (o.kind) {
            case OptionKind::String:
            case OptionKind::Path:
            case OptionKind::Choice:
            case OptionKind::User: return std::is_same_v<M, std::string AppSpec::*>;
            case OptionKind::Bool:
              return std::is_same_v<M, bool AppSpec::*> || std::is_same_v<M, std::optional<bool> AppSpec::*>;
            case OptionKind::Int:
              return std::is_same_v<M, int AppSpec::*> || std::is_same_v<M, std::optional<int> AppSpec::*>;
            case OptionKind::Instances: return std::is_same_v<M, int AppSpec::*>;
            case OptionKind::Duration:
            case OptionKind::Size:
              return std::is_same_v<M, std::uint64_t AppSpec::*> ||
                     std::is_same_v<M, std::optional<std::uint64_t> AppSpec::*>;
            case OptionKind::Words: return std::is_same_v<M, std::vector<std::string> AppSpec::*>;
            case OptionKind::Env: return std::is_same_v<M, Env AppSpec::*>;
            case OptionKind::ExitCodes: return std::is_same_v<M, std::vector<int> AppSpec::*>;
            case OptionKind::BoolOrWords:
            case OptionKind::HealthCheck:
            case OptionKind::Percent:
            case OptionKind::Cron: return false;  // read by hand
          }
          return false;
        },
        o.field);
    CHECK(fits);
    if (o.kind == OptionKind::Choice) CHECK_FALSE(o.choices.empty());
  }
}

TEST_CASE("to_json writes every option of the table, by its PM2 name", "[app_options]") {
  AppSpec s;
  s.port = 80;
  s.listen = {"3000"};
  s.reuse_port = true;
  s.log_max_size = 1;
  s.log_retain = 2;
  s.log_compress = true;
  s.log_rotate_interval = "@daily";
  s.health_check.kind = HealthCheck::Kind::Tcp;
  s.health_check.target = "127.0.0.1:3000";
  s.cpu_quota = 50;
  s.memory_max = 1 << 20;
  s.tasks_max = 8;
  const json j = to_json(s);
  for (const auto& o : app_options()) CHECK(j.contains(o.name));
  CHECK(j.size() == app_options().size());
}

TEST_CASE("every option is read by its name and by each alias", "[app_options]") {
  // A value each kind accepts, and what the option then holds as to_json writes it.
  for (const auto& o : app_options()) {
    std::vector<std::string> keys{o.name};
    keys.insert(keys.end(), o.aliases.begin(), o.aliases.end());
    for (const std::string& key : keys) {
      INFO("option " << o.name << " as " << key);
      json value;
      switch (o.kind) {
        case OptionKind::String: case OptionKind::Path: case OptionKind::User: value = "x1"; break;
        case OptionKind::Bool: {
          const json unset = option_value(o, AppSpec{});
          value = unset.is_boolean() ? !unset.get<bool>() : true;
          break;
        }
        case OptionKind::Int: value = 7; break;
        case OptionKind::Duration: value = "2s"; break;
        case OptionKind::Size: value = "1K"; break;
        case OptionKind::Words: value = json::array({"3001"}); break;
        case OptionKind::BoolOrWords: value = json::array({"a"}); break;
        case OptionKind::Env: value = json{{"A", "1"}}; break;
        case OptionKind::ExitCodes: value = json::array({3}); break;
        case OptionKind::Choice: value = o.choices.empty() ? "cluster" : o.choices.front(); break;
        case OptionKind::Instances: value = 3; break;
        case OptionKind::Cron: value = "@hourly"; break;
        case OptionKind::HealthCheck: value = json{{"tcp", "127.0.0.1:3000"}}; break;
        case OptionKind::Percent: value = "50%"; break;
      }
      const json app{{key, value}};
      OptionReader r(app);
      AppSpec s;
      read_option(o, r, s);
      CHECK(r.error().empty());
      CHECK(option_value(o, s) != option_value(o, AppSpec{}));
    }
  }
}

TEST_CASE("write_jlist_options: pm2_env gets each option under its jlist keys", "[app_options]") {
  AppSpec s;
  s.interpreter_args = {"--inspect"};
  json pm2_env = json::object();
  write_jlist_options(s, pm2_env);
  for (const auto& o : app_options()) {
    INFO("option " << o.name);
    for (const char* key : o.jlist_keys) {
      CHECK(pm2_env.contains(key) == (o.jlist != JlistForm::FromInstance && o.jlist != JlistForm::None));
    }
    if (o.jlist != JlistForm::None) CHECK_FALSE(o.jlist_keys.empty());
    // describe shows a row by its first jlist key.
    if (o.describe.label != nullptr) CHECK(o.jlist != JlistForm::None);
  }
  // PM2's names and forms.
  CHECK(pm2_env["pm_exec_path"] == "");
  CHECK(pm2_env["exec_interpreter"] == "none");
  CHECK(pm2_env["node_args"] == json::array({"--inspect"}));
  CHECK(pm2_env["interpreter_args"] == json::array({"--inspect"}));
  CHECK(pm2_env["exec_mode"] == "fork_mode");
  CHECK(pm2_env["cron_restart"].is_null());
  CHECK(pm2_env["watch"] == false);
  CHECK(pm2_env["min_uptime"] == 1000);
  CHECK_FALSE(pm2_env.contains("port"));
}

}  // namespace
}  // namespace pmx::config
