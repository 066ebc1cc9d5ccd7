// `pmx deploy`: reads the deploy section, then for each host in turn runs the action's script
// (deploy_script.cpp) through ssh, its output streamed line by line with the host before it.
// The first host that fails stops the deploy with its exit code, as PM2's does.
#include "cli/deploy_verb.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>

#include "cli/command_line.hpp"
#include "cli/commands.hpp"
#include "cli/daemon_connection.hpp"
#include "cli/deploy_script.hpp"
#include "cli/ecosystem_file.hpp"
#include "config/paths.hpp"

namespace pmx::cli {
namespace {

constexpr const char* kActions = "setup, update, revert [n], curr, prev, list, exec <command>, ref <ref>";

/// In a forked child: argv with stdin from in and stdout and stderr to out; 127 when it cannot run
/// (saying why on out).
[[noreturn]] void exec_child(const std::vector<std::string>& argv, int in, int out) {
  ::dup2(in, 0);
  ::dup2(out, 1);
  ::dup2(out, 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execvp(args[0], args.data());
  const std::string message = "pmx deploy: cannot run " + argv[0] + ": " + std::strerror(errno) + "\n";
  (void)!::write(2, message.data(), message.size());
  ::_exit(127);
}

/// Runs argv with stdin from stdin_fd (or /dev/null when -1) and its stdout and stderr as one
/// stream, printed line by line after prefix; the exit code (128 + signal when killed, 127 when
/// it could not run).
int run_prefixed(const std::vector<std::string>& argv, int stdin_fd, const std::string& prefix) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw Failure(kFailed, std::string("deploy: pipe: ") + std::strerror(errno));
  std::cout.flush();
  const pid_t pid = ::fork();
  if (pid < 0) throw Failure(kFailed, std::string("deploy: fork: ") + std::strerror(errno));
  if (pid == 0) exec_child(argv, stdin_fd >= 0 ? stdin_fd : ::open("/dev/null", O_RDONLY), out[1]);
  ::close(out[1]);
  std::string pending;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buf, static_cast<std::size_t>(n));
    std::size_t start = 0;
    for (std::size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
      std::cout << prefix << std::string_view(pending).substr(start, nl - start) << "\n";
    }
    pending.erase(0, start);
    std::cout.flush();
  }
  if (!pending.empty()) std::cout << prefix << pending << "\n" << std::flush;
  ::close(out[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/// A file holding text, unlinked, positioned at its start: the script given to ssh as stdin.
int text_fd(const std::string& text) {
  const int fd = ::memfd_create("pmx-deploy-script", MFD_CLOEXEC);
  if (fd < 0 || ::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size()) || ::lseek(fd, 0, SEEK_SET) != 0) {
    throw Failure(kFailed, std::string("deploy: cannot hold the script: ") + std::strerror(errno));
  }
  return fd;
}

/// Runs argv quietly in the current folder; its exit code.
int run_quiet(const std::vector<std::string>& argv) {
  const pid_t pid = ::fork();
  if (pid < 0) return 127;
  if (pid == 0) {
    const int null = ::open("/dev/null", O_RDWR);
    exec_child(argv, null, null);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/// PM2's check before a deploy: what is deployed is what the repository has, so nothing local
/// may be uncommitted or unpushed (--force skips it). The repository is the one that holds the
/// ecosystem file (PM2 looks at the current folder, usually the same); outside a git work tree
/// there is nothing to check.
void check_local_changes(const std::string& folder) {
  const auto git = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"git", "-C", folder, "--no-pager"});
    return run_quiet(args);
  };
  if (git({"rev-parse", "--is-inside-work-tree"}) != 0) return;
  if (git({"diff", "--quiet"}) != 0) {
    throw Failure(kFailed, "deploy: commit or stash your changes in " + folder + " before deploying (or --force)");
  }
  if (git({"diff", "--quiet", "--cached"}) != 0) {
    throw Failure(kFailed, "deploy: commit your staged changes in " + folder + " before deploying (or --force)");
  }
  // Commits not pushed: only where the branch has an upstream to compare with.
  if (git({"rev-parse", "--abbrev-ref", "@{upstream}"}) == 0 &&
      run_quiet({"sh", "-c", "test -z \"$(git -C \"$0\" rev-list '@{upstream}..' -n 1)\"", folder}) != 0) {
    throw Failure(kFailed, "deploy: push your commits in " + folder + " before deploying (or --force)");
  }
}

DeployRequest parse_action(const std::vector<std::string>& words, std::size_t at, const config::DeployTarget& target) {
  DeployRequest r;
  r.ref = target.ref;
  if (at >= words.size()) return r;
  const std::string& action = words[at];
  const auto rest = [&](const char* what) {
    if (at + 1 >= words.size()) throw Failure(kUsage, "deploy: " + action + " needs " + what);
    std::string joined;
    for (std::size_t i = at + 1; i < words.size(); ++i) joined += (joined.empty() ? "" : " ") + words[i];
    return joined;
  };
  if (action == "setup") r.action = DeployAction::Setup;
  else if (action == "update") r.action = DeployAction::Update;
  else if (action == "curr" || action == "current") r.action = DeployAction::Current;
  else if (action == "prev" || action == "previous") r.action = DeployAction::Previous;
  else if (action == "list") r.action = DeployAction::List;
  else if (action == "exec" || action == "run") r.action = DeployAction::Exec, r.command = rest("a command");
  else if (action == "ref") r.action = DeployAction::Update, r.ref = rest("a ref");
  else if (action == "revert") {
    r.action = DeployAction::Revert;
    if (at + 1 < words.size()) {
      const std::string& n = words[at + 1];
      const auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), r.revert);
      if (ec != std::errc{} || end != n.data() + n.size() || r.revert < 1) {
        throw Failure(kUsage, "deploy: revert takes a number of deploys (1 or more), not '" + n + "'");
      }
    }
  } else {
    throw Failure(kUsage, "deploy: unknown action '" + action + "' (one of: " + kActions + ")");
  }
  const std::size_t expected = r.action == DeployAction::Exec || (action == "ref") ? words.size()
                               : r.action == DeployAction::Revert                 ? std::min(words.size(), at + 2)
                                                                                  : at + 1;
  if (words.size() > expected) throw Failure(kUsage, "deploy: unexpected '" + words[expected] + "' after " + action);
  return r;
}

const char* action_name(DeployAction a) {
  switch (a) {
    case DeployAction::Setup: return "setup";
    case DeployAction::Update: return "deploy";
    case DeployAction::Revert: return "revert";
    case DeployAction::Current: return "current";
    case DeployAction::Previous: return "previous";
    case DeployAction::List: return "list";
    case DeployAction::Exec: return "exec";
  }
  return "";
}

}  // namespace

void define_deploy(CLI::App& c, CommandLine& cl) {
  c.add_option("words", cl.deploy.words, std::string("[file] <env> [action]: ") + kActions)->required();
  c.add_flag("--force", cl.deploy.force, "deploy even with local changes not committed or pushed");
  c.footer("The deploy section of the file (ecosystem.config.js, .yaml, .json) says where: docs/deploy.md.");
}

int run_deploy(Invocation& inv) {
  const DeployVerbOptions& o = inv.cl.deploy;
  std::size_t at = 0;
  std::string file;
  if (is_ecosystem_file(o.words[0])) {
    file = o.words[at++];
  } else {
    file = default_ecosystem_file();
    if (file.empty()) throw Failure(kUsage, "deploy: no ecosystem file named, and none in this folder");
  }
  if (at >= o.words.size()) throw Failure(kUsage, "deploy: which environment? (pmx deploy " + file + " <env>)");
  const std::string env = o.words[at++];
  auto document = read_ecosystem_document(file);
  if (!document) throw Failure(kUsage, document.error());
  const char* home = std::getenv("HOME");
  auto target = config::deploy_target(*document, env, file, home ? home : "");
  if (!target) throw Failure(kUsage, target.error());
  DeployRequest request = parse_action(o.words, at, *target);

  if (request.action == DeployAction::Setup) {
    if (const auto it = target->hooks.find("pre-setup"); it != target->hooks.end()) {
      // A pre-setup whose first word is a local file is that script, run on the host (PM2's rule).
      const std::string first = it->second.substr(0, it->second.find(' '));
      if (config::is_regular_file(first)) {
        std::ifstream in(first, std::ios::binary);
        request.pre_setup_script.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        if (request.pre_setup_script.empty()) request.pre_setup_script = "true\n";
      }
    }
  }
  const bool deploys = request.action == DeployAction::Update || request.action == DeployAction::Revert;
  if (deploys && !o.force) {
    const std::string path = config::absolute_path(file, config::current_directory());
    check_local_changes(path.substr(0, std::max<std::size_t>(path.rfind('/'), 1)));
  }

  const std::string script = remote_script(*target, request);
  for (const std::string& host : target->hosts) {
    const std::string prefix = "[" + host + "] ";
    std::cout << "--> " << action_name(request.action) << " " << env << " on " << host << "\n";
    if (deploys) {
      if (const auto it = target->hooks.find("pre-deploy-local"); it != target->hooks.end()) {
        std::cout << "--> pre-deploy-local: " << it->second << "\n";
        if (const int code = run_prefixed({"/bin/sh", "-c", it->second}, -1, "[local] "); code != 0) {
          std::cerr << "pmx deploy: the pre-deploy-local hook failed (exit " << code << ")\n";
          return code;
        }
      }
    }
    const int script_fd = text_fd(script);
    const int code = run_prefixed(ssh_argv(*target, host), script_fd, prefix);
    ::close(script_fd);
    if (code != 0) {
      std::cerr << "pmx deploy: " << action_name(request.action) << " " << env << " failed on " << host << " (exit "
                << code << ")" << (target->hosts.size() > 1 ? "; the hosts after it were not touched" : "") << "\n";
      return code;
    }
  }
  return kOk;
}

}  // namespace pmx::cli
