// OptionReader: typed reads of one app option by its name or an alias.
#include "config/option_reader.hpp"

#include <limits>
#include <stdexcept>
#include <thread>

#include "config/app_options.hpp"
#include "config/units.hpp"

namespace pmx::config {
namespace {
using json = nlohmann::json;
}  // namespace

const json* OptionReader::find(const char* canonical) const {
  const AppOption* option = find_app_option(canonical);
  if (option == nullptr || !j_.is_object()) return nullptr;
  auto at = [&](const char* key) -> const json* {
    auto it = j_.find(key);
    return it != j_.end() && !it->is_null() ? &*it : nullptr;
  };
  if (const json* v = at(option->name)) return v;
  for (const char* alias : option->aliases) {
    if (const json* v = at(alias)) return v;
  }
  return nullptr;
}

void OptionReader::fail(const char* key, const std::string& expected) {
  fail_msg(key, "expected " + expected);
}
void OptionReader::fail_msg(const char* key, const std::string& message) {
  if (!error_.empty()) return;
  option_ = key;
  error_ = "option '" + std::string(key) + "': " + message;
}

void OptionReader::string(const char* key, std::string& out) {
  if (const json* v = find(key)) {
    if (v->is_string()) out = v->get<std::string>();
    else fail(key, "a string");
  }
}

void OptionReader::boolean(const char* key, bool& out) {
  if (const json* v = find(key)) {
    if (v->is_boolean()) out = v->get<bool>();
    else if (v->is_string() && (*v == "true" || *v == "false")) out = (*v == "true");
    else fail(key, "true or false");
  }
}

void OptionReader::integer(const char* key, int& out, int min) {
  if (const json* v = find(key)) {
    long long n = 0;
    if (v->is_number_integer()) n = v->get<long long>();
    else if (v->is_string()) {
      try {
        std::size_t used = 0;
        n = std::stoll(v->get<std::string>(), &used);
        if (used != v->get_ref<const std::string&>().size()) throw std::invalid_argument("");
      } catch (const std::exception&) {
        return fail(key, "an integer");
      }
    } else {
      return fail(key, "an integer");
    }
    if (n < min || n > std::numeric_limits<int>::max()) {
      return fail(key, "an integer >= " + std::to_string(min));
    }
    out = static_cast<int>(n);
  }
}

// Numbers are milliseconds; anything above kMaxDurationMs is refused before it is converted.
void OptionReader::duration(const char* key, std::uint64_t& out) {
  const json* v = find(key);
  if (!v) return;
  const std::string expected = "a duration >= 0 (ms, or 5s, 2m, 1h)";
  const std::string too_large = std::string("a duration of at most ") + kMaxDurationText;
  if (v->is_number_unsigned()) {
    if (v->get<std::uint64_t>() > kMaxDurationMs) return fail(key, too_large);
    out = v->get<std::uint64_t>();
  } else if (v->is_number_integer()) {
    const long long n = v->get<long long>();
    if (n < 0) return fail(key, expected);
    if (static_cast<std::uint64_t>(n) > kMaxDurationMs) return fail(key, too_large);
    out = static_cast<std::uint64_t>(n);
  } else if (v->is_number_float()) {
    const double d = v->get<double>();
    if (!(d >= 0)) return fail(key, expected);
    if (!(d <= static_cast<double>(kMaxDurationMs))) return fail(key, too_large);
    out = static_cast<std::uint64_t>(d);
  } else if (v->is_string()) {
    auto r = parse_duration_ms(v->get<std::string>());
    if (r) out = *r;
    else fail_msg(key, r.error());
  } else {
    fail(key, "a duration (ms, or 5s, 2m, 1h)");
  }
}

// Numbers are bytes; anything above kMaxSizeBytes is refused before it is converted.
void OptionReader::size(const char* key, std::uint64_t& out) {
  const json* v = find(key);
  if (!v) return;
  const std::string expected = "a size (bytes, or 200K, 150M, 1G)";
  if (v->is_number_unsigned()) {
    if (v->get<std::uint64_t>() > kMaxSizeBytes) return fail(key, std::string("a size of at most ") + kMaxSizeText);
    out = v->get<std::uint64_t>();
  } else if (v->is_number_integer() && v->get<long long>() >= 0) {
    if (static_cast<std::uint64_t>(v->get<long long>()) > kMaxSizeBytes) {
      return fail(key, std::string("a size of at most ") + kMaxSizeText);
    }
    out = static_cast<std::uint64_t>(v->get<long long>());
  } else if (v->is_string()) {
    auto r = parse_size(v->get<std::string>());
    if (r) out = *r;
    else fail_msg(key, r.error());
  } else {
    fail(key, expected);
  }
}

// A list of strings, or one string split on whitespace with shell quoting.
void OptionReader::words(const char* key, std::vector<std::string>& out) {
  if (const json* v = find(key)) {
    if (v->is_string()) {
      auto r = split_shell_words(v->get<std::string>());
      if (r) out = *r;
      else fail_msg(key, r.error());
    } else if (v->is_array()) {
      out.clear();
      for (const auto& item : *v) {
        if (item.is_string()) out.push_back(item.get<std::string>());
        else if (item.is_number()) out.push_back(item.dump());
        else return fail(key, "a string or a list of strings");
      }
    } else {
      fail(key, "a string or a list of strings");
    }
  }
}

void OptionReader::env(const char* key, Env& out) {
  if (const json* v = find(key)) {
    if (!v->is_object()) return fail(key, "an object of NAME: value");
    for (const auto& [k, val] : v->items()) {
      if (val.is_string()) out[k] = val.get<std::string>();
      else if (val.is_number() || val.is_boolean()) out[k] = val.dump();
      else if (val.is_null()) out[k] = "";
      // PM2 passes objects as JSON text; bytes that are not UTF-8 must not make dump() throw.
      else out[k] = val.dump(-1, ' ', false, json::error_handler_t::replace);
    }
  }
}

void OptionReader::int_list(const char* key, std::vector<int>& out) {
  if (const json* v = find(key)) {
    out.clear();
    const json one = v->is_array() ? json() : json::array({*v});
    if (!v->is_array() && !v->is_number_integer()) {
      return fail(key, "an exit code or a list of exit codes");
    }
    for (const auto& item : v->is_array() ? *v : one) {
      if (!item.is_number_integer() || item.get<long long>() < 0 || item.get<long long>() > 255) {
        return fail(key, "exit codes between 0 and 255");
      }
      out.push_back(static_cast<int>(item.get<long long>()));
    }
  }
}

// true/false, or a string (filter_env: true, or prefixes).
void OptionReader::bool_or_words(const char* key, bool& flag, std::vector<std::string>& out) {
  if (const json* v = find(key)) {
    if (v->is_boolean()) flag = v->get<bool>();
    else words(key, out);
  }
}

// instances: a count, "max", 0 or -N (CPUs, CPUs - N).
void OptionReader::instances(const char* key, int& out) {
  const json* v = find(key);
  if (!v) return;
  long long n = 0;
  if (v->is_string() && (*v == "max" || *v == "MAX")) n = 0;
  else if (v->is_number_integer()) n = v->get<long long>();
  else if (v->is_string()) {
    const std::string& text = v->get_ref<const std::string&>();
    char* end = nullptr;
    n = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0') return fail(key, "a number of instances, \"max\", 0 or -N");
  } else {
    return fail(key, "a number of instances, \"max\", 0 or -N");
  }
  if (n > kMaxInstances || n < -kMaxInstances) {
    return fail(key, "a number of instances between -" + std::to_string(kMaxInstances) + " and " +
                         std::to_string(kMaxInstances));
  }
  // The CPUs are counted only when the count depends on them (libc reads /sys to count them).
  const unsigned cpus = n > 0 ? 1 : std::thread::hardware_concurrency();
  out = resolve_instances(n, cpus == 0 ? 1 : static_cast<int>(cpus));
}

// One of a fixed set of strings.
void OptionReader::choice(const char* key, std::string& out, const std::vector<const char*>& allowed) {
  std::string value;
  string(key, value);
  if (value.empty()) return;
  for (const char* a : allowed) {
    if (value == a) {
      out = value;
      return;
    }
  }
  std::string list;
  for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
  fail(key, "one of " + list + " (got '" + value + "')");
}

// A user or group: a name or a numeric id.
void OptionReader::id_or_name(const char* key, std::string& out) {
  if (const json* v = find(key)) {
    if (v->is_string()) out = v->get<std::string>();  // "" leaves it unset
    else if (v->is_number_unsigned()) out = std::to_string(v->get<std::uint64_t>());
    else fail(key, "a user or group name, or a numeric id");
  }
}

}  // namespace pmx::config
