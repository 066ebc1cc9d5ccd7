// The files root pmxd writes for an app that runs as another user (its log and pid files, the
// rotated and compressed logs, the tail `pmx logs` reads): an app that plants a link, a FIFO or
// a folder of its own where those files go can make pmxd neither write nor show a file it could
// not touch itself, nor freeze pmxd. Each attack is made by the app, running as uid 4242 (no
// passwd entry) in a folder it owns, against a root-only decoy file the test makes; the attacks
// on the log file, the pid file and with a FIFO run a second time as a real user that useradd
// makes for the test (ThrowawayUser), from its own home folder.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <ostream>
#include <fstream>
#include <string>
#include <vector>

#include "tests/integration/harness.hpp"
#include "tests/integration/throwaway_user.hpp"

using namespace pmx::itest;

namespace {

constexpr uid_t kAttackerUid = 4242;
const std::string kDecoyText = "root:x:0:0:decoy of a root-only file:/root:/bin/sh\n";

/// Who attacks: uid 4242 (no passwd entry), or a real user made for the test.
enum class Attacker { Uid4242, RealUser };

std::ostream& operator<<(std::ostream& os, Attacker a) {
  return os << (a == Attacker::Uid4242 ? "uid 4242 (no passwd entry)" : "a real user made by useradd");
}

/// The stage of an attack: a world-readable folder, the app's own folder (uid 4242's folder L,
/// 0755, in it; or the real user's home), and a root-only folder (0700) with the decoy (0600).
/// Declared before the Session, so that the user outlives its apps.
struct AttackStage {
  SharedFolder shared;
  std::unique_ptr<ThrowawayUser> user;
  std::string uid_arg;  ///< what `--uid` names: 4242, or the user's name
  std::string app_dir;
  std::string vault;
  std::string decoy;
  bool ready = false;

  explicit AttackStage(Attacker who = Attacker::Uid4242) {
    if (::geteuid() != 0) {
      WARN("not root: pmxd cannot start apps as another user, skipped");
      return;
    }
    uid_t uid = kAttackerUid;
    gid_t gid = kAttackerUid;
    if (who == Attacker::RealUser) {
      user = std::make_unique<ThrowawayUser>();
      if (!user->ready()) return;  // ThrowawayUser said why
      uid_arg = user->name();
      app_dir = user->home();
      uid = user->uid();
      gid = user->gid();
    } else {
      uid_arg = std::to_string(kAttackerUid);
      app_dir = shared.folder_of("L", kAttackerUid, kAttackerUid);
    }
    vault = shared.folder_of("vault", 0, 0, 0700);
    decoy = vault + "/passwd";
    std::ofstream(decoy) << kDecoyText;
    REQUIRE(::chmod(decoy.c_str(), 0600) == 0);
    if (!accessible_by(uid, gid, app_dir, W_OK | X_OK)) {
      WARN(who << " cannot write " << app_dir << " (a private folder above it?): skipped");
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
  std::vector<std::string> args = {"start", "/bin/sh", "--name", name, "--uid", stage.uid_arg,
                                   "--cwd", stage.app_dir, "--kill-timeout", "500"};
  args.insert(args.end(), options.begin(), options.end());
  args.insert(args.end(), {"--", "-c", script});
  return args;
}

/// A shell loop that prints "evil <n>" lines for ever.
const std::string kEvilLoop = "i=0; while :; do echo \"evil $i\"; i=$((i+1)); sleep 0.02; done";

/// The file where pmxd puts the lines of a refused log path (docs/security.md).
std::string fallback_of(const Session& s, const std::string& path) {
  std::string name;
  for (char c : path) name += c == '/' ? std::string("%2F") : std::string(1, c);
  return s.home.path() + "/logs/refused/" + name;
}

bool has_line(const std::string& path, const std::string& line) {
  for (const auto& l : read_lines(path)) {
    if (l == line) return true;
  }
  return false;
}

bool is_symlink(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
}

bool is_regular(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::size_t lines_mentioning(const std::string& path, const std::string& a, const std::string& b) {
  std::size_t n = 0;
  for (const auto& l : read_lines(path)) n += mentions(l, a) && mentions(l, b);
  return n;
}

}  // namespace

TEST_CASE("an app that replaces its log file with a link to a root-only file cannot make pmxd append to it",
          "[integration][app_files][regression]") {
  const Attacker who = GENERATE(Attacker::Uid4242, Attacker::RealUser);
  INFO("attacker: " << who);
  AttackStage stage(who);
  if (!stage.ready) return;
  Session s;
  const std::string out = stage.in_app_dir("out.log");
  const std::string script = "echo before; while [ ! -e go ]; do sleep 0.02; done; rm -f out.log; ln -s " +
                             stage.decoy + " out.log; touch planted; " + kEvilLoop;
  REQUIRE_EXIT(s.pmx(attacker(stage, "evil", script, {"--output", out, "--error", stage.in_app_dir("err.log")})), 0);
  const pid_t pid = s.wait_pid("evil");
  REQUIRE(pid > 0);
  s.track(pid);
  REQUIRE(wait_until([&] { return has_line(out, "before"); }, 10s));
  std::ofstream(stage.in_app_dir("go")) << "";
  REQUIRE(wait_until([&] { return file_exists(stage.in_app_dir("planted")); }, 10s));

  // The path is refused; the app's lines go to the fallback in pmx's own folder.
  const std::string fallback = fallback_of(s, out);
  REQUIRE(wait_until([&] { return has_line(fallback, "evil 20"); }, 10s));
  CHECK(stage.decoy_intact());
  CHECK(is_symlink(out));  // left as the app made it
  // Still refused after pmxd tried the path again (once a second): logged once, the app untouched.
  REQUIRE(wait_until([&] { return has_line(fallback, "evil 150"); }, 15s));
  CHECK(stage.decoy_intact());
  CHECK(lines_mentioning(s.home.daemon_log(), out, "refused") == 1);
  const json app = s.app("evil");
  CHECK(app["pid"] == pid);
  CHECK(app["pm2_env"]["status"] == "online");
  CHECK(app["pm2_env"]["restart_time"] == 0);
  const std::string log_error = app["pm2_env"]["log_error"].is_string() ? app["pm2_env"]["log_error"].get<std::string>() : "";
  CHECK(mentions(log_error, "symbolic link"));
  CHECK(mentions(log_error, fallback));
  // `pmx logs` shows the app's lines from where they went, and nothing of the decoy.
  auto tail = s.pmx({"logs", "evil", "--out", "--nostream", "--raw", "--lines", "5"});
  CHECK_EXIT(tail, 0);
  CHECK(mentions(tail.out, "evil "));
  CHECK_FALSE(mentions(tail.out, "decoy"));
}

TEST_CASE("an app that replaces its log folder with a link cannot make pmxd create files through it",
          "[integration][app_files][regression]") {
  AttackStage stage;
  if (!stage.ready) return;
  Session s;
  const std::string out = stage.in_app_dir("logs/out.log");  // logs/ is made by pmxd
  const std::string script = "echo before; while [ ! -e go ]; do sleep 0.02; done; mv logs logs.old; ln -s " +
                             stage.vault + " logs; touch planted; " + kEvilLoop;
  REQUIRE_EXIT(s.pmx(attacker(stage, "evil", script, {"--output", out, "--error", stage.in_app_dir("err.log")})), 0);
  const pid_t pid = s.wait_pid("evil");
  REQUIRE(pid > 0);
  s.track(pid);
  REQUIRE(wait_until([&] { return has_line(out, "before"); }, 10s));
  std::ofstream(stage.in_app_dir("go")) << "";
  REQUIRE(wait_until([&] { return file_exists(stage.in_app_dir("planted")); }, 10s));

  // The lines before pmxd walked the path again (within a second) are in the moved folder.
  auto evil_lines = [&] {
    for (const auto& l : read_lines(fallback_of(s, out))) {
      if (l.rfind("evil ", 0) == 0) return true;
    }
    return false;
  };
  REQUIRE(wait_until(evil_lines, 10s));
  CHECK_FALSE(file_exists(stage.vault + "/out.log"));
  CHECK(has_line(stage.in_app_dir("logs.old/out.log"), "before"));
  CHECK(s.status("evil") == "online");
}

TEST_CASE("an app that replaces its pid file with a link cannot make pmxd overwrite the target",
          "[integration][app_files][regression]") {
  const Attacker who = GENERATE(Attacker::Uid4242, Attacker::RealUser);
  INFO("attacker: " << who);
  AttackStage stage(who);
  if (!stage.ready) return;
  Session s;
  // The first run plants the link where its environment says its pid file is (pm_pid_path:
  // "app.pid" becomes "app-<id>.pid"), once pmxd has written it; the runs after it only sleep.
  const std::string script = "if [ -e planted ]; then exec sleep 1000; fi; "
                             "while [ ! -e \"$pm_pid_path\" ]; do sleep 0.02; done; rm -f \"$pm_pid_path\"; ln -s " +
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

TEST_CASE("links an app plants at the names of compressed rotations are never written through",
          "[integration][app_files][regression]") {
  AttackStage stage;
  if (!stage.ready) return;
  // The app that plants thousands of links is a Python script, run by the system's python3
  // (one in root's PATH may be in a folder uid 4242 cannot reach).
  const std::string python = "/usr/bin/python3";
  if (!accessible_by(kAttackerUid, kAttackerUid, python, X_OK)) {
    WARN("uid 4242 cannot run " << python << ": skipped");
    return;
  }
  Session s;
  // The rotated names are predictable to the millisecond: the app links every name of the next
  // seconds' rotations ("<rotated>.gz.tmp") to the decoy, then writes enough to rotate often.
  const std::string script = stage.in_app_dir("evil.py");
  std::ofstream(script) << "import os, sys, time\n"
                           "decoy = sys.argv[1]\n"
                           "now = int(time.time() * 1000)\n"
                           "for ms in range(now - 1000, now + 8000):\n"
                           "    stamp = time.strftime('%Y-%m-%d_%H-%M-%S', time.gmtime(ms // 1000)) + '-%03d' % (ms % 1000)\n"
                           "    for name in ('out__%s.log.gz.tmp' % stamp,):\n"
                           "        try:\n"
                           "            os.symlink(decoy, name)\n"
                           "        except FileExistsError:\n"
                           "            pass\n"
                           "open('planted', 'w').close()\n"
                           "for i in range(200):\n"
                           "    print('line %d %s' % (i, 'x' * 50), flush=True)\n"
                           "time.sleep(1000)\n";
  const std::string out = stage.in_app_dir("out.log");
  REQUIRE_EXIT(s.pmx({"start", script, "--name", "evilgz", "--interpreter", python, "--uid", std::to_string(kAttackerUid), "--cwd",
                      stage.app_dir, "--output", out, "--error", stage.in_app_dir("err.log"), "--log-max-size", "1K",
                      "--log-compress", "--kill-timeout", "500", "--", stage.decoy}),
               0);
  const pid_t pid = s.wait_pid("evilgz");
  REQUIRE(pid > 0);
  s.track(pid);
  REQUIRE(wait_until([&] { return file_exists(stage.in_app_dir("planted")); }, 20s));
  // Several rotations compressed, none left to compress.
  auto compressed = [&] {
    std::size_t gz = 0;
    for (const auto& entry : std::filesystem::directory_iterator(stage.app_dir)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind("out__", 0) != 0) continue;
      if (name.ends_with(".log")) return std::size_t{0};
      if (name.ends_with(".log.gz") && is_regular(entry.path().string())) ++gz;
    }
    return gz;
  };
  REQUIRE(wait_until([&] { return compressed() >= 3 && has_line(out, "line 199 " + std::string(50, 'x')); }, 20s));
  CHECK(stage.decoy_intact());
  for (const auto& entry : std::filesystem::directory_iterator(stage.app_dir)) {
    const std::string name = entry.path().filename().string();
    if (!name.ends_with(".log.gz")) continue;
    INFO(name);
    CHECK(read_file(entry.path().string()).value_or("").rfind("\x1f\x8b", 0) == 0);  // gzip's magic
  }
}

TEST_CASE("an app that turns its log file into a FIFO does not freeze pmxd", "[integration][app_files][regression]") {
  const Attacker who = GENERATE(Attacker::Uid4242, Attacker::RealUser);
  INFO("attacker: " << who);
  AttackStage stage(who);
  if (!stage.ready) return;
  Session s;
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "bystander", "--kill-timeout", "500"}), 0);
  const pid_t bystander = s.wait_pid("bystander");
  REQUIRE(bystander > 0);
  s.track(bystander);
  const std::string out = stage.in_app_dir("out.log");
  const std::string script = "echo before; while [ ! -e go ]; do sleep 0.02; done; rm -f out.log; mkfifo out.log; "
                             "touch planted; " + kEvilLoop;
  REQUIRE_EXIT(s.pmx(attacker(stage, "evilfifo", script, {"--output", out, "--error", stage.in_app_dir("err.log")})), 0);
  const pid_t pid = s.wait_pid("evilfifo");
  REQUIRE(pid > 0);
  s.track(pid);
  REQUIRE(wait_until([&] { return has_line(out, "before"); }, 10s));
  std::ofstream(stage.in_app_dir("go")) << "";
  REQUIRE(wait_until([&] { return file_exists(stage.in_app_dir("planted")); }, 10s));

  // pmxd met the FIFO (its lines go to the fallback), and keeps serving: list, restart, tail.
  CHECK(wait_until([&] { return has_line(fallback_of(s, out), "evil 20"); }, 10s));
  RunOptions quick;
  quick.timeout = 5s;
  CHECK_EXIT(s.pmx({"list"}, quick), 0);
  CHECK_EXIT(s.pmx({"restart", "bystander"}, quick), 0);
  CHECK(wait_until([&] {
    const json b = s.app("bystander");
    return b["pid"].get<pid_t>() != bystander && b["pm2_env"]["status"] == "online";
  }, 10s));
  s.track(s.app("bystander")["pid"].get<pid_t>());
  CHECK_EXIT(s.pmx({"logs", "evilfifo", "--nostream", "--lines", "3"}, quick), 0);
  CHECK(s.status("evilfifo") == "online");
}

TEST_CASE("the tail of pmx logs never shows a root-only file an app linked its log to",
          "[integration][app_files][regression]") {
  AttackStage stage;
  if (!stage.ready) return;
  Session s;
  const std::string err = stage.in_app_dir("err.log");
  // The app writes one line to stderr, then links err.log to the decoy and writes no more there:
  // pmxd's writer has no reason to look at the file again, only the tail reads it.
  const std::string script = "echo oops >&2; while [ ! -e go ]; do sleep 0.02; done; rm -f err.log; ln -s " +
                             stage.decoy + " err.log; touch planted; exec sleep 1000";
  REQUIRE_EXIT(s.pmx(attacker(stage, "evilerr", script, {"--output", stage.in_app_dir("out.log"), "--error", err})), 0);
  const pid_t pid = s.wait_pid("evilerr");
  REQUIRE(pid > 0);
  s.track(pid);
  REQUIRE(wait_until([&] { return has_line(err, "oops"); }, 10s));
  std::ofstream(stage.in_app_dir("go")) << "";
  REQUIRE(wait_until([&] { return file_exists(stage.in_app_dir("planted")); }, 10s));

  auto tail = s.pmx({"logs", "evilerr", "--err", "--nostream", "--raw", "--lines", "20"});
  CHECK_EXIT(tail, 0);
  CHECK_FALSE(mentions(tail.out, "decoy"));
  CHECK(mentions(tail.out, "oops"));  // what pmxd wrote, from the file it wrote it to
  CHECK(stage.decoy_intact());
}
