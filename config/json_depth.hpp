// JSON nesting depth, a bound checked on the text before any recursive code sees the document;
// and the one scan past a JSON string that the text-level readers of JSON share.
#pragma once

#include <cstddef>
#include <string_view>

#include "config/result.hpp"

namespace pmx::config {

/// Deepest nesting of arrays and objects accepted in a request or a config file. Real
/// requests and ecosystem files stay below 10; the limit keeps every recursive walk of a
/// document (copy, dump, destruction, yaml-cpp) to a few frames whatever a client sends.
constexpr std::size_t kMaxJsonDepth = 64;

/// The index just past the closing quote of the JSON string whose opening quote is text[open]
/// (escapes skipped), or text.size() when it is not closed.
std::size_t json_string_end(std::string_view text, std::size_t open);

/// The deepest nesting of '[' and '{' in text read as JSON, outside strings; counting stops
/// at limit + 1. A single pass without recursion; the text need not be valid JSON.
std::size_t json_depth(std::string_view text, std::size_t limit = kMaxJsonDepth);

/// true, or an error "nested deeper than <limit> levels" when json_depth exceeds limit.
Result<bool> check_json_depth(std::string_view text, std::size_t limit = kMaxJsonDepth);

}  // namespace pmx::config
