// Typed reads of untrusted JSON: each accessor checks a member's type before it converts it, so
// a value of the wrong type is an answer (absent, or an error naming what was expected), never
// an exception. nlohmann's j.value("type", "") and j.at(...).get<T>() throw type_error on a
// value of another type: JSON that came from outside (a client's request, an app's message, a
// file that an app or a crash may have damaged) is read through these instead.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "config/result.hpp"

namespace pmx::config {

/// j's member key: nullptr when j is not an object or has no such member.
const nlohmann::json* member(const nlohmann::json& j, std::string_view key);

// Lenient forms, for messages where a field of the wrong type means "not this message":
// nullopt (nullptr) when j is not an object, the member is absent, or it has another type.

/// The member as a string (the view points into j).
std::optional<std::string_view> string_at(const nlohmann::json& j, std::string_view key);
/// The member as a boolean (true or false; no number or string counts).
std::optional<bool> bool_at(const nlohmann::json& j, std::string_view key);
/// The member as an integer within [min, max] (a JSON integer: no float, bool or string).
std::optional<std::int64_t> int_at(const nlohmann::json& j, std::string_view key,
                                   std::int64_t min = std::numeric_limits<std::int64_t>::min(),
                                   std::int64_t max = std::numeric_limits<std::int64_t>::max());
/// The member when it is an object.
const nlohmann::json* object_at(const nlohmann::json& j, std::string_view key);
/// The member when it is an array.
const nlohmann::json* array_at(const nlohmann::json& j, std::string_view key);

// Strict forms, for optional fields whose wrong type is an error: the value is nullopt
// (nullptr) when the member is absent or null, the error says what the member must be
// ("must be true or false") when it has another type.

Result<std::optional<std::string_view>> string_field(const nlohmann::json& j, std::string_view key);
Result<std::optional<bool>> bool_field(const nlohmann::json& j, std::string_view key);
Result<std::optional<std::int64_t>> int_field(const nlohmann::json& j, std::string_view key,
                                              std::int64_t min = std::numeric_limits<std::int64_t>::min(),
                                              std::int64_t max = std::numeric_limits<std::int64_t>::max());
Result<const nlohmann::json*> object_field(const nlohmann::json& j, std::string_view key);
Result<const nlohmann::json*> array_field(const nlohmann::json& j, std::string_view key);

/// The integer held by v, when v is a JSON integer within [min, max]; nullopt otherwise.
std::optional<std::int64_t> as_int(const nlohmann::json& v, std::int64_t min, std::int64_t max);

}  // namespace pmx::config
