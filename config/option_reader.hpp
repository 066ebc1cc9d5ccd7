// OptionReader: reads one app option at a time out of a JSON object, by its PM2 name or an
// alias, into AppSpec's types; the first error is kept with its option's name.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/app_spec.hpp"

namespace pmx::config {

/// Typed reads of the options of one app object. A read of an absent (or null) option leaves
/// its output as it is; a value of the wrong type records "option 'x': expected ..." once.
class OptionReader {
 public:
  explicit OptionReader(const nlohmann::json& j) : j_(j) {}

  /// The value of the option `canonical` under its name or an alias (in the table's order);
  /// nullptr when absent or null.
  const nlohmann::json* find(const char* canonical) const;

  /// Records "option 'key': expected <expected>" unless an error is already recorded.
  void fail(const char* key, const std::string& expected);
  /// Records "option 'key': <message>" unless an error is already recorded.
  void fail_msg(const char* key, const std::string& message);
  const std::string& error() const { return error_; }
  const std::string& option() const { return option_; }

  void string(const char* key, std::string& out);
  /// true/false, or the strings "true"/"false".
  void boolean(const char* key, bool& out);
  /// An integer (or its text) in min..INT_MAX.
  void integer(const char* key, int& out, int min);
  /// Numbers are milliseconds; strings take 500ms, 5s, 2m, 1h; at most kMaxDurationMs.
  void duration(const char* key, std::uint64_t& out);
  /// Numbers are bytes; strings take 200K, 150M, 1G; at most kMaxSizeBytes.
  void size(const char* key, std::uint64_t& out);
  /// A list of strings, or one string split on whitespace with shell quoting.
  void words(const char* key, std::vector<std::string>& out);
  void env(const char* key, Env& out);
  /// An exit code or a list of them, 0..255.
  void int_list(const char* key, std::vector<int>& out);
  /// true/false, or words (filter_env: true, or prefixes).
  void bool_or_words(const char* key, bool& flag, std::vector<std::string>& out);
  /// instances: a count, "max", 0 or -N (CPUs, CPUs - N).
  void instances(const char* key, int& out);
  /// One of a fixed set of strings.
  void choice(const char* key, std::string& out, const std::vector<const char*>& allowed);
  /// A user or group: a name or a numeric id.
  void id_or_name(const char* key, std::string& out);

  /// The same readers into an option left unset when it is absent.
  template <typename T, typename Read>
  void optional(const char* key, std::optional<T>& out, Read read) {
    if (!find(key)) return;
    T value{};
    read(value);
    if (error_.empty()) out = std::move(value);
  }

 private:
  const nlohmann::json& j_;
  std::string error_;
  std::string option_;
};

}  // namespace pmx::config
