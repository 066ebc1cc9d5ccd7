// Interpreter by extension: one table.
#include "config/interpreter.hpp"

namespace pmx::config {
namespace {

struct ByExtension {
  const char* extension;
  const char* interpreter;
};

constexpr ByExtension kInterpreters[] = {
    {".js", "node"},  {".mjs", "node"}, {".cjs", "node"}, {".py", "python3"},
    {".sh", "bash"},  {".rb", "ruby"},  {".php", "php"},  {".pl", "perl"},
};

}  // namespace

std::string interpreter_for(const std::string& script) {
  auto slash = script.rfind('/');
  auto dot = script.rfind('.');
  // A leading dot names a hidden file, not an extension (".sh" has none).
  const std::size_t name_start = slash == std::string::npos ? 0 : slash + 1;
  if (dot == std::string::npos || dot <= name_start) return "";
  std::string ext = script.substr(dot);
  for (const auto& entry : kInterpreters) {
    if (ext == entry.extension) return entry.interpreter;
  }
  return "";
}

}  // namespace pmx::config
