// The files root pmxd writes for an app that runs as another user (its log and pid files, the
// rotated and compressed logs, the tail `pmx logs` reads): an app that plants a link, a FIFO or
// a folder of its own where those files go can make pmxd neither write nor show a file it could
// not touch itself, nor freeze pmxd. Each attack is made by the app, running as uid 4242 (no
// passwd entry) in a folder it owns, against a root-only decoy file the test makes.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;

namespace {

constexpr uid_t kAttackerUid = 4242;
const std::string kDecoyText = "root:x:0:0:decoy of a root-only file:/root:/bin/sh\n";

/// The stage of an attack: a world-readable folder holding L, the app's own folder (uid 4242,
/// 0755), and a root-only folder (0700) with the decoy (0600). Declared before the Session.
struct AttackStage {
  SharedFolder shared;
  std::string app_dir;
  std::string vault;
  std::string decoy;
  bool ready = false;

  AttackStage() {
    if (::geteuid() != 0) {
      WARN("not root: pmxd cannot start apps as uid 4242, skipped");
      return;
    }
    app_dir = shared.folder_of("L", kAttackerUid, kAttackerUid);
    vault = shared.folder_of("vault", 0, 0, 0700);
    decoy = vault + "/passwd";
    std::ofstream(decoy) << kDecoyText;
    REQUIRE(::chmod(decoy.c_str(), 0600) == 0);
    if (!accessible_by(kAttackerUid, kAttackerUid, app_dir, W_OK | X_OK)) {
      WARN("uid 4242 cannot write " << app_dir << " (a private folder above it?): skipped");
      return;
    }
    ready = true;
  }
  std::string in_app_dir(const std::string& name) const { return app_dir + "/" + name; }
  bool decoy_intact() const { return read_file(decoy).value_or("") == kDecoyText; }
};

/// `pmx start` of a shell script run by uid 4242 in its folder, with options before the "--".
std::vector<std::string> attacker(const AttackStage& stage, const std::string& name, const std::string& script,
                                  const std::vector<std::string>& options) {
  std::vector<std::string> args = {"start", "/bin/sh", "--name", name, "--uid", std::to_string(kAttackerUid),
                                   "--cwd", stage.app_dir, "--kill-timeout", "500"};
  args.insert(args.end(), options.begin(), options.end());
  args.insert(args.end(), {"--", "-c", script});
  return args;
}

bool is_symlink(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
}

bool is_regular(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

TEST_CASE("an app that replaces its pid file with a link cannot make pmxd overwrite the target",
          "[integration][app_files][regression]") {
  AttackStage stage;
  if (!stage.ready) return;
  Session s;
  // The first run plants the link where its environment says its pid file is (pm_pid_path:
  // "app.pid" becomes "app-<id>.pid"); the runs after it only sleep.
  const std::string script = "if [ -e planted ]; then exec sleep 1000; fi; rm -f \"$pm_pid_path\"; ln -s " +
                             stage.decoy + " \"$pm_pid_path\"; touch planted; exec sleep 1000";
  REQUIRE_EXIT(s.pmx(attacker(stage, "evilpid", script, {"--pid", stage.in_app_dir("app.pid")})), 0);
  const pid_t first = s.wait_pid("evilpid");
  REQUIRE(first > 0);
  const std::string pid_file = s.app("evilpid")["pm2_env"]["pm_pid_path"].get<std::string>();
  REQUIRE(pid_file.rfind(stage.app_dir + "/", 0) == 0);
  REQUIRE(wait_until([&] { return file_exists(stage.in_app_dir("planted")); }, 10s));
  REQUIRE(is_symlink(pid_file));

  // Every spawn writes the pid file: the link is replaced by a file, its target left alone.
  REQUIRE_EXIT(s.pmx({"restart", "evilpid"}), 0);
  pid_t second = 0;
  REQUIRE(wait_until([&] {
    second = s.app("evilpid")["pid"].get<pid_t>();
    return second > 0 && second != first;
  }, 10s));
  s.track(second);
  CHECK(stage.decoy_intact());
  CHECK(is_regular(pid_file));
  CHECK(read_file(pid_file).value_or("") == std::to_string(second) + "\n");
}
