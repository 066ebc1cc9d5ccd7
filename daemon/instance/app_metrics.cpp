// AppMetrics: an app's reports read with their types checked, and PM2's axm_monitor shape.
#include "daemon/instance/app_metrics.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "config/json_access.hpp"

namespace pmx::daemon {

using json = nlohmann::json;

namespace {

/// A field that must be a finite number ≥ 0 when present.
Result<std::optional<double>> amount(const json& j, const char* key) {
  const json* v = config::member(j, key);
  if (!v || v->is_null()) return std::optional<double>();
  if (!v->is_number()) return Error{std::string(key) + " is not a number"};
  const double d = v->get<double>();
  if (!std::isfinite(d) || d < 0) return Error{std::string(key) + " is not a finite number >= 0"};
  return std::optional<double>(d);
}

/// "7.23": two decimals, as PM2 shows heap sizes and latencies.
std::string two_decimals(double d) {
  char text[64];
  std::snprintf(text, sizeof text, "%.2f", d);
  return text;
}

std::string text_at(const json& j, const char* key) {
  const auto s = config::string_at(j, key);
  return s && s->size() <= kMaxMetricText ? std::string(*s) : std::string();
}

void put(json& out, const char* name, json value, const char* unit, const char* type) {
  json m{{"value", std::move(value)}, {"type", type}, {"historic", true}};
  if (unit[0] != '\0') m["unit"] = unit;
  out[name] = std::move(m);
}

}  // namespace

Result<RuntimeMetrics> read_runtime_metrics(const json& message) {
  if (!message.is_object()) return Error{"is not an object"};
  RuntimeMetrics r;
  struct Field {
    const char* key;
    std::optional<double> RuntimeMetrics::*member;
  };
  for (const Field& f : {Field{"heap_total", &RuntimeMetrics::heap_total_bytes}, Field{"heap_used", &RuntimeMetrics::heap_used_bytes},
                         Field{"handles", &RuntimeMetrics::active_handles}, Field{"requests", &RuntimeMetrics::active_requests}}) {
    auto v = amount(message, f.key);
    if (!v) return Error{v.error()};
    r.*f.member = *v;
  }
  if (const json* loop = config::member(message, "loop"); loop && !loop->is_null()) {
    if (!loop->is_object()) return Error{"loop is not an object"};
    for (const Field& f : {Field{"p50", &RuntimeMetrics::loop_p50_ms}, Field{"p95", &RuntimeMetrics::loop_p95_ms},
                           Field{"p99", &RuntimeMetrics::loop_p99_ms}, Field{"max", &RuntimeMetrics::loop_max_ms}}) {
      auto v = amount(*loop, f.key);
      if (!v) return Error{"loop." + v.error()};
      r.*f.member = *v;
    }
  }
  auto errors = amount(message, "errors");
  if (!errors) return Error{errors.error()};
  if (*errors) r.errors = static_cast<std::uint64_t>(std::min(**errors, 1e15));
  return r;
}

Result<std::vector<CustomMetric>> read_axm_monitor(const json& data, std::uint64_t& dropped) {
  if (!data.is_object()) return Error{"data is not an object"};
  std::vector<CustomMetric> out;
  for (const auto& [name, m] : data.items()) {
    const json* value = m.is_object() ? config::member(m, "value") : nullptr;
    const bool value_ok = value && (value->is_boolean() || (value->is_number() && std::isfinite(value->get<double>())) ||
                                    (value->is_string() && value->get_ref<const std::string&>().size() <= kMaxMetricText));
    if (name.empty() || name.size() > kMaxMetricName || !value_ok || out.size() == kMaxCustomMetrics) {
      ++dropped;
      continue;
    }
    CustomMetric c;
    c.name = name;
    c.value = *value;
    c.unit = text_at(m, "unit");
    c.type = text_at(m, "type");
    c.historic = config::bool_at(m, "historic").value_or(false);
    out.push_back(std::move(c));
  }
  return out;
}

json axm_monitor(const AppMetrics& metrics) {
  json out = json::object();
  for (const CustomMetric& c : metrics.custom) {
    json m{{"value", c.value}, {"historic", c.historic}};
    if (!c.unit.empty()) m["unit"] = c.unit;
    if (!c.type.empty()) m["type"] = c.type;
    out[c.name] = std::move(m);
  }
  if (!metrics.runtime) return out;
  const RuntimeMetrics& r = *metrics.runtime;
  constexpr double kMiB = 1024.0 * 1024.0;
  if (r.heap_total_bytes) put(out, "Heap Size", two_decimals(*r.heap_total_bytes / kMiB), "MiB", "internal/v8/heap/total");
  if (r.heap_total_bytes && r.heap_used_bytes && *r.heap_total_bytes > 0) {
    const double percent = std::round(*r.heap_used_bytes / *r.heap_total_bytes * 10000.0) / 100.0;
    put(out, "Heap Usage", percent, "%", "internal/v8/heap/usage");
  }
  if (r.heap_used_bytes) put(out, "Used Heap Size", two_decimals(*r.heap_used_bytes / kMiB), "MiB", "internal/v8/heap/used");
  if (r.active_requests) put(out, "Active requests", static_cast<std::int64_t>(*r.active_requests), "", "internal/libuv/requests");
  if (r.active_handles) put(out, "Active handles", static_cast<std::int64_t>(*r.active_handles), "", "internal/libuv/handles");
  if (r.loop_p50_ms) put(out, "Event Loop Latency", two_decimals(*r.loop_p50_ms), "ms", "internal/libuv/latency/p50");
  if (r.loop_p95_ms) put(out, "Event Loop Latency p95", two_decimals(*r.loop_p95_ms), "ms", "internal/libuv/latency/p95");
  if (r.loop_p99_ms) put(out, "Event Loop Latency p99", two_decimals(*r.loop_p99_ms), "ms", "internal/libuv/latency/p99");
  if (r.loop_max_ms) put(out, "Event Loop Latency max", two_decimals(*r.loop_max_ms), "ms", "internal/libuv/latency/max");
  return out;
}

std::optional<double> numeric_value(const json& value) {
  if (value.is_number()) {
    const double d = value.get<double>();
    return std::isfinite(d) ? std::optional<double>(d) : std::nullopt;
  }
  if (!value.is_string()) return std::nullopt;
  const std::string& s = value.get_ref<const std::string&>();
  if (s.empty() || s.size() > 64 || std::isspace(static_cast<unsigned char>(s[0]))) return std::nullopt;
  char* end = nullptr;
  const double d = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(d)) return std::nullopt;
  return d;
}

}  // namespace pmx::daemon
