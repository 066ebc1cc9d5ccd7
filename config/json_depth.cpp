// A bracket counter that skips strings (and the escapes inside them).
#include "config/json_depth.hpp"

#include <string>

namespace pmx::config {

std::size_t json_depth(std::string_view text, std::size_t limit) {
  std::size_t depth = 0, deepest = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
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
