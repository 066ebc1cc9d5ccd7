// Ecosystem loading: one tree of nlohmann json with the position of every key, whatever the
// format, then each app through spec_from_json with its errors placed at their key.
#include "config/ecosystem.hpp"
#include "config/suggest.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "config/dependency_graph.hpp"
#include "config/interpreter.hpp"
#include "config/listen_address.hpp"
#include "config/json_depth.hpp"
#include "config/paths.hpp"

namespace pmx::config {
namespace {

using json = nlohmann::json;

struct Pos {
  int line = 0;  ///< 1-based; 0 when unknown
  int col = 0;
};

/// The document as json, and where each key was: "apps/0/instances" -> its mark.
struct Tree {
  json value;
  std::map<std::string, Pos> keys;
  std::string too_deep;  ///< "line:col: what" of the first node past a limit, if any
  std::size_t nodes = 0;
};

/// Values read from one YAML document at most, aliases counted each time they are used.
constexpr std::size_t kMaxYamlNodes = 100000;

std::string at(const std::string& file, Pos p) {
  if (p.line <= 0) return file + ": ";
  return file + ":" + std::to_string(p.line) + ":" + std::to_string(p.col) + ": ";
}

// [-+]?[0-9]+
bool is_integer(const std::string& s) {
  std::size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  return i < s.size() && std::all_of(s.begin() + static_cast<long>(i), s.end(),
                                     [](unsigned char c) { return std::isdigit(c); });
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool is_float(const std::string& s) {
  std::size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  std::size_t int_digits = 0, frac_digits = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++int_digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++frac_digits;
  }
  if (int_digits == 0 && frac_digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    std::size_t exp_digits = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == s.size();
}

// A plain YAML scalar as the YAML 1.2 core schema (and js-yaml, which PM2 uses) types it.
json typed_scalar(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (is_integer(s)) {
    try {
      return s[0] == '-' ? json(std::stoll(s)) : json(std::stoull(s[0] == '+' ? s.substr(1) : s));
    } catch (const std::exception&) {
      return s;  // out of range: keep the text, the option's reader will say what it expected
    }
  }
  if (is_float(s)) {
    try {
      return std::stod(s);
    } catch (const std::exception&) {
      return s;
    }
  }
  return s;
}

void from_yaml(const YAML::Node& node, const std::string& path, Tree& tree, json& out, std::size_t depth = 0) {
  // Not descended into: the walks of the tree that follow recurse too, and aliases of aliases
  // would expand exponentially ("billion laughs").
  const bool too_deep = depth >= kMaxJsonDepth && (node.IsMap() || node.IsSequence());
  if (too_deep || ++tree.nodes > kMaxYamlNodes) {
    if (tree.too_deep.empty()) {
      tree.too_deep = std::to_string(node.Mark().line + 1) + ":" + std::to_string(node.Mark().column + 1) + ": " +
                      (too_deep ? "nested deeper than " + std::to_string(kMaxJsonDepth) + " levels of maps and lists"
                                : "more than " + std::to_string(kMaxYamlNodes) + " values (aliases included)");
    }
    out = nullptr;
    return;
  }
  switch (node.Type()) {
    case YAML::NodeType::Map:
      out = json::object();
      for (const auto& kv : node) {
        std::string key = kv.first.Scalar();
        const auto& mark = kv.first.Mark();
        tree.keys[path + "/" + key] = Pos{mark.line + 1, mark.column + 1};
        from_yaml(kv.second, path + "/" + key, tree, out[key], depth + 1);
      }
      break;
    case YAML::NodeType::Sequence: {
      out = json::array();
      std::size_t i = 0;
      for (const auto& item : node) {
        const auto& mark = item.Mark();
        tree.keys[path + "/" + std::to_string(i)] = Pos{mark.line + 1, mark.column + 1};
        json v;
        from_yaml(item, path + "/" + std::to_string(i), tree, v, depth + 1);
        out.push_back(std::move(v));
        ++i;
      }
      break;
    }
    case YAML::NodeType::Scalar:
      // Quoted scalars carry the tag "!": they are strings whatever they look like.
      out = node.Tag() == "!" ? json(node.Scalar()) : typed_scalar(node.Scalar());
      break;
    default:
      out = nullptr;
  }
}

// The line and column of a byte offset.
Pos position_of(std::string_view text, std::size_t offset) {
  Pos p{1, 1};
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++p.line;
      p.col = 1;
    } else {
      ++p.col;
    }
  }
  return p;
}

// JSON with its // and /* */ comments blanked out (PM2 reads such files): spaces in their place,
// newlines kept, so byte offsets, lines and columns stay those of the file.
std::string without_comments(std::string_view text) {
  std::string out(text);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const char c = out[i];
    if (c == '"') {
      i = json_string_end(out, i) - 1;
    } else if (c == '/' && i + 1 < out.size() && out[i + 1] == '/') {
      for (; i < out.size() && out[i] != '\n'; ++i) out[i] = ' ';
    } else if (c == '/' && i + 1 < out.size() && out[i + 1] == '*') {
      const std::size_t end = out.find("*/", i + 2);
      const std::size_t stop = end == std::string::npos ? out.size() : end + 2;
      for (; i < stop; ++i) {
        if (out[i] != '\n') out[i] = ' ';
      }
      --i;
    }
  }
  return out;
}

Result<Tree> parse_tree(std::string_view raw, Format format, const std::string& file) {
  Tree tree;
  const std::string uncommented = format == Format::Json ? without_comments(raw) : std::string();
  const std::string_view text = format == Format::Json ? std::string_view(uncommented) : raw;
  if (format != Format::Yaml) {
    if (auto depth = check_json_depth(text); !depth) return Error{at(file, Pos{}) + depth.error()};
    // JSON: nlohmann says precisely what is wrong and where.
    try {
      tree.value = json::parse(text.begin(), text.end());
    } catch (const json::parse_error& e) {
      std::string what = e.what();
      if (auto p = what.find("syntax error"); p != std::string::npos) what = what.substr(p);
      const Pos p = format == Format::JavaScript ? Pos{} : position_of(text, e.byte == 0 ? 0 : e.byte - 1);
      return Error{at(file, p) + what};
    } catch (const json::exception& e) {
      // Not a syntax error: a number too large for any type, and the like.
      std::string what = e.what();
      if (auto p = what.find("] "); p != std::string::npos) what = what.substr(p + 2);
      return Error{at(file, Pos{}) + what};
    }
    if (format == Format::JavaScript) return tree;  // positions in generated JSON mean nothing
  }
  // YAML (a superset of JSON): positions for every key. Tabs are only whitespace in JSON.
  std::string doc(text);
  if (format == Format::Json) std::replace(doc.begin(), doc.end(), '\t', ' ');
  try {
    YAML::Node root = YAML::Load(doc);
    json value;
    from_yaml(root, "", tree, value);
    if (!tree.too_deep.empty()) {
      return Error{file + ":" + tree.too_deep};
    }
    if (format == Format::Yaml) tree.value = std::move(value);
  } catch (const YAML::Exception& e) {
    if (format == Format::Json) return tree;  // valid JSON yaml-cpp cannot read: no positions
    return Error{at(file, Pos{e.mark.line + 1, e.mark.column + 1}) + e.msg};
  }
  return tree;
}

/// Where an option of app i was written: the key as found (any alias), else the app itself.
Pos option_pos(const Tree& tree, const json& app, std::size_t i, const std::string& apps_path,
               const std::string& option) {
  const std::string base = apps_path + "/" + std::to_string(i);
  for (const auto& [key, value] : app.items()) {
    if (!option.empty() && canonical_option(key) == option) {
      if (auto it = tree.keys.find(base + "/" + key); it != tree.keys.end()) return it->second;
    }
  }
  auto it = tree.keys.find(base);
  return it == tree.keys.end() ? Pos{} : it->second;
}

}  // namespace

std::optional<Format> format_of(const std::string& path) {
  auto ends = [&](const char* suffix) { return path.ends_with(suffix); };
  if (ends(".yaml") || ends(".yml")) return Format::Yaml;
  if (ends(".json")) return Format::Json;
  // As PM2: a .js file is an ecosystem file only when named *.config.js; any other
  // `pmx start app.js` starts app.js as a script and never runs its code in the CLI.
  if (ends(".config.js") || ends(".config.cjs") || ends(".config.mjs")) return Format::JavaScript;
  return std::nullopt;
}

std::string suggest_option(const std::string& key) {
  const auto near = closest(key, option_names());
  return near.empty() ? "" : near.front();
}

Result<Ecosystem> parse_ecosystem(std::string_view text, Format format, const std::string& file,
                                  const std::string& base_dir, const LoadOptions& options) {
  auto parsed = parse_tree(text, format, file);
  if (!parsed) return Error{parsed.error()};
  Tree& tree = *parsed;
  const bool positions = format != Format::JavaScript;
  auto pos = [&](const std::string& path) {
    auto it = tree.keys.find(path);
    return positions && it != tree.keys.end() ? it->second : Pos{};
  };

  json apps;
  std::string apps_path;
  Ecosystem eco;
  if (tree.value.is_array()) {
    apps = tree.value;
  } else if (tree.value.is_object() && tree.value.contains("apps")) {
    apps = tree.value["apps"];
    apps_path = "/apps";
    if (apps.is_object()) apps = json::array({apps});
    for (const auto& [key, v] : tree.value.items()) {
      if (key != "apps" && key != "deploy") {
        eco.warnings.push_back(at(file, pos("/" + key)) + "unknown top-level key '" + key + "', ignoring");
      }
    }
  } else if (tree.value.is_object()) {
    // A bare app, as PM2 takes it: {script: ..., name: ...}. Its keys' positions move under
    // /apps/0, where the rest of the loader looks for them.
    apps = json::array({tree.value});
    apps_path = "/apps";
    std::map<std::string, Pos> keys{{"/apps/0", Pos{1, 1}}};
    for (auto& [path, p] : tree.keys) keys["/apps/0" + path] = p;
    tree.keys = std::move(keys);
  } else {
    return Error{at(file, Pos{positions ? 1 : 0, 1}) + "expected {apps: [...]}, a list of apps or one app"};
  }
  if (!apps.is_array()) return Error{at(file, pos("/apps")) + "'apps' must be a list of apps"};
  if (apps.empty()) return Error{at(file, pos(apps_path)) + "no app in the file"};

  std::vector<std::string> errors;
  std::map<std::string, std::size_t> names;
  for (std::size_t i = 0; i < apps.size(); ++i) {
    json app = apps[i];
    const std::string app_path = apps_path + "/" + std::to_string(i);
    const Pos app_pos = positions ? option_pos(tree, app, i, apps_path, "") : Pos{};
    if (!app.is_object()) {
      errors.push_back(at(file, app_pos) + "app " + std::to_string(i) + ": expected an object of options");
      continue;
    }
    // No name, or "": PM2 names the app after its script.
    if (app.contains("name") && app["name"] == "") app.erase("name");
    const std::string label = app.contains("name") && app["name"].is_string()
                                  ? "app '" + app["name"].get<std::string>() + "'"
                                  : "app " + std::to_string(i);
    // Unknown keys warn, in the order of the file; env_<name> is merged for --env.
    std::vector<std::pair<Pos, std::string>> unknown;
    for (const auto& [key, value] : app.items()) {
      if (!canonical_option(key).empty()) continue;
      std::string hint = suggest_option(key);
      Pos p = pos(app_path + "/" + key);
      unknown.emplace_back(p, at(file, p) + label + ": unknown option '" + key + "', ignoring" +
                                  (hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
    }
    std::sort(unknown.begin(), unknown.end(), [](const auto& a, const auto& b) {
      return std::tie(a.first.line, a.first.col) < std::tie(b.first.line, b.first.col);
    });
    for (auto& [p, message] : unknown) eco.warnings.push_back(std::move(message));
    // The default name (the script's) is needed before validation.
    const bool named = app.contains("name");
    if (!named) {
      for (const char* key : {"script", "exec", "cmd", "command"}) {
        if (app.contains(key) && app[key].is_string()) {
          app["name"] = default_name(app[key].get<std::string>());
          break;
        }
      }
    }
    if (!options.env_name.empty()) {
      auto extra = app.find("env_" + options.env_name);
      if (extra != app.end()) {
        if (!extra->is_object()) {
          errors.push_back(at(file, pos(app_path + "/env_" + options.env_name)) + label + ": option 'env_" +
                           options.env_name + "': expected an object of NAME: value");
          continue;
        }
        json env = app.value("env", json::object());
        if (!env.is_object()) env = json::object();
        env.update(*extra);
        app["env"] = env;
      }
    }
    SpecError err;
    auto spec = spec_from_json(app, err);
    if (!spec) {
      Pos p = positions ? option_pos(tree, app, i, apps_path, err.option) : Pos{};
      errors.push_back(at(file, p) + label + ": " + err.message);
      continue;
    }
    AppSpec s = std::move(*spec);
    // Paths: cwd against the file's folder (and it is the default cwd), the rest against cwd.
    s.cwd = s.cwd.empty() ? base_dir : absolute_path(s.cwd, base_dir);
    std::string script = absolute_path(s.script, s.cwd);
    if (s.script == "serve" && !options.serve_program.empty()) {
      script = options.serve_program.front() == '/' ? options.serve_program : find_in_path(options.serve_program);
      if (script.empty()) {
        Pos p = positions ? option_pos(tree, app, i, apps_path, "script") : Pos{};
        errors.push_back(at(file, p) + label + ": option 'script': 'serve' (the static file server) needs " +
                         options.serve_program + ", which is not installed next to pmx nor in PATH");
        continue;
      }
    } else if (!is_regular_file(script)) {
      script = find_in_path(s.script);
    }
    if (script.empty() && looks_like_command(s.script)) {
      // `script: "npm run start"`, `script: "node server.js"`: a command line, run as the CLI
      // runs one (config::command_string), its words before the app's args.
      auto command = command_string(s.script);
      const std::string program = command ? absolute_path(command->argv[0], s.cwd) : "";
      script = !command ? "" : is_regular_file(program) ? program : find_in_path(command->argv[0]);
      if (!script.empty()) {
        s.args.insert(s.args.begin(), command->argv.begin() + 1, command->argv.end());
        if (!named) s.name = command_name(s.script);
      }
    }
    if (script.empty()) {
      Pos p = positions ? option_pos(tree, app, i, apps_path, "script") : Pos{};
      errors.push_back(at(file, p) + label + ": option 'script': no such file" +
                       (looks_like_command(s.script) ? " or program: " + s.script : ": " + absolute_path(s.script, s.cwd)));
      continue;
    }
    s.script = script;
    if (!app.contains("interpreter") && !app.contains("exec_interpreter") && !app.contains("execInterpreter")) {
      s.interpreter = choose_interpreter(s.script);
      if (s.interpreter == "none") s.interpreter.clear();
      const auto given = [&](const char* option) {
        for (const auto& [key, value] : app.items()) {
          if (canonical_option(key) == option && !value.is_null()) return true;
        }
        return false;
      };
      if (!given("exec_mode") && given("instances")) apply_cluster_rule(s);
    }
    if (s.append_env_to_name && !options.env_name.empty()) s.name += "-" + options.env_name;
    for (std::string* path : {&s.out_file, &s.error_file, &s.pid_file}) *path = absolute_path(*path, s.cwd);
    if (s.log_file != "true") s.log_file = absolute_path(s.log_file, s.cwd);
    if (auto [it, fresh] = names.emplace(s.name, i); !fresh) {
      Pos p = positions ? option_pos(tree, app, i, apps_path, "name") : Pos{};
      errors.push_back(at(file, p) + label + ": duplicate app name '" + s.name + "' (also app " +
                       std::to_string(it->second) + ")");
      continue;
    }
    if (!s.depends_on.empty()) {
      eco.depends_on_at[s.name] = at(file, positions ? option_pos(tree, app, i, apps_path, "depends_on") : Pos{});
    }
    eco.apps.push_back(std::move(s));
  }
  if (!errors.empty()) {
    std::string all;
    for (const auto& e : errors) all += (all.empty() ? "" : "\n") + e;
    return Error{all};
  }
  // Start order: a cycle among the file's apps is an error naming it (names that are no app
  // of the file may be pmxd's: the CLI checks those against pmxd's list).
  DependencyGraph graph;
  for (const auto& s : eco.apps) graph.push_back({s.name, s.depends_on});
  if (auto cycle = find_cycle(graph)) {
    return Error{eco.depends_on_at[cycle->front()] + "app '" + cycle->front() + "': option 'depends_on' makes a cycle: " +
                 cycle_text(*cycle)};
  }
  if (!options.only.empty()) {
    for (const auto& wanted : options.only) {
      if (!names.count(wanted)) return Error{file + ": --only names '" + wanted + "', which is not an app of the file"};
    }
    const std::vector<std::string> kept =
        options.only_with_dependencies ? with_dependencies(graph, options.only) : options.only;
    std::erase_if(eco.apps, [&](const AppSpec& s) { return std::find(kept.begin(), kept.end(), s.name) == kept.end(); });
  }
  return eco;
}

Result<json> parse_ecosystem_document(std::string_view text, Format format, const std::string& display_name) {
  auto tree = parse_tree(text, format, display_name);
  if (!tree) return Error{tree.error()};
  return std::move(tree->value);
}

Result<Ecosystem> load_ecosystem(const std::string& path, const LoadOptions& options) {
  auto format = format_of(path);
  if (!format || *format == Format::JavaScript) return Error{path + ": not a YAML or JSON file"};
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{path + ": cannot read the file"};
  std::stringstream text;
  text << in.rdbuf();
  std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
  if (dir.empty()) dir = "/";
  return parse_ecosystem(text.str(), *format, path, dir, options);
}

std::string example_ecosystem_yaml() {
  return R"(# pmx ecosystem file: `pmx start ecosystem.yaml` starts every app below.
# Options have PM2's names (camelCase aliases work too); docs/configuration.md lists them all.
apps:
  - name: api
    script: ./server.js          # relative paths resolve against this file's folder
    args: --port 3000            # a string split like a shell would, or a list
    instances: 2                 # a number, "max" (one per CPU), 0 or -1 (CPUs minus one)
    max_memory_restart: 300M     # restart above this RSS of the whole process tree
    kill_timeout: 5s             # SIGINT, then SIGKILL after this long
    env:
      NODE_ENV: development
    env_production:              # merged over env by `pmx start ecosystem.yaml --env production`
      NODE_ENV: production

  - name: worker
    script: ./worker.py          # python3, chosen by the extension
    restart_delay: 2s
    max_restarts: 10
    stop_exit_codes: [0]         # a clean exit is final
)";
}

}  // namespace pmx::config
