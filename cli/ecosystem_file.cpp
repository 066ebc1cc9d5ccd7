// Ecosystem files for the CLI. A .js file is evaluated by node (PM2's own format is code).
#include "cli/ecosystem_file.hpp"

#include "config/paths.hpp"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

namespace pmx::cli {
namespace {

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Runs node to print module.exports of path as JSON. Output and errors are collected whole.
Result<std::string> evaluate_js(const std::string& path) {
  if (config::find_in_path("node").empty()) {
    return Error{path + ": a .js ecosystem file is evaluated with node, and node is not on PATH "
                        "(write the file as YAML or JSON instead: `pmx ecosystem`)"};
  }
  static const char* kScript =
      "const m = require(process.argv[1]);"
      "const v = (m && m.__esModule && m.default) || m;"
      "process.stdout.write(JSON.stringify(v === undefined ? null : v));";
  // An ES module (*.config.mjs) cannot be required: imported, its default export is the file.
  static const char* kModuleScript =
      "import(require('url').pathToFileURL(process.argv[1])).then((m) => {"
      "  const v = m.default === undefined ? null : m.default;"
      "  process.stdout.write(JSON.stringify(v));"
      "}).catch((e) => { console.error(e); process.exit(1); });";
  const char* script = path.ends_with(".mjs") ? kModuleScript : kScript;
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) return Error{std::string("pipe: ") + std::strerror(errno)};
  pid_t pid = ::fork();
  if (pid < 0) return Error{std::string("fork: ") + std::strerror(errno)};
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::execlp("node", "node", "-e", script, path.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  std::string stdout_text, stderr_text;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    if (::poll(fds, 2, 30'000) <= 0) break;  // a file that never finishes: give up after 30 s
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? stdout_text : stderr_text).append(buf, static_cast<std::size_t>(n));
      } else {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) ::close(f.fd);
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    // node's message names the file and line of the mistake; keep its first lines.
    std::istringstream lines(stderr_text);
    std::string line, shown;
    for (int i = 0; i < 6 && std::getline(lines, line); ++i) shown += "\n  " + line;
    return Error{path + ": node could not evaluate the file:" + shown};
  }
  return stdout_text;
}

}  // namespace

bool is_ecosystem_file(const std::string& arg) {
  return arg == "-" || (config::format_of(arg) && config::is_regular_file(arg));
}

std::string default_ecosystem_file() {
  for (const char* name : {"ecosystem.config.js", "ecosystem.config.cjs", "ecosystem.config.mjs", "ecosystem.yaml", "ecosystem.yml",
                           "ecosystem.json"}) {
    if (config::is_regular_file(name)) return name;
  }
  return "";
}

Result<config::Ecosystem> read_ecosystem(const std::string& arg, const config::LoadOptions& options) {
  if (arg == "-") {
    std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    return config::parse_ecosystem(text, config::Format::Json, "<stdin>", config::current_directory(), options);
  }
  const std::string path = config::absolute_path(arg, config::current_directory());
  if (config::format_of(path) == config::Format::JavaScript) {
    auto text = evaluate_js(path);
    if (!text) return Error{text.error()};
    return config::parse_ecosystem(*text, config::Format::JavaScript, arg, dir_of(path), options);
  }
  auto eco = config::load_ecosystem(path, options);
  if (!eco) return eco;
  return eco;
}

Result<nlohmann::json> read_ecosystem_document(const std::string& arg) {
  const std::string path = config::absolute_path(arg, config::current_directory());
  const auto format = config::format_of(path);
  if (!format) return Error{arg + ": not an ecosystem file (.js, .cjs, .mjs, .yaml, .yml or .json)"};
  std::string text;
  if (*format == config::Format::JavaScript) {
    auto evaluated = evaluate_js(path);
    if (!evaluated) return Error{evaluated.error()};
    text = std::move(*evaluated);
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error{arg + ": cannot read the file"};
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return config::parse_ecosystem_document(text, *format, arg);
}

}  // namespace pmx::cli
