// the app list survives `pmx kill` and a reboot. `pmx save` writes dump.pmx
// atomically (a pmxd killed mid-write or a full disk leaves the previous dump valid), `pmx
// resurrect` restores ids, namespaces, environments and stopped apps, falls back to the backup,
// and imports PM2's dump.pm2; pmxd --resurrect speaks systemd's notify protocol; `pmx startup`
// writes a unit that systemd-analyze verify accepts.
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;

namespace {

json by_id(const json& list, int id) {
  for (const auto& e : list)
    if (e.value("pm_id", -1) == id) return e;
  return json();
}

std::string status_of(const json& app) { return app.is_null() ? "" : app["pm2_env"].value("status", ""); }

/// The dump's instances, or -1 when it does not read as a dump.
int dump_size(const std::string& path) {
  auto text = read_file(path);
  if (!text) return -1;
  json doc = json::parse(*text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("apps")) return -1;
  return static_cast<int>(doc["apps"].size());
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

/// A tmpfs of size bytes mounted over path for the scope (the test is skipped where mounting is
/// not allowed).
struct TmpfsMount {
  std::string path;
  bool mounted = false;
  TmpfsMount(const std::string& where, const std::string& size) : path(where) {
    mounted = ::mount("tmpfs", path.c_str(), "tmpfs", 0, ("size=" + size + ",mode=0700").c_str()) == 0;
  }
  ~TmpfsMount() {
    if (mounted) ::umount2(path.c_str(), MNT_DETACH);
  }
};

/// A datagram socket standing in for systemd's NOTIFY_SOCKET.
struct FakeSystemd {
  int fd = -1;
  std::string path;
  explicit FakeSystemd(const std::string& where) : path(where) {
    fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~FakeSystemd() { ::close(fd); }
  /// Datagrams until one holds what, within timeout; every one read is appended to seen.
  bool wait_for(const std::string& what, std::vector<std::string>& seen, milliseconds timeout) {
    return wait_until(
        [&] {
          char buf[4096];
          for (;;) {
            ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            if (n <= 0) return false;
            seen.emplace_back(buf, static_cast<std::size_t>(n));
            if (seen.back().find(what) != std::string::npos) return true;
          }
        },
        timeout);
  }
};

}  // namespace

TEST_CASE("save, kill and resurrect bring back ids, namespaces, environments and stopped apps",
          "[integration]") {
  TempHome home;
  auto daemon = std::make_unique<DaemonProcess>(home);
  RunOptions with_env;
  with_env.env = {{"SAVED_VAR", "from the shell"}};
  REQUIRE_EXIT(run_pmx(home.path(), {"start", bin::kSleeper, "--name", "api", "--namespace", "shop"}, with_env), 0);
  REQUIRE_EXIT(run_pmx(home.path(), {"start", bin::kSleeper, "--name", "idle"}), 0);
  REQUIRE_EXIT(run_pmx(home.path(), {"start", bin::kSleeper, "--name", "gone"}), 0);
  REQUIRE_EXIT(run_pmx(home.path(), {"start", bin::kSleeper, "--name", "pair", "-i", "2"}), 0);
  REQUIRE_EXIT(run_pmx(home.path(), {"stop", "idle"}), 0);
  REQUIRE_EXIT(run_pmx(home.path(), {"delete", "gone"}), 0);  // id 2 is free: ids 3 and 4 must stay
  auto saved = run_pmx(home.path(), {"save"});
  REQUIRE_EXIT(saved, 0);
  CHECK(saved.out.find("saved 4 instance(s)") != std::string::npos);
  CHECK(dump_size(home.path() + "/dump.pmx") == 4);
  daemon->shutdown();  // pmx kill: every app stopped, pmxd gone
  daemon.reset();

  daemon = std::make_unique<DaemonProcess>(home);
  CHECK(jlist_of(home).empty());
  auto back = run_pmx(home.path(), {"resurrect"});
  REQUIRE_EXIT(back, 0);
  CHECK(back.out.find("restored 4 instance(s)") != std::string::npos);
  json list = jlist_of(home);
  REQUIRE(list.size() == 4);
  const json api = by_id(list, 0);
  CHECK(api.value("name", "") == "api");
  CHECK(status_of(api) == "online");
  CHECK(api["pm2_env"].value("namespace", "") == "shop");
  CHECK(api["pm2_env"]["env"].value("SAVED_VAR", "") == "from the shell");
  CHECK(by_id(list, 1).value("name", "") == "idle");
  CHECK(status_of(by_id(list, 1)) == "stopped");
  CHECK(by_id(list, 2).is_null());
  CHECK(by_id(list, 3).value("name", "") == "pair");
  CHECK(by_id(list, 4).value("name", "") == "pair");
  CHECK(status_of(by_id(list, 4)) == "online");

  // Again: everything is here already, nothing starts twice.
  const int api_pid = api.value("pid", 0);
  auto again = run_pmx(home.path(), {"resurrect"});
  REQUIRE_EXIT(again, 0);
  CHECK(again.out.find("'api' is here already") != std::string::npos);
  list = jlist_of(home);
  CHECK(list.size() == 4);
  CHECK(by_id(list, 0).value("pid", 0) == api_pid);
  // A new app takes the next id after the restored ones.
  REQUIRE_EXIT(run_pmx(home.path(), {"start", bin::kSleeper, "--name", "late"}), 0);
  CHECK(by_id(jlist_of(home), 5).value("name", "") == "late");
}

TEST_CASE("an empty list does not replace a saved one without --force, and cleardump empties it",
          "[integration]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "api"}), 0);
  REQUIRE_EXIT(s.pmx({"save"}), 0);
  REQUIRE_EXIT(s.pmx({"delete", "all"}), 0);
  auto refused = s.pmx({"save"});
  REQUIRE_EXIT(refused, 1);
  CHECK(refused.err.find("--force") != std::string::npos);
  CHECK(dump_size(s.home.path() + "/dump.pmx") == 1);
  REQUIRE_EXIT(s.pmx({"save", "--force"}), 0);
  CHECK(dump_size(s.home.path() + "/dump.pmx") == 0);
  CHECK(dump_size(s.home.path() + "/dump.pmx.bak") == 1);
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "api"}), 0);
  REQUIRE_EXIT(s.pmx({"save"}), 0);
  REQUIRE_EXIT(s.pmx({"cleardump"}), 0);
  CHECK(dump_size(s.home.path() + "/dump.pmx") == 0);
  // Nothing saved: resurrect restores nothing and says so.
  auto none = s.pmx({"resurrect"});
  REQUIRE_EXIT(none, 0);
  CHECK(none.out.find("restored 0 instance(s)") != std::string::npos);
}

TEST_CASE("a corrupt dump falls back to the backup, saying so, and with both corrupt resurrect fails",
          "[integration]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "api"}), 0);
  REQUIRE_EXIT(s.pmx({"save"}), 0);
  REQUIRE_EXIT(s.pmx({"save"}), 0);  // the first one is now dump.pmx.bak
  const std::string dump = s.home.path() + "/dump.pmx";
  const std::string text = *read_file(dump);
  write_text(dump, text.substr(0, text.size() / 2));  // truncated, as a torn write would leave it
  REQUIRE_EXIT(s.pmx({"delete", "all"}), 0);
  auto back = s.pmx({"resurrect"});
  REQUIRE_EXIT(back, 0);
  CHECK(back.err.find("dump.pmx: not valid JSON") != std::string::npos);
  CHECK(back.err.find("restored from dump.pmx.bak") != std::string::npos);
  CHECK(s.status("api") == "online");

  write_text(s.home.path() + "/dump.pmx.bak", "{\"pmx_dump\": 1, \"apps\": [");
  REQUIRE_EXIT(s.pmx({"delete", "all"}), 0);
  auto failed = s.pmx({"resurrect"});
  REQUIRE_EXIT(failed, 1);
  CHECK(failed.err.find("dump.pmx.bak") != std::string::npos);
  REQUIRE_EXIT(s.pmx({"ping"}), 0);
}

TEST_CASE("a pmxd killed with SIGKILL in the middle of a save leaves a dump that reads",
          "[integration][crash-timing]") {
  TempHome home;
  auto daemon = std::make_unique<DaemonProcess>(home);
  // A large dump (each instance keeps its caller environment) makes the write take a while.
  RunOptions big;
  // Half of it under the sanitizers, where every save is several times slower already.
  const int pads = sanitized() ? 4 : 8;
  for (int i = 0; i < pads; ++i) big.env.push_back({"PAD_" + std::to_string(i), std::string(100000, 'x')});
  big.timeout = 90s;  // 12 instances listed with 800 KB of environment each: slow under the sanitizers
  REQUIRE_EXIT(run_pmx(home.path(), {"start", bin::kSleeper, "--name", "api", "-i", "12"}, big), 0);
  REQUIRE_EXIT(run_pmx(home.path(), {"save"}), 0);
  const std::string dump = home.path() + "/dump.pmx";
  const std::string tmp = dump + ".tmp";
  REQUIRE(dump_size(dump) == 12);

  int caught = 0;
  for (int attempt = 0; attempt < 20 && caught < 3; ++attempt) {
    RawClient client;
    REQUIRE(client.connect(home.socket()));
    REQUIRE(client.send(R"({"jsonrpc":"2.0","id":1,"method":"save","params":{}})" "\n"));
    // Kill pmxd the moment the new dump's temp file appears: mid-write (or mid-fsync).
    const auto deadline = Clock::now() + 5s;
    bool seen = false;
    while (Clock::now() < deadline && !(seen = file_exists(tmp))) {
      if (client.read_line(0ms)) break;  // the save finished before we saw it
    }
    if (seen) {
      daemon->crash();
      ++caught;
    }
    INFO("attempt " << attempt << (seen ? ": killed mid-save" : ": the save finished first"));
    CHECK(dump_size(dump) == 12);
    if (seen) {
      daemon.reset();
      daemon = std::make_unique<DaemonProcess>(home);  // adopts the apps
    }
  }
  INFO("saves interrupted: " << caught);
  CHECK(caught > 0);
  // The apps were adopted; a resurrect from the dump starts none twice.
  auto back = run_pmx(home.path(), {"resurrect"});
  REQUIRE_EXIT(back, 0);
  CHECK(jlist_of(home).size() == 12);
}

TEST_CASE("on a full disk, save fails naming the error and the previous dump stays", "[integration]") {
  if (::geteuid() != 0) {
    WARN("mounting a small tmpfs needs root");
    return;
  }
  TempHome home;
  TmpfsMount disk(home.path(), "2m");
  if (!disk.mounted) {
    WARN("cannot mount a tmpfs here");
    return;
  }
  REQUIRE(::mkdir((home.path() + "/scratch").c_str(), 0755) == 0);  // the mount hid the home's
  auto daemon = std::make_unique<DaemonProcess>(home);
  REQUIRE_EXIT(run_pmx(home.path(), {"start", bin::kSleeper, "--name", "api"}), 0);
  REQUIRE_EXIT(run_pmx(home.path(), {"save"}), 0);
  const std::string dump = home.path() + "/dump.pmx";
  const std::string before = *read_file(dump);
  RunOptions big;
  big.env = {{"PAD", std::string(100000, 'y')}};
  REQUIRE_EXIT(run_pmx(home.path(), {"start", bin::kSleeper, "--name", "more", "-i", "4"}, big), 0);
  // Fill the disk.
  {
    std::ofstream filler(home.path() + "/filler", std::ios::binary);
    const std::string block(65536, 'f');
    while (filler.write(block.data(), static_cast<std::streamsize>(block.size()))) {
    }
  }
  auto full = run_pmx(home.path(), {"save"});
  REQUIRE_EXIT(full, 1);
  CHECK(full.err.find("No space left on device") != std::string::npos);
  CHECK(full.err.find("dump") != std::string::npos);
  CHECK(*read_file(dump) == before);
  CHECK_FALSE(file_exists(dump + ".tmp"));
  REQUIRE_EXIT(run_pmx(home.path(), {"ping"}), 0);
  ::unlink((home.path() + "/filler").c_str());
  REQUIRE_EXIT(run_pmx(home.path(), {"save"}), 0);
  CHECK(dump_size(dump) == 5);
  daemon.reset();
}

TEST_CASE("pmxd --resurrect says READY=1 to systemd once the saved apps run, pings the watchdog and says STOPPING=1",
          "[integration]") {
  REQUIRE(have_python());
  TempHome home;
  // A saved app that is online only once it says READY=1 itself, after the test lets it.
  const std::string marker = home.scratch("go");
  const std::string app = home.scratch("late_ready.py");
  write_text(app,
             "import os, socket, time\n"
             "while not os.path.exists('" + marker + "'):\n"
             "    time.sleep(0.02)\n"
             "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
             "s.sendto(b'READY=1', os.environ['NOTIFY_SOCKET'])\n"
             "time.sleep(600)\n");
  {
    DaemonProcess saver(home);
    write_text(marker, "");
    REQUIRE_EXIT(run_pmx(home.path(), {"start", app, "--name", "late", "--wait-ready", "--listen-timeout", "60s"}), 0);
    REQUIRE_EXIT(run_pmx(home.path(), {"save"}), 0);
    saver.shutdown();
  }
  ::unlink(marker.c_str());

  FakeSystemd systemd(home.scratch("notify.sock"));
  ::setenv("NOTIFY_SOCKET", systemd.path.c_str(), 1);
  ::setenv("WATCHDOG_USEC", "200000", 1);
  DaemonProcess daemon(home, {"--resurrect"});
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  std::vector<std::string> seen;
  REQUIRE(wait_until([&] { return status_of(by_id(jlist_of(home), 0)) == "launching"; }, 10s));
  // Launching, so not ready yet: nothing may have told systemd it is.
  systemd.wait_for("READY=1", seen, 0ms);
  for (const auto& d : seen) CHECK(d.find("READY=1") == std::string::npos);
  write_text(marker, "");
  INFO("datagrams: " << seen.size());
  REQUIRE(systemd.wait_for("READY=1\nSTATUS=", seen, 10s));
  CHECK(status_of(by_id(jlist_of(home), 0)) == "online");
  // The app's READY=1 went to pmxd's own socket, not to systemd's.
  for (const auto& d : seen) CHECK(d != "READY=1");
  // WATCHDOG_USEC=200 ms: pings every 100 ms.
  seen.clear();
  REQUIRE(systemd.wait_for("WATCHDOG=1", seen, 5s));
  REQUIRE(systemd.wait_for("WATCHDOG=1", seen, 5s));
  REQUIRE(::kill(daemon.pid(), SIGTERM) == 0);
  CHECK(systemd.wait_for("STOPPING=1", seen, 10s));
  CHECK(daemon.wait_exit(15s) == 0);
}

TEST_CASE("pmx startup writes a unit that systemd-analyze verify accepts, and unstartup removes it",
          "[integration]") {
  TempHome home;
  auto dry = run_pmx(home.path(), {"startup", "systemd", "--dry-run", "-n", "pmx-test"});
  REQUIRE_EXIT(dry, 0);
  for (const char* line : {"Type=notify", "KillMode=process", "Delegate=yes", "Restart=always", "ExecReload=",
                           "WatchdogSec=", "LimitNOFILE="}) {
    CHECK(dry.out.find(line) != std::string::npos);
  }
  CHECK(dry.out.find("ExecStart=" + bin::kPmxd + " --foreground --resurrect") != std::string::npos);
  CHECK(dry.out.find("Environment=PMX_HOME=" + home.path() + "\n") != std::string::npos);
  CHECK(dry.out.find("systemctl enable pmx-test") != std::string::npos);
  auto bad = run_pmx(home.path(), {"startup", "upstart"});
  REQUIRE_EXIT(bad, 2);
  CHECK(bad.err.find("'upstart' is not supported") != std::string::npos);
  auto nobody = run_pmx(home.path(), {"startup", "-u", "no-such-user-here", "--dry-run"});
  REQUIRE_EXIT(nobody, 2);
  CHECK(nobody.err.find("no user 'no-such-user-here'") != std::string::npos);
  if (::geteuid() != 0) {
    WARN("writing the unit needs root");
    return;
  }

  const std::string dir = home.scratch("units");
  REQUIRE(::mkdir(dir.c_str(), 0755) == 0);
  // systemctl may be missing or fail (no systemd running here): the unit is written either way.
  run_pmx(home.path(), {"startup", "systemd", "-n", "pmx-test", "--unit-dir", dir});
  const std::string unit = dir + "/pmx-test.service";
  REQUIRE(file_exists(unit));
  CHECK(read_file(unit)->find("Type=notify") != std::string::npos);
  if (auto where = run_process({"/bin/sh", "-c", "command -v systemd-analyze"}); where.exit_code == 0) {
    auto verify = run_process({where.out.substr(0, where.out.find('\n')), "verify", unit});
    INFO(verify);
    CHECK(verify.exit_code == 0);
    CHECK(verify.err.find(unit) == std::string::npos);  // no complaint about our file
    // The template the package ships, with this build's binaries, as an instance.
    std::string templ = *read_file(PMX_SOURCE_DIR "/systemd/pmx@.service");
    for (auto [from, to] : {std::pair<std::string, std::string>{"/usr/lib/pmx/pmxd", bin::kPmxd}, {"/usr/bin/pmx", bin::kPmx}}) {
      templ.replace(templ.find(from), from.size(), to);
    }
    write_text(dir + "/pmx@root.service", templ);
    auto verify_template = run_process({where.out.substr(0, where.out.find('\n')), "verify", dir + "/pmx@root.service"});
    INFO(verify_template);
    CHECK(verify_template.exit_code == 0);
  }
  run_pmx(home.path(), {"unstartup", "-n", "pmx-test", "--unit-dir", dir});
  CHECK_FALSE(file_exists(unit));
}

TEST_CASE("resurrect --from-pm2 imports a dump.pm2 as pm2 save writes it", "[integration]") {
  Session s;
  const std::string pm2_dump = s.home.scratch("dump.pm2");
  json processes = json::array();
  processes.push_back({{"name", "web"}, {"pm_id", 0}, {"pm_exec_path", bin::kSleeper}, {"pm_cwd", "/tmp"},
                       {"exec_interpreter", "none"}, {"exec_mode", "fork_mode"}, {"status", "online"},
                       {"max_memory_restart", 104857600}, {"namespace", "default"}, {"args", json::array()},
                       {"env", {{"FROM_PM2", "yes"}, {"PM2_HOME", "/root/.pm2"}, {"web", json::object()}}}});
  processes.push_back({{"name", "batch"}, {"pm_id", 2}, {"pm_exec_path", bin::kSleeper}, {"pm_cwd", "/tmp"},
                       {"exec_interpreter", "none"}, {"exec_mode", "fork_mode"}, {"status", "stopped"},
                       {"env", json::object()}});
  write_text(pm2_dump, processes.dump());
  auto r = s.pmx({"resurrect", "--from-pm2", pm2_dump});
  REQUIRE_EXIT(r, 0);
  json list = s.jlist();
  REQUIRE(list.size() == 2);
  CHECK(by_id(list, 0).value("name", "") == "web");
  CHECK(status_of(by_id(list, 0)) == "online");
  CHECK(by_id(list, 0)["pm2_env"]["env"].value("FROM_PM2", "") == "yes");
  CHECK_FALSE(by_id(list, 0)["pm2_env"]["env"].contains("PM2_HOME"));
  CHECK(by_id(list, 0)["pm2_env"].value("max_memory_restart", 0ull) == 104857600ull);
  CHECK(status_of(by_id(list, 2)) == "stopped");

  auto missing = s.pmx({"resurrect", "--from-pm2", s.home.scratch("nope.pm2")});
  REQUIRE_EXIT(missing, 2);
  CHECK(missing.err.find("nope.pm2") != std::string::npos);
  write_text(pm2_dump, "[{\"name\": \"x\", \"pm_exec_path\": ");
  auto torn = s.pmx({"resurrect", "--from-pm2", pm2_dump});
  REQUIRE_EXIT(torn, 2);
  CHECK(torn.err.find("not valid JSON") != std::string::npos);
}
