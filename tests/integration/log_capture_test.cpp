// capture: unterminated lines shown at once, the combined log_file, flush, reloadLogs
// and SIGUSR2, a removed log file made anew, a full disk counted and recovered from.
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <fstream>

#include "harness.hpp"

using namespace pmx::itest;

namespace {

/// A shell app that prints what `steps` says, waiting between steps for trigger files:
/// "printf a; wait t1; printf b" is written as {"printf a", "t1", "printf b"} (every other
/// entry a trigger name in the scratch folder).
std::vector<std::string> shell_app(const Session& s, const std::string& name, const std::vector<std::string>& steps) {
  std::string script;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (i % 2 == 0) {
      script += steps[i] + "; ";
    } else {
      script += "while [ ! -e '" + s.home.scratch(steps[i]) + "' ]; do sleep 0.02; done; ";
    }
  }
  script += "exec sleep 1000";
  return {"start", "/bin/sh", "--name", name, "--kill-timeout", "500", "--", "-c", script};
}

void touch(const std::string& path) { std::ofstream{path} << ""; }

bool file_is(const std::string& path, const std::string& content) { return read_file(path).value_or("\x01") == content; }

}  // namespace

TEST_CASE("an unterminated line is written at once and its end follows on the same line",
          "[integration]") {
  Session s;
  REQUIRE_EXIT(s.pmx(shell_app(s, "progress", {"printf 'progress 10%%...'", "go", "printf ' done\\n'"})), 0);
  const std::string out = s.home.path() + "/logs/progress-out.log";
  CHECK(wait_until([&] { return file_is(out, "progress 10%..."); }, 5s));
  touch(s.home.scratch("go"));
  CHECK(wait_until([&] { return file_is(out, "progress 10%... done\n"); }, 5s));
}

TEST_CASE("a line left unterminated when the app stops is ended", "[integration]") {
  Session s;
  REQUIRE_EXIT(s.pmx(shell_app(s, "half", {"printf 'no newline'"})), 0);
  const std::string out = s.home.path() + "/logs/half-out.log";
  REQUIRE(wait_until([&] { return file_is(out, "no newline"); }, 5s));
  REQUIRE_EXIT(s.pmx({"stop", "half"}), 0);
  CHECK(wait_until([&] { return file_is(out, "no newline\n"); }, 5s));
}

TEST_CASE("log_file (-l) combines stdout and stderr, out and err keep their own files",
          "[integration]") {
  Session s;
  const std::string combined = s.home.scratch("all.log");
  auto args = shell_app(s, "both", {"echo one; echo two >&2; echo three"});
  args.insert(args.begin() + 2, {"-l", combined});
  REQUIRE_EXIT(s.pmx(args), 0);
  CHECK(wait_until([&] { return read_lines(combined).size() == 3; }, 5s));
  const auto lines = read_lines(combined);
  CHECK(std::count(lines.begin(), lines.end(), "two") == 1);
  CHECK(read_lines(s.home.path() + "/logs/both-out.log") == std::vector<std::string>{"one", "three"});
  CHECK(read_lines(s.home.path() + "/logs/both-error.log") == std::vector<std::string>{"two"});
  CHECK(s.app("both")["pm2_env"].value("pm_log_path", "") == combined);
}

TEST_CASE("flush empties the target's files, names them, and writing goes on",
          "[integration]") {
  Session s;
  REQUIRE_EXIT(s.pmx(shell_app(s, "chatty", {"echo before; echo before-err >&2", "go", "echo after"})), 0);
  REQUIRE_EXIT(s.pmx(shell_app(s, "other", {"echo keep"})), 0);
  const std::string out = s.home.path() + "/logs/chatty-out.log";
  const std::string err = s.home.path() + "/logs/chatty-error.log";
  const std::string other = s.home.path() + "/logs/other-out.log";
  REQUIRE(wait_until([&] { return file_is(out, "before\n") && file_is(err, "before-err\n") && file_is(other, "keep\n"); }, 5s));
  const RunResult flushed = s.pmx({"flush", "chatty"});
  REQUIRE_EXIT(flushed, 0);
  CHECK(flushed.out.find("flushed " + out) != std::string::npos);
  CHECK(flushed.out.find("flushed " + err) != std::string::npos);
  CHECK(file_is(out, ""));
  CHECK(file_is(err, ""));
  CHECK(file_is(other, "keep\n"));
  touch(s.home.scratch("go"));
  CHECK(wait_until([&] { return file_is(out, "after\n"); }, 5s));
}

TEST_CASE("a removed log file is made anew at the next line", "[integration]") {
  Session s;
  REQUIRE_EXIT(s.pmx(shell_app(s, "victim", {"echo first", "go", "echo second"})), 0);
  const std::string out = s.home.path() + "/logs/victim-out.log";
  REQUIRE(wait_until([&] { return file_is(out, "first\n"); }, 5s));
  REQUIRE(::unlink(out.c_str()) == 0);
  touch(s.home.scratch("go"));
  CHECK(wait_until([&] { return file_is(out, "second\n"); }, 5s));
}

TEST_CASE("reloadLogs and SIGUSR2 reopen the files an external logrotate moved away",
          "[integration]") {
  Session s;
  REQUIRE_EXIT(s.pmx(shell_app(s, "rotated", {"echo one", "go1", "echo two", "go2", "echo three"})), 0);
  const std::string out = s.home.path() + "/logs/rotated-out.log";
  REQUIRE(wait_until([&] { return file_is(out, "one\n"); }, 5s));
  // logrotate's `create`: move the file, make an empty one, tell the daemon.
  REQUIRE(::rename(out.c_str(), (out + ".1").c_str()) == 0);
  touch(out);
  const RunResult reload = s.pmx({"reloadLogs"});
  REQUIRE_EXIT(reload, 0);
  CHECK(reload.out.find("reopened") != std::string::npos);
  touch(s.home.scratch("go1"));
  CHECK(wait_until([&] { return file_is(out, "two\n"); }, 5s));
  CHECK(file_is(out + ".1", "one\n"));
  REQUIRE(::rename(out.c_str(), (out + ".2").c_str()) == 0);
  touch(out);
  REQUIRE(::kill(s.daemon.pid(), SIGUSR2) == 0);
  REQUIRE(wait_until([&] { return read_file(s.home.daemon_log()).value_or("").find("received SIGUSR2") != std::string::npos; }, 5s));
  touch(s.home.scratch("go2"));
  CHECK(wait_until([&] { return file_is(out, "three\n"); }, 5s));
  CHECK(file_is(out + ".2", "two\n"));
  CHECK(s.daemon.pid() > 0);
  CHECK_EXIT(s.pmx({"ping"}), 0);
}

TEST_CASE("a full disk drops and counts output, logs it once, and writing resumes",
          "[integration]") {
  if (::geteuid() != 0) {
    WARN("not root: cannot mount a small tmpfs, skipped");
    return;
  }
  Session s;
  const std::string mnt = s.home.scratch("small");
  ::mkdir(mnt.c_str(), 0755);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=64k") != 0) {
    WARN("cannot mount a tmpfs here, skipped");
    return;
  }
  struct Unmount {
    std::string dir;
    ~Unmount() { ::umount2(dir.c_str(), MNT_DETACH); }
  } unmount{mnt};
  const std::string filler = mnt + "/filler";
  const std::string out = mnt + "/app-out.log";
  // 4000 lines of 40 bytes: more than the 64 KiB the disk holds.
  auto args = shell_app(s, "flood", {"i=0; while [ $i -lt 4000 ]; do echo \"line $i ....................................\"; i=$((i+1)); done",
                                     "go", "echo back"});
  args.insert(args.begin() + 2, {"-o", out});
  REQUIRE_EXIT(s.pmx(args), 0);
  auto dropped = [&] { return s.app("flood")["pm2_env"].value("log_dropped_bytes", 0ULL); };
  CHECK(wait_until([&] { return dropped() > 0; }, 10s));
  const json env = s.app("flood")["pm2_env"];
  CHECK(env.value("log_error", json()).is_string());
  CHECK(s.status("flood") == "online");
  // Room again: the next line is written, and the recovery is logged.
  REQUIRE(::truncate(out.c_str(), 0) == 0);
  touch(s.home.scratch("go"));
  CHECK(wait_until([&] { return read_file(out).value_or("").find("back\n") != std::string::npos; }, 5s));
  CHECK(wait_until([&] { return read_file(s.home.daemon_log()).value_or("").find("writing again") != std::string::npos; }, 5s));
  const std::string log = read_file(s.home.daemon_log()).value_or("");
  std::size_t episodes = 0;
  for (auto at = log.find("dropping its output"); at != std::string::npos; at = log.find("dropping its output", at + 1)) ++episodes;
  CHECK(episodes == 1);
  (void)filler;
}

TEST_CASE("a 1 MiB line arrives whole, binary bytes as they are", "[integration]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", "/bin/sh", "--name", "wide", "--", "-c",
                      "head -c 1048576 /dev/zero | tr '\\000' x; echo; printf 'a\\001\\377\\000b\\n'; exec sleep 1000"}), 0);
  const std::string out = s.home.path() + "/logs/wide-out.log";
  std::string expected(1048576, 'x');
  expected += '\n';
  expected.append("a\x01\xff\0b\n", 6);
  CHECK(wait_until([&] { return file_is(out, expected); }, 10s));
}

TEST_CASE("an app that closes stdout keeps running and its stderr is still logged, -l without a path",
          "[integration]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", "/bin/sh", "--name", "closer", "-l", "--", "-c",
                      "echo before; exec 1>&-; echo after >&2; exec sleep 1000"}), 0);
  const std::string err = s.home.path() + "/logs/closer-error.log";
  CHECK(wait_until([&] { return file_is(err, "after\n"); }, 5s));
  CHECK(file_is(s.home.path() + "/logs/closer-out.log", "before\n"));
  CHECK(s.status("closer") == "online");
  const std::string combined = s.home.path() + "/logs/closer.log";
  CHECK(s.app("closer")["pm2_env"].value("pm_log_path", "") == combined);
  CHECK(wait_until([&] { return read_lines(combined).size() == 2; }, 5s));
}

TEST_CASE("stdout and stderr interleaved line by line stay whole in the combined log",
          "[integration]") {
  Session s;
  const std::string combined = s.home.scratch("mixed.log");
  REQUIRE_EXIT(s.pmx({"start", "/bin/sh", "--name", "mixed", "-l", combined, "--", "-c",
                      "i=0; while [ $i -lt 2000 ]; do echo \"out $i\"; echo \"err $i\" >&2; i=$((i+1)); done; exec sleep 1000"}), 0);
  CHECK(wait_until([&] { return read_lines(combined).size() == 4000; }, 20s));
  std::size_t next_out = 0, next_err = 0;
  bool in_order = true;
  for (const auto& line : read_lines(combined)) {
    if (line == "out " + std::to_string(next_out)) ++next_out;
    else if (line == "err " + std::to_string(next_err)) ++next_err;
    else in_order = false;
  }
  CHECK(in_order);
  CHECK(next_out == 2000);
  CHECK(next_err == 2000);
}
