// Request targets to paths below the served folder.
#include "serve/request_path.hpp"

#include <vector>

namespace pmx::serve {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// %xx decoded; nothing for a truncated or non-hex escape, or one that decodes to NUL.
std::optional<std::string> percent_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return std::nullopt;
    const int hi = hex_value(in[i + 1]);
    const int lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    const char c = static_cast<char>(hi * 16 + lo);
    if (c == '\0') return std::nullopt;
    out += c;
    i += 2;
  }
  return out;
}

}  // namespace

std::optional<RequestPath> request_path(std::string_view target) {
  target = target.substr(0, target.find_first_of("?#"));
  if (target.empty() || target.front() != '/') return std::nullopt;
  const auto decoded = percent_decode(target);
  if (!decoded) return std::nullopt;
  // Segments after decoding: an encoded slash is a slash, "." and empty ones go, ".." refuses.
  std::vector<std::string_view> kept;
  std::string_view rest = *decoded;
  while (!rest.empty()) {
    const std::size_t end = rest.find('/');
    const std::string_view segment = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
    if (segment.empty() || segment == ".") continue;
    if (segment == "..") return std::nullopt;
    kept.push_back(segment);
  }
  RequestPath path;
  for (std::size_t i = 0; i < kept.size(); ++i) {
    if (i) path.relative += '/';
    path.relative += kept[i];
  }
  path.trailing_slash = decoded->back() == '/';
  return path;
}

}  // namespace pmx::serve
