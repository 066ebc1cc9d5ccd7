// Interpreter by extension: one table.
#include "config/interpreter.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <sstream>

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

std::string choose_interpreter(const std::string& path) {
  if (std::string by_extension = interpreter_for(path); !by_extension.empty()) return by_extension;
  char head[512];
  ssize_t n = -1;
  if (int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC); fd >= 0) {
    n = ::read(fd, head, sizeof head);
    ::close(fd);
  }
  if (n < 0) return "none";  // unreadable: let exec say why
  const std::string text(head, static_cast<std::size_t>(n));
  if (text.starts_with("\x7f" "ELF") || text.find('\0') != std::string::npos) return "none";
  if (!text.starts_with("#!")) return "node";
  // #!program [argument]: the kernel's reading of the first line (`env -S` splits the rest).
  std::istringstream line(text.substr(2, text.find('\n') == std::string::npos ? std::string::npos : text.find('\n') - 2));
  std::string program, argument;
  line >> program >> argument;
  const bool env = program == "/usr/bin/env" || program == "/bin/env";
  if (env && (argument == "-S" || argument == "--split-string")) line >> argument;
  const std::string named = env ? argument : program;
  // A script whose shebang names node is a Node app (express's bin/www, next's bin): run under
  // node, as PM2 runs it, so that it gets cluster mode, the IPC channel and the preload.
  const std::string base = named.substr(named.rfind('/') == std::string::npos ? 0 : named.rfind('/') + 1);
  if (base == "node" || base == "nodejs") return "node";
  if (::access(path.c_str(), X_OK) == 0) return "none";
  if (program.empty()) return "node";
  return env && !argument.empty() ? argument : program;
}

}  // namespace pmx::config
