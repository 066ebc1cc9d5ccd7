// Extensions to media types: the ones a web app's build folder holds.
#include "serve/content_type.hpp"

#include <algorithm>
#include <cctype>
#include <string>

namespace pmx::serve {
namespace {

struct Type {
  std::string_view extension;
  std::string_view media_type;
};

constexpr Type kTypes[] = {
    {"html", "text/html; charset=utf-8"},       {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},         {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},  {"cjs", "text/javascript; charset=utf-8"},
    {"json", "application/json"},               {"map", "application/json"},
    {"webmanifest", "application/manifest+json"}, {"txt", "text/plain; charset=utf-8"},
    {"md", "text/markdown; charset=utf-8"},     {"csv", "text/csv; charset=utf-8"},
    {"xml", "application/xml"},                 {"svg", "image/svg+xml"},
    {"png", "image/png"},                       {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},                     {"gif", "image/gif"},
    {"webp", "image/webp"},                     {"avif", "image/avif"},
    {"ico", "image/x-icon"},                    {"bmp", "image/bmp"},
    {"woff", "font/woff"},                      {"woff2", "font/woff2"},
    {"ttf", "font/ttf"},                        {"otf", "font/otf"},
    {"eot", "application/vnd.ms-fontobject"},   {"wasm", "application/wasm"},
    {"pdf", "application/pdf"},                 {"zip", "application/zip"},
    {"gz", "application/gzip"},                 {"tar", "application/x-tar"},
    {"mp4", "video/mp4"},                       {"webm", "video/webm"},
    {"ogg", "audio/ogg"},                       {"mp3", "audio/mpeg"},
    {"wav", "audio/wav"},                       {"flac", "audio/flac"},
};

}  // namespace

std::string_view content_type(std::string_view file_name) {
  const std::size_t slash = file_name.rfind('/');
  const std::string_view base = slash == std::string_view::npos ? file_name : file_name.substr(slash + 1);
  const std::size_t dot = base.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return "application/octet-stream";
  std::string extension(base.substr(dot + 1));
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const auto& t : kTypes) {
    if (t.extension == extension) return t.media_type;
  }
  return "application/octet-stream";
}

}  // namespace pmx::serve
