// Entity tags and HTTP dates for conditional GETs (RFC 9110 sections 8.8 and 13.1).
#include "serve/validators.hpp"

#include <cstdio>
#include <ctime>

namespace pmx::serve {

std::string entity_tag(const struct stat& st) {
  char tag[96];
  const auto nanos = static_cast<unsigned long long>(st.st_mtim.tv_sec) * 1000000000ULL +
                     static_cast<unsigned long long>(st.st_mtim.tv_nsec);
  std::snprintf(tag, sizeof tag, "\"%llx-%llx-%llx\"", static_cast<unsigned long long>(st.st_ino),
                static_cast<unsigned long long>(st.st_size), nanos);
  return tag;
}

std::string http_date(time_t when) {
  std::tm utc{};
  gmtime_r(&when, &utc);
  char text[64];
  std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &utc);
  return text;
}

bool not_modified(std::string_view if_none_match, std::string_view if_modified_since, const std::string& tag,
                  time_t modified) {
  if (!if_none_match.empty()) {
    // Weak comparison: W/"x" matches "x".
    const std::string_view opaque = std::string_view(tag);
    std::string_view rest = if_none_match;
    while (!rest.empty()) {
      const std::size_t comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
      while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
      if (item == "*") return true;
      if (item.substr(0, 2) == "W/") item.remove_prefix(2);
      if (item == opaque) return true;
    }
    return false;  // If-None-Match given: If-Modified-Since is not looked at
  }
  if (if_modified_since.empty()) return false;
  std::tm since{};
  const std::string text(if_modified_since);
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &since);
  if (!end || *end != '\0') return false;
  return timegm(&since) >= modified;
}

}  // namespace pmx::serve
