// Tests of cli/deploy_script.hpp: the scripts pmx deploy sends to hosts, run here by /bin/sh
// against a local repository (no ssh), and the ssh command line.
#include "cli/deploy_script.hpp"

#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "tests/unit/temp_dir.hpp"

namespace pmx::cli {
namespace {

/// Runs script with /bin/sh -s as ssh would run it on the host; its exit code and output.
std::pair<int, std::string> run_script(const std::string& script, const std::string& folder) {
  const std::string file = folder + "/script.sh";
  std::ofstream(file) << script;
  const std::string command = "/bin/sh -s < '" + file + "' 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  std::string out;
  char buf[4096];
  while (const std::size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

config::DeployTarget target_in(const std::string& root) {
  config::DeployTarget t;
  t.env = "production";
  t.hosts = {"h"};
  t.repo = root + "/repo with blanks";
  t.path = root + "/srv/it's here";  // a quote and blanks: everything is quoted
  t.ref = "origin/main";
  t.hooks["post-deploy"] = "echo \"post in $(pwd) shared=$SHARED greeting=$GREETING\"";
  t.env_vars = {{"GREETING", "it's me"}};
  return t;
}

TEST_CASE("shell_quote makes any text one word, quotes included", "[deploy]") {
  CHECK(shell_quote("plain") == "'plain'");
  CHECK(shell_quote("it's") == "'it'\\''s'");
  CHECK(shell_quote("") == "''");
  CHECK(branch_of("origin/main") == "main");
  CHECK(branch_of("v1.2") == "v1.2");
}

TEST_CASE("the setup and deploy scripts build PM2's layout and run the hooks there, paths with quotes and blanks",
          "[deploy]") {
  test::TempDir dir;
  const std::string root = dir.path;
  const config::DeployTarget t = target_in(root);
  REQUIRE(run_script("set -e; git init -q -b main '" + t.repo + "'; cd '" + t.repo +
                         "'; git -c user.name=t -c user.email=t@t commit -q --allow-empty -m one", root).first == 0);

  DeployRequest setup;
  setup.action = DeployAction::Setup;
  auto [setup_code, setup_out] = run_script(remote_script(t, setup), root);
  INFO(setup_out);
  REQUIRE(setup_code == 0);
  CHECK(std::ifstream(t.path + "/source/.git/HEAD").good());
  CHECK(std::ifstream(t.path + "/current/.git/HEAD").good());

  DeployRequest update;
  update.ref = t.ref;
  auto [code, out] = run_script(remote_script(t, update), root);
  INFO(out);
  REQUIRE(code == 0);
  CHECK_THAT(out, Catch::Contains("post in " + t.path + "/current shared=" + t.path + "/shared greeting=it's me"));
  std::ifstream deploys(t.path + "/.deploys");
  std::string line;
  REQUIRE(std::getline(deploys, line));
  CHECK(line.size() == 40);  // one commit per line, as PM2 writes it

  // A hook that reads its input gets nothing: the rest of the script is not its input.
  config::DeployTarget reader = t;
  reader.hooks["post-deploy"] = "cat; echo read-done";
  auto [reader_code, reader_out] = run_script(remote_script(reader, update), root);
  CHECK(reader_code == 0);
  CHECK_THAT(reader_out, Catch::Contains("read-done"));
  CHECK_THAT(reader_out, Catch::Contains("--> deployed origin/main"));

  // A failing hook ends the script with its own exit code, naming it.
  config::DeployTarget failing = t;
  failing.hooks["pre-deploy"] = "exit 9";
  auto [fail_code, fail_out] = run_script(remote_script(failing, update), root);
  CHECK(fail_code == 9);
  CHECK_THAT(fail_out, Catch::Contains("the pre-deploy hook failed (exit 9)"));

  // revert beyond the recorded deploys is refused; list numbers them from the newest.
  DeployRequest revert;
  revert.action = DeployAction::Revert;
  revert.revert = 5;
  auto [revert_code, revert_out] = run_script(remote_script(t, revert), root);
  CHECK(revert_code == 1);
  CHECK_THAT(revert_out, Catch::Contains("records fewer than 6 deploys"));
  DeployRequest list;
  list.action = DeployAction::List;
  auto [list_code, list_out] = run_script(remote_script(t, list), root);
  CHECK(list_code == 0);
  CHECK_THAT(list_out, Catch::StartsWith("0\t" + line));
}

TEST_CASE("ssh_argv passes each option, the agent, port, key and user as PM2 does", "[deploy]") {
  config::DeployTarget t;
  t.user = "deploy";
  t.port = "2222";
  t.key = "/k";
  t.forward_agent = true;
  t.ssh_options = {"StrictHostKeyChecking=no", "ConnectTimeout 5"};
  CHECK(ssh_argv(t, "web1") == std::vector<std::string>{"ssh", "-o", "StrictHostKeyChecking=no", "-o", "ConnectTimeout 5",
                                                        "-A", "-p", "2222", "-i", "/k", "deploy@web1", "/bin/sh -s"});
  CHECK(ssh_argv(config::DeployTarget{}, "web2") == std::vector<std::string>{"ssh", "web2", "/bin/sh -s"});
}

}  // namespace
}  // namespace pmx::cli
