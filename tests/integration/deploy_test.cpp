// pmx deploy end to end: a real sshd on 127.0.0.1 (a throwaway host key and user key, on a free
// port, in the foreground), a local bare repository, and the real pmx deploying it in PM2's
// remote layout, with its post-deploy starting the app in the test's own pmxd.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;

namespace {

/// Runs a shell command line for the test's setup (git, ssh-keygen); REQUIREs that it succeeds.
void sh(const std::string& command, const std::string& cwd = "") {
  RunOptions opts;
  opts.cwd = cwd;
  opts.env = {{"GIT_AUTHOR_NAME", "t"}, {"GIT_AUTHOR_EMAIL", "t@example.com"},
              {"GIT_COMMITTER_NAME", "t"}, {"GIT_COMMITTER_EMAIL", "t@example.com"}};
  const RunResult r = run_process({"/bin/sh", "-c", command}, opts);
  INFO(r);
  REQUIRE(r.exit_code == 0);
}

/// An sshd for root on 127.0.0.1:port that accepts one throwaway key, stopped with the test.
struct SshServer {
  std::string dir;
  int port = 0;
  pid_t pid = -1;

  explicit SshServer(const std::string& folder) : dir(folder), port(free_port()) {
    ::mkdir(dir.c_str(), 0700);
    sh("ssh-keygen -q -t ed25519 -N '' -f host_key && ssh-keygen -q -t ed25519 -N '' -f user_key && "
       "cp user_key.pub authorized_keys",
       dir);
    ::mkdir("/run/sshd", 0755);  // sshd's privilege separation folder, made by its service otherwise
    std::ofstream(dir + "/sshd_config") << "Port " << port << "\nListenAddress 127.0.0.1\nHostKey " << dir
                                        << "/host_key\nAuthorizedKeysFile " << dir << "/authorized_keys\n"
                                        << "StrictModes no\nUsePAM no\nPasswordAuthentication no\n"
                                        << "PermitRootLogin prohibit-password\nPidFile none\n";
    pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      const int log = ::open((dir + "/sshd.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      ::dup2(log, 1);
      ::dup2(log, 2);
      ::execl("/usr/sbin/sshd", "/usr/sbin/sshd", "-D", "-e", "-f", (dir + "/sshd_config").c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    const bool listening = wait_until([&] { return !port_is_free(port); }, 10s);
    INFO("sshd: " << read_file(dir + "/sshd.log").value_or(""));
    REQUIRE(listening);
  }
  ~SshServer() {
    ::kill(pid, SIGTERM);
    ::waitpid(pid, nullptr, 0);
  }
  std::string key() const { return dir + "/user_key"; }
};

/// Whether what pmx deploy runs is on this machine, and the test may run sshd (root).
bool can_deploy() {
  for (const char* program : {"/usr/sbin/sshd", "/usr/bin/ssh", "/usr/bin/git", "/usr/bin/ssh-keygen"}) {
    if (::access(program, X_OK) != 0) {
      WARN(program << " is not installed (openssh-server, openssh-client, git): skipped");
      return false;
    }
  }
  if (::geteuid() != 0) {
    WARN("not root: sshd cannot be run for root's login: skipped");
    return false;
  }
  return have_node();
}

/// The ecosystem file of the deployed project: one app (a script that says which version it
/// runs) and a deploy section for hosts, with the test's pmxd named in the env of post-deploy.
std::string ecosystem(const SshServer& ssh, const std::string& hosts, const std::string& repo, const std::string& path,
                      const std::string& pmx_home) {
  return "module.exports = {\n"
         "  apps: [{ name: 'site', script: './server.sh' }],\n"
         "  deploy: {\n"
         "    production: {\n"
         "      user: 'root', host: " + hosts + ", port: " + std::to_string(ssh.port) + ", key: '" + ssh.key() + "',\n"
         "      ssh_options: ['StrictHostKeyChecking=no', 'UserKnownHostsFile=/dev/null', 'BatchMode=yes', 'LogLevel=ERROR'],\n"
         "      ref: 'origin/main', repo: '" + repo + "', path: '" + path + "',\n"
         "      'post-setup': 'echo set up in $SHARED',\n"
         "      'pre-deploy-local': 'echo local before',\n"
         "      'post-deploy': '" + bin::kPmx + " startOrReload ecosystem.config.js',\n"
         "      env: { PMX_HOME: '" + pmx_home + "', GREETING: 'hello there' }\n"
         "    }\n"
         "  }\n"
         "};\n";
}

}  // namespace

TEST_CASE("pmx deploy sets up, deploys, lists and reverts a git repository over ssh in PM2's layout",
          "[integration][deploy][pm2]") {
  if (!can_deploy()) return;
  Session s;
  SshServer ssh(s.home.scratch("ssh"));
  const std::string work = s.home.scratch("work");
  const std::string repo = s.home.scratch("repo.git");
  const std::string path = s.home.scratch("remote/site");
  sh("git init -q -b main " + work);
  std::ofstream(work + "/server.sh") << "#!/bin/sh\necho \"version $(cat version.txt), $GREETING\"\nexec sleep 1000\n";
  std::ofstream(work + "/version.txt") << "1\n";
  std::ofstream(work + "/ecosystem.config.js")
      << ecosystem(ssh, "'127.0.0.1'", repo, path, s.home.path());
  sh("chmod +x server.sh && git add -A && git commit -qm v1 && git clone -q --bare . " + repo +
     " && git remote add origin " + repo + " && git fetch -q origin && git branch -q -u origin/main", work);
  RunOptions in_work;
  in_work.cwd = work;
  in_work.timeout = 60s;
  const auto deploy = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"deploy", "ecosystem.config.js", "production"});
    return s.pmx(args, in_work);
  };

  const RunResult setup = deploy({"setup"});
  INFO(setup);
  REQUIRE(setup.exit_code == 0);
  CHECK(mentions(setup.out, "[127.0.0.1] set up in " + path + "/shared"));
  CHECK(read_file(path + "/source/version.txt") == "1\n");
  char link[512] = {};
  CHECK(std::string(link, static_cast<std::size_t>(std::max<ssize_t>(0, ::readlink((path + "/current").c_str(), link, sizeof link - 1)))) ==
        path + "/source");
  struct stat st{};
  CHECK(::stat((path + "/shared/logs").c_str(), &st) == 0);
  CHECK(::stat((path + "/shared/pids").c_str(), &st) == 0);

  // The first deploy: the app starts in pmxd from the deployed folder, with the deploy's env.
  const RunResult first = deploy({});
  INFO(first);
  REQUIRE(first.exit_code == 0);
  CHECK(mentions(first.out, "[local] local before"));
  CHECK(s.wait_status("site", "online"));
  const std::string log = s.home.path() + "/logs/site-out.log";
  CHECK(wait_until([&] { return mentions(read_file(log).value_or(""), "version 1, hello there"); }, 10s));
  CHECK(read_lines(path + "/.deploys").size() == 1);

  // A change that is not committed, then one not pushed, is refused (--force would deploy it).
  std::ofstream(work + "/version.txt") << "2\n";
  const RunResult dirty = deploy({});
  CHECK(dirty.exit_code == 1);
  CHECK(mentions(dirty.err, "commit or stash your changes"));
  sh("git commit -qam v2", work);
  const RunResult unpushed = deploy({});
  CHECK(unpushed.exit_code == 1);
  CHECK(mentions(unpushed.err, "push your commits"));
  CHECK(read_lines(path + "/.deploys").size() == 1);

  sh("git push -q origin main", work);
  const RunResult second = deploy({});
  INFO(second);
  REQUIRE(second.exit_code == 0);
  CHECK(read_file(path + "/current/version.txt") == "2\n");
  CHECK(wait_until([&] { return mentions(read_file(log).value_or(""), "version 2, hello there"); }, 10s));
  const auto deploys = read_lines(path + "/.deploys");
  REQUIRE(deploys.size() == 2);

  // list: newest first, numbered from 0, as PM2 prints it; curr and prev.
  const RunResult list = deploy({"list"});
  CHECK(list.exit_code == 0);
  CHECK(mentions(list.out, "[127.0.0.1] 0\t" + deploys[1]));
  CHECK(mentions(list.out, "[127.0.0.1] 1\t" + deploys[0]));
  CHECK(mentions(deploy({"curr"}).out, deploys[1].substr(0, 7)));
  CHECK(mentions(deploy({"prev"}).out, deploys[0]));

  // revert 1: back to the first commit, the app reloaded onto it.
  const RunResult revert = deploy({"revert", "1"});
  INFO(revert);
  REQUIRE(revert.exit_code == 0);
  CHECK(read_file(path + "/current/version.txt") == "1\n");
  CHECK(read_lines(path + "/.deploys").size() == 3);
  CHECK(s.status("site") == "online");

  // exec runs in current; its failure is the deploy's exit code.
  const RunResult exec = deploy({"exec", "pwd; exit 7"});
  CHECK(exec.exit_code == 7);
  CHECK(mentions(exec.out, "[127.0.0.1] " + path + "/current"));
}

TEST_CASE("pmx deploy stops at the first host that fails and touches none after it, and bad sections name what is wrong",
          "[integration][deploy]") {
  if (!can_deploy()) return;
  Session s;
  SshServer ssh(s.home.scratch("ssh"));
  const std::string work = s.home.scratch("work");
  ::mkdir(work.c_str(), 0755);
  // Two hosts, the second the same sshd under another name; the repository does not exist.
  std::ofstream(work + "/ecosystem.config.js")
      << ecosystem(ssh, "['127.0.0.1', 'localhost']", s.home.scratch("none.git"), s.home.scratch("remote"), s.home.path());
  RunOptions in_work;
  in_work.cwd = work;
  in_work.timeout = 60s;
  // An update before setup says what to do.
  const RunResult early = s.pmx({"deploy", "ecosystem.config.js", "production", "--force"}, in_work);
  CHECK(early.exit_code == 1);
  CHECK(mentions(early.out, "[127.0.0.1] pmx deploy: " + s.home.scratch("remote") + "/source does not exist: run setup first"));
  // setup fails on the first host (git clone's exit code), and the second is never asked.
  const RunResult failed = s.pmx({"deploy", "ecosystem.config.js", "production", "setup"}, in_work);
  CHECK(failed.exit_code == 128);
  CHECK(mentions(failed.out, "[127.0.0.1] pmx deploy: git clone failed"));
  CHECK(mentions(failed.err, "failed on 127.0.0.1 (exit 128); the hosts after it were not touched"));
  CHECK_FALSE(mentions(failed.out, "[localhost]"));

  // Usage errors: exit 2, naming the file, the environment or the word.
  const RunResult env = s.pmx({"deploy", "ecosystem.config.js", "staging"}, in_work);
  CHECK(env.exit_code == 2);
  CHECK(mentions(env.err, "ecosystem.config.js: deploy: no environment 'staging' (it has: production)"));
  const RunResult action = s.pmx({"deploy", "ecosystem.config.js", "production", "rollback"}, in_work);
  CHECK(action.exit_code == 2);
  CHECK(mentions(action.err, "unknown action 'rollback'"));
  std::ofstream(work + "/bad.yaml") << "deploy:\n  production:\n    host: 127.0.0.1\n    path: /srv/x\n    ref: origin/main\n";
  const RunResult missing = s.pmx({"deploy", "bad.yaml", "production"}, in_work);
  CHECK(missing.exit_code == 2);
  CHECK(mentions(missing.err, "bad.yaml: deploy.production: 'repo' is required"));
}
