// A bracket counter that skips strings (and the escapes inside them), and that skip.
#include "config/json_depth.hpp"

#include <string>

namespace pmx::config {

std::size_t json_string_end(std::string_view text, std::size_t open) {
  for (std::size_t i = open + 1; i < text.size(); ++i) {
    if (text[i] == '\\') ++i;
    else if (text[i] == '"') return i + 1;
  }
  return text.size();
}

std::size_t json_depth(std::string_view text, std::size_t limit) {
  std::size_t depth = 0, deepest = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"') {
      i = json_string_end(text, i) - 1;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest) deepest = depth;
      if (deepest > limit) break;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

Result<bool> check_json_depth(std::string_view text, std::size_t limit) {
  if (json_depth(text, limit) > limit) {
    return Error{"nested deeper than " + std::to_string(limit) + " levels of arrays and objects"};
  }
  return true;
}

}  // namespace pmx::config
