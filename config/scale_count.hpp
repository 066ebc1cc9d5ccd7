// ScaleCount: the count of `pmx scale <app> <count>`: "N" sets the total, "+N" adds, "-N" removes.
#pragma once

#include <string>
#include <string_view>

#include "config/app_spec.hpp"
#include "config/result.hpp"

namespace pmx::config {

/// A parsed scale count. Messages are reasons only; the caller puts "scale <app> <count>: "
/// in front.
struct ScaleCount {
  enum class Kind { Set, Add, Remove };
  Kind kind = Kind::Set;
  int n = 0;  ///< 0 <= n <= kMaxInstances (app_spec.hpp); a Set is never 0

  /// The app's total after scaling from current instances, or why it cannot be: below 1
  /// (stop or delete is how an app goes away) or above kMaxInstances.
  Result<int> total(int current) const;
};

/// Reads "N", "+N" or "-N" (N decimal digits only). "0" is refused (an app keeps at least one
/// instance); "+0" and "-0" are valid and change nothing.
Result<ScaleCount> parse_scale_count(std::string_view text);

}  // namespace pmx::config
