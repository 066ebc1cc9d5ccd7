// Range headers, read as RFC 9110 section 14.2 says, one range at most.
#include "serve/byte_range.hpp"

#include <algorithm>
#include <charconv>

namespace pmx::serve {
namespace {

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

/// A run of digits as a number; nothing when empty, not all digits, or too large.
std::optional<std::uint64_t> number(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return value;
}

}  // namespace

ByteRange byte_range(std::string_view header, std::uint64_t size) {
  ByteRange whole;
  header = trimmed(header);
  constexpr std::string_view kUnit = "bytes=";
  if (header.size() <= kUnit.size() || header.substr(0, kUnit.size()) != kUnit) return whole;
  const std::string_view spec = trimmed(header.substr(kUnit.size()));
  if (spec.find(',') != std::string_view::npos) return whole;
  const std::size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return whole;
  const std::string_view from = trimmed(spec.substr(0, dash));
  const std::string_view to = trimmed(spec.substr(dash + 1));
  ByteRange r;
  r.kind = ByteRange::Kind::Part;
  if (from.empty()) {
    // bytes=-N: the last N bytes.
    const auto suffix = number(to);
    if (!suffix) return whole;
    if (*suffix == 0 || size == 0) return ByteRange{ByteRange::Kind::Unsatisfiable};
    r.first = *suffix >= size ? 0 : size - *suffix;
    r.last = size - 1;
    return r;
  }
  const auto first = number(from);
  if (!first) return whole;
  std::optional<std::uint64_t> last = size ? std::optional<std::uint64_t>(size - 1) : std::nullopt;
  if (!to.empty()) {
    last = number(to);
    if (!last || *last < *first) return whole;  // invalid: ignored
    if (size) last = std::min(*last, size - 1);
  }
  if (*first >= size) return ByteRange{ByteRange::Kind::Unsatisfiable};
  r.first = *first;
  r.last = *last;
  return r;
}

}  // namespace pmx::serve
