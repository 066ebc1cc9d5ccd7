// Typed JSON accessors: the type is checked first, then the value converted; nothing throws.
#include "config/json_access.hpp"

namespace pmx::config {
namespace {

using json = nlohmann::json;

/// The member, or nullptr when it is absent or null (a strict field treats both as unset).
const json* set_member(const json& j, std::string_view key) {
  const json* v = member(j, key);
  return v && !v->is_null() ? v : nullptr;
}

std::string integer_range(std::int64_t min, std::int64_t max) {
  constexpr auto lowest = std::numeric_limits<std::int64_t>::min();
  constexpr auto highest = std::numeric_limits<std::int64_t>::max();
  if (min == lowest && max == highest) return "an integer";
  if (max == highest) return "an integer >= " + std::to_string(min);
  if (min == lowest) return "an integer <= " + std::to_string(max);
  return "an integer between " + std::to_string(min) + " and " + std::to_string(max);
}

}  // namespace

const json* member(const json& j, std::string_view key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

std::optional<std::int64_t> as_int(const json& v, std::int64_t min, std::int64_t max) {
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
    const auto n = static_cast<std::int64_t>(u);
    if (n < min || n > max) return std::nullopt;
    return n;
  }
  if (v.is_number_integer()) {
    const auto n = v.get<std::int64_t>();
    if (n < min || n > max) return std::nullopt;
    return n;
  }
  return std::nullopt;
}

std::optional<std::string_view> string_at(const json& j, std::string_view key) {
  const json* v = member(j, key);
  if (!v || !v->is_string()) return std::nullopt;
  return std::string_view(v->get_ref<const std::string&>());
}

std::optional<bool> bool_at(const json& j, std::string_view key) {
  const json* v = member(j, key);
  if (!v || !v->is_boolean()) return std::nullopt;
  return v->get<bool>();
}

std::optional<std::int64_t> int_at(const json& j, std::string_view key, std::int64_t min, std::int64_t max) {
  const json* v = member(j, key);
  return v ? as_int(*v, min, max) : std::nullopt;
}

const json* object_at(const json& j, std::string_view key) {
  const json* v = member(j, key);
  return v && v->is_object() ? v : nullptr;
}

const json* array_at(const json& j, std::string_view key) {
  const json* v = member(j, key);
  return v && v->is_array() ? v : nullptr;
}

Result<std::optional<std::string_view>> string_field(const json& j, std::string_view key) {
  const json* v = set_member(j, key);
  if (!v) return std::optional<std::string_view>();
  if (!v->is_string()) return Error{"must be a string"};
  return std::optional<std::string_view>(v->get_ref<const std::string&>());
}

Result<std::optional<bool>> bool_field(const json& j, std::string_view key) {
  const json* v = set_member(j, key);
  if (!v) return std::optional<bool>();
  if (!v->is_boolean()) return Error{"must be true or false"};
  return std::optional<bool>(v->get<bool>());
}

Result<std::optional<std::int64_t>> int_field(const json& j, std::string_view key, std::int64_t min,
                                              std::int64_t max) {
  const json* v = set_member(j, key);
  if (!v) return std::optional<std::int64_t>();
  auto n = as_int(*v, min, max);
  if (!n) return Error{"must be " + integer_range(min, max)};
  return std::optional<std::int64_t>(*n);
}

Result<const json*> object_field(const json& j, std::string_view key) {
  const json* v = set_member(j, key);
  if (v && !v->is_object()) return Error{"must be an object"};
  return v;
}

Result<const json*> array_field(const json& j, std::string_view key) {
  const json* v = set_member(j, key);
  if (v && !v->is_array()) return Error{"must be a list"};
  return v;
}

}  // namespace pmx::config
