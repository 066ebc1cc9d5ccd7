// ScaleCount: parsing "N", "+N", "-N" and the total it leaves an app with.
#include "config/scale_count.hpp"

namespace pmx::config {

namespace {

constexpr const char* kKeepOne = "an app keeps at least 1 instance; use pmx stop or pmx delete";

}  // namespace

Result<ScaleCount> parse_scale_count(std::string_view text) {
  ScaleCount count;
  std::string_view digits = text;
  if (!digits.empty() && (digits.front() == '+' || digits.front() == '-')) {
    count.kind = digits.front() == '+' ? ScaleCount::Kind::Add : ScaleCount::Kind::Remove;
    digits.remove_prefix(1);
  }
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string_view::npos) {
    return Error{"the count is N (the total), +N (instances to add) or -N (instances to remove), N a whole number"};
  }
  // Digit by digit, stopping above the cap: "99999999999999999999" is too many, not an overflow.
  long long n = 0;
  for (char c : digits) {
    n = n * 10 + (c - '0');
    if (n > kMaxInstances) return Error{"an app has at most " + std::to_string(kMaxInstances) + " instances"};
  }
  if (count.kind == ScaleCount::Kind::Set && n == 0) return Error{kKeepOne};
  count.n = static_cast<int>(n);
  return count;
}

Result<int> ScaleCount::total(int current) const {
  long long t = kind == Kind::Set ? n : kind == Kind::Add ? static_cast<long long>(current) + n
                                                          : static_cast<long long>(current) - n;
  if (t < 1) {
    return Error{"the app has " + std::to_string(current) + " instance" + (current == 1 ? "" : "s") + "; " + kKeepOne};
  }
  if (t > kMaxInstances) {
    return Error{"the app has " + std::to_string(current) + " instance" + (current == 1 ? "" : "s") +
                 "; an app has at most " + std::to_string(kMaxInstances)};
  }
  return static_cast<int>(t);
}

}  // namespace pmx::config
