#include "cli/startup.hpp"

#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <vector>

#include "cli/autostart.hpp"
#include "cli/commands.hpp"
#include "config/paths.hpp"

namespace pmx::cli {
namespace {

/// The user the unit runs as, and that user's home folder.
struct Account {
  std::string name;
  std::string home;
};

bool find_account(const std::string& name, Account& out) {
  errno = 0;
  const passwd* pw = name.empty() ? ::getpwuid(::geteuid()) : ::getpwnam(name.c_str());
  if (!pw) return false;
  out = {pw->pw_name, pw->pw_dir};
  return true;
}

/// This pmx, as the unit's ExecReload names it.
std::string pmx_path() {
  const std::string self = config::own_executable();
  return self.empty() ? "pmx" : self;
}

/// Runs systemctl with args; prints what failed. True on success.
bool systemctl(const std::vector<std::string>& args) {
  std::vector<char*> argv{const_cast<char*>("systemctl")};
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    ::execvp("systemctl", argv.data());
    std::fprintf(stderr, "pmx: cannot run systemctl: %s\n", std::strerror(errno));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  std::string line = "systemctl";
  for (const auto& a : args) line += " " + a;
  std::cout << (ok ? "[ok] " : "[failed] ") << line << "\n";
  return ok;
}

struct Plan {
  Account account;
  std::string pmx_home;
  std::string service;
  std::string unit_path;
};

/// What the options mean: the account, its pmx home, the unit's name and path. Throws nothing;
/// the error is printed and false returned.
bool plan_for(const StartupOptions& o, Plan& plan) {
  if (!o.init_system.empty() && o.init_system != "systemd") {
    std::cerr << "pmx: startup: '" << o.init_system << "' is not supported; pmx knows systemd (docs/systemd.md)\n";
    return false;
  }
  if (!find_account(o.user, plan.account)) {
    std::cerr << "pmx: startup: no user '" << o.user << "' on this system\n";
    return false;
  }
  // PMX_HOME: --hp's .pmx; else another user's ~/.pmx; else the home pmx uses now.
  Account self;
  const bool other_user = !find_account("", self) || self.name != plan.account.name;
  if (!o.home_dir.empty()) plan.pmx_home = config::absolute_path(o.home_dir, config::current_directory()) + "/.pmx";
  else if (other_user) plan.pmx_home = plan.account.home + "/.pmx";
  else plan.pmx_home = config::Paths::from_environment().home;
  plan.service = o.service_name.empty() ? "pmx-" + plan.account.name : o.service_name;
  if (plan.service.ends_with(".service")) plan.service.resize(plan.service.size() - 8);
  if (plan.service.empty() || plan.service.find('/') != std::string::npos) {
    std::cerr << "pmx: startup: --service-name '" << o.service_name << "' is not a unit name\n";
    return false;
  }
  plan.unit_path = o.unit_dir + "/" + plan.service + ".service";
  return true;
}

}  // namespace

std::string startup_unit(const std::string& user, const std::string& pmx_home, const std::string& pmxd,
                         const std::string& pmx, const std::string& path_env) {
  std::string u;
  u += "# Written by `pmx startup`; `pmx unstartup` removes it. docs/systemd.md explains each line.\n";
  u += "[Unit]\n";
  u += "Description=pmx process manager (" + user + ", PMX_HOME=" + pmx_home + ")\n";
  u += "After=network.target\n\n";
  u += "[Service]\n";
  // pmxd says READY=1 once the apps of `pmx save` are running again, STOPPING=1 as it stops.
  u += "Type=notify\n";
  u += "NotifyAccess=main\n";
  u += "User=" + user + "\n";
  u += "Environment=PMX_HOME=" + pmx_home + "\n";
  u += "Environment=PATH=" + path_env + "\n";
  u += "LimitNOFILE=1048576\n";
  u += "ExecStart=" + pmxd + " --foreground --resurrect\n";
  u += "ExecReload=" + pmx + " reload all\n";
  // SIGTERM to pmxd alone: it stops every app gracefully (each app's kill_timeout) and exits.
  // When pmxd alone dies, its apps live on and the next pmxd adopts them.
  u += "KillMode=process\n";
  u += "TimeoutStopSec=120s\n";
  // pmxd makes a cgroup per app instance under its own.
  u += "Delegate=yes\n";
  u += "Restart=always\n";
  u += "RestartSec=1s\n";
  u += "WatchdogSec=30s\n\n";
  u += "[Install]\n";
  u += "WantedBy=multi-user.target\n";
  return u;
}

int run_startup(const StartupOptions& o) {
  Plan plan;
  if (!plan_for(o, plan)) return kUsage;
  const char* path = std::getenv("PATH");
  const std::string unit = startup_unit(plan.account.name, plan.pmx_home, config::real_path(daemon_binary()), pmx_path(),
                                        path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
  const std::vector<std::vector<std::string>> commands = {{"daemon-reload"}, {"enable", plan.service}};
  if (o.dry_run || ::geteuid() != 0) {
    if (!o.dry_run) std::cerr << "pmx: startup: writing " << plan.unit_path << " needs root; here is what it would do\n";
    std::cout << "# " << plan.unit_path << "\n" << unit << "\n# then:\n";
    for (const auto& c : commands) {
      std::cout << "systemctl";
      for (const auto& a : c) std::cout << " " << a;
      std::cout << "\n";
    }
    if (!o.dry_run) {
      std::cout << "# or, as root: pmx startup systemd -u " << plan.account.name << " --hp " << plan.account.home << "\n";
      return kFailed;
    }
    return kOk;
  }
  const std::string tmp = plan.unit_path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << unit;
    out.close();
    if (!out || ::rename(tmp.c_str(), plan.unit_path.c_str()) != 0) {
      std::cerr << "pmx: startup: cannot write " << plan.unit_path << ": " << std::strerror(errno) << "\n";
      ::unlink(tmp.c_str());
      return kFailed;
    }
  }
  std::cout << "wrote " << plan.unit_path << "\n";
  bool ok = true;
  for (const auto& c : commands) ok = systemctl(c) && ok;
  if (!ok) {
    std::cerr << "pmx: startup: systemctl failed; the unit is written, run the commands above once systemd runs\n";
    return kFailed;
  }
  std::cout << "pmxd starts at boot as " << plan.service << ".service with the apps of `pmx save` (PMX_HOME="
            << plan.pmx_home << "); start it now with: systemctl start " << plan.service << "\n";
  return kOk;
}

int run_unstartup(const StartupOptions& o) {
  Plan plan;
  if (!plan_for(o, plan)) return kUsage;
  if (o.dry_run || ::geteuid() != 0) {
    if (!o.dry_run) std::cerr << "pmx: unstartup: removing " << plan.unit_path << " needs root; run:\n";
    std::cout << "systemctl disable " << plan.service << "\nrm " << plan.unit_path << "\nsystemctl daemon-reload\n";
    return o.dry_run ? kOk : kFailed;
  }
  if (::access(plan.unit_path.c_str(), F_OK) != 0) {
    std::cerr << "pmx: unstartup: " << plan.unit_path << " does not exist (pmx startup writes it)\n";
    return kFailed;
  }
  bool ok = systemctl({"disable", plan.service});
  if (::unlink(plan.unit_path.c_str()) != 0) {
    std::cerr << "pmx: unstartup: cannot remove " << plan.unit_path << ": " << std::strerror(errno) << "\n";
    return kFailed;
  }
  std::cout << "removed " << plan.unit_path << "\n";
  ok = systemctl({"daemon-reload"}) && ok;
  return ok ? kOk : kFailed;
}

}  // namespace pmx::cli
