// The file a request's target names below the served folder: percent-decoded, query and
// fragment cut, and refused when it could leave the folder (a ".." segment in any encoding).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pmx::serve {

/// A request target read as a path below the served folder.
struct RequestPath {
  std::string relative;       ///< "" for the folder itself, else "a/b.css" (no leading '/')
  bool trailing_slash = false;  ///< the target named a folder ("/docs/")
};

/// The path a target ("/a%20b/c.css?v=1") names, or nothing when it is malformed or could reach
/// outside the folder: not starting with '/', a bad or NUL %-escape, a ".." segment once decoded
/// (%2e%2e, %2F.. included).
std::optional<RequestPath> request_path(std::string_view target);

}  // namespace pmx::serve
