// pmx.yaml through yaml-cpp: two sections of the same four keys, each error at its key's mark.
#include "config/daemon_settings.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config/cron.hpp"
#include "config/suggest.hpp"
#include "config/units.hpp"

namespace pmx::config {
namespace {

const std::vector<std::string> kSections = {"logs", "daemon_log", "metrics"};
const std::vector<std::string> kKeys = {"max_size", "retain", "compress", "rotate_interval"};

/// Reads one file, collecting every error with its place.
class SettingsReader {
 public:
  explicit SettingsReader(const std::string& file) : file_(file) {}

  void fail(const YAML::Mark& mark, const std::string& message) {
    std::string at = file_;
    if (mark.line >= 0) at += ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
    errors_ += (errors_.empty() ? "" : "\n") + at + ": " + message;
  }

  const std::string& errors() const { return errors_; }

  void document(const YAML::Node& root, DaemonSettings& out) {
    if (root.IsNull()) return;  // an empty file: the defaults
    if (!root.IsMap()) return fail(root.Mark(), "expected a map of sections (logs, daemon_log, metrics)");
    for (const auto& kv : root) {
      const std::string name = kv.first.Scalar();
      if (name == "logs") section(name, kv.second, out.app_logs);
      else if (name == "daemon_log") section(name, kv.second, out.daemon_log);
      else if (name == "metrics") metrics(kv.second, out);
      else fail(kv.first.Mark(), "unknown section '" + name + "'" + hint(name, kSections) + " (known: logs, daemon_log, metrics)");
    }
  }

 private:
  static std::string hint(const std::string& word, const std::vector<std::string>& candidates) {
    // "log_retain" is the app option's name; the file's key drops the prefix.
    if (word.starts_with("log_")) {
      for (const auto& c : candidates) {
        if (word.substr(4) == c) return " (did you mean '" + c + "'?)";
      }
    }
    const auto near = closest(word, candidates);
    return near.empty() ? "" : " (did you mean '" + near.front() + "'?)";
  }

  void section(const std::string& name, const YAML::Node& node, LogRotation& out) {
    if (node.IsNull()) return;
    if (!node.IsMap()) return fail(node.Mark(), name + ": expected a map of max_size, retain, compress, rotate_interval");
    for (const auto& kv : node) {
      const std::string key = kv.first.Scalar();
      const std::string where = name + "." + key;
      const YAML::Mark mark = kv.first.Mark();
      const YAML::Node& value = kv.second;
      if (key == "max_size") max_size(where, mark, value, out.max_size);
      else if (key == "retain") retain(where, mark, value, out.retain);
      else if (key == "compress") compress(where, mark, value, out.compress);
      else if (key == "rotate_interval") interval(where, mark, value, out.interval);
      else fail(mark, name + ": unknown key '" + key + "'" + hint(key, kKeys));
    }
  }

  /// metrics: {listen: "host:port" | "unix:/path" | ""}.
  void metrics(const YAML::Node& node, DaemonSettings& out) {
    if (node.IsNull()) return;
    if (!node.IsMap()) return fail(node.Mark(), "metrics: expected a map with listen");
    for (const auto& kv : node) {
      const std::string key = kv.first.Scalar();
      const YAML::Mark mark = kv.first.Mark();
      if (key != "listen") {
        fail(mark, "metrics: unknown key '" + key + "'" + hint(key, {"listen"}));
        continue;
      }
      std::string text;
      if (!scalar("metrics.listen", mark, kv.second, "an address (\"127.0.0.1:9615\", \"unix:/run/pmx-metrics.sock\"; \"\": off)", text)) continue;
      if (text.empty()) {
        out.metrics_listen.reset();
        continue;
      }
      auto address = parse_listen_address(text);
      if (!address) {
        fail(mark, "metrics.listen: " + address.error());
        continue;
      }
      out.metrics_listen = *address;
    }
  }

  // The text of a scalar value, or an error naming what was expected.
  bool scalar(const std::string& where, const YAML::Mark& mark, const YAML::Node& value, const std::string& expected,
              std::string& text) {
    if (!value.IsScalar()) {
      fail(mark, where + ": expected " + expected);
      return false;
    }
    text = value.Scalar();
    return true;
  }

  void max_size(const std::string& where, const YAML::Mark& mark, const YAML::Node& value, std::uint64_t& out) {
    const std::string expected = "a size (bytes, or 200K, 10M, 1G; 0: no size rotation)";
    std::string text;
    if (!scalar(where, mark, value, expected, text)) return;
    auto size = parse_size(text);
    if (!size) return fail(mark, where + ": " + size.error());
    out = *size;
  }

  void retain(const std::string& where, const YAML::Mark& mark, const YAML::Node& value, int& out) {
    const std::string expected = "a whole number >= 0 (0: keep all)";
    std::string text;
    if (!scalar(where, mark, value, expected, text)) return;
    const bool digits = !text.empty() && text.size() <= 10 && text.find_first_not_of("0123456789") == std::string::npos;
    const long long n = digits ? std::stoll(text) : -1;
    if (n < 0 || n > std::numeric_limits<int>::max()) {
      return fail(mark, where + ": expected " + expected + " up to " + std::to_string(std::numeric_limits<int>::max()) +
                            " (got '" + text + "')");
    }
    out = static_cast<int>(n);
  }

  void compress(const std::string& where, const YAML::Mark& mark, const YAML::Node& value, bool& out) {
    std::string text;
    if (!scalar(where, mark, value, "true or false", text)) return;
    if (text == "true" || text == "True" || text == "TRUE") out = true;
    else if (text == "false" || text == "False" || text == "FALSE") out = false;
    else fail(mark, where + ": expected true or false (got '" + text + "')");
  }

  void interval(const std::string& where, const YAML::Mark& mark, const YAML::Node& value, std::string& out) {
    std::string text;
    if (!scalar(where, mark, value, "a cron expression (\"0 0 * * *\", @daily)", text)) return;
    if (text.empty() || text == "0") {
      out.clear();  // as cron_restart: "" or 0 is none
      return;
    }
    auto cron = CronSchedule::parse(text);
    if (!cron) return fail(mark, where + ": " + cron.error());
    out = text;
  }

  std::string file_;
  std::string errors_;
};

}  // namespace

Result<DaemonSettings> load_daemon_settings(const std::string& path) {
  DaemonSettings settings;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return settings;
    return Error{path + ": cannot read the file: " + std::strerror(errno)};
  }
  if (!S_ISREG(st.st_mode)) return Error{path + ": not a regular file"};
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{path + ": cannot read the file: " + std::strerror(errno)};
  std::stringstream text;
  text << in.rdbuf();
  return parse_daemon_settings(text.str(), path);
}

Result<DaemonSettings> parse_daemon_settings(std::string_view text, const std::string& file) {
  DaemonSettings settings;
  SettingsReader reader(file);
  try {
    reader.document(YAML::Load(std::string(text)), settings);
  } catch (const YAML::Exception& e) {
    reader.fail(e.mark, e.msg);
  }
  if (!reader.errors().empty()) return Error{reader.errors()};
  return settings;
}

LogRotation rotation_for(const AppSpec& spec, const LogRotation& defaults) {
  LogRotation r = defaults;
  if (spec.log_max_size) r.max_size = *spec.log_max_size;
  if (spec.log_retain) r.retain = *spec.log_retain;
  if (spec.log_compress) r.compress = *spec.log_compress;
  if (spec.log_rotate_interval) r.interval = *spec.log_rotate_interval;
  return r;
}

}  // namespace pmx::config
