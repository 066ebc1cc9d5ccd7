// state.json while PMX_HOME is full: a start whose state cannot be written is refused, other
// changes are written once there is room again, and a pmxd killed while the file lags still
// finds every run (through the instance's marker or cgroup), so `pmx kill` leaves nothing.
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <memory>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;

namespace {

/// A 2 MiB tmpfs mounted over a fresh home for the scope, which fill() fills and free() empties.
struct FullableHome {
  TempHome home;
  bool mounted = false;
  FullableHome() {
    mounted = ::geteuid() == 0 && ::mount("tmpfs", home.path().c_str(), "tmpfs", 0, "size=2m,mode=0700") == 0;
    if (mounted) ::mkdir((home.path() + "/scratch").c_str(), 0755);  // the mount hid the home's
  }
  ~FullableHome() {
    if (mounted) ::umount2(home.path().c_str(), MNT_DETACH);
  }
  std::string filler() const { return home.path() + "/filler"; }
  void fill() const {
    std::ofstream out(filler(), std::ios::binary);
    const std::string block(4096, 'f');
    while (out.write(block.data(), static_cast<std::streamsize>(block.size()))) {
    }
  }
  void free() const { ::unlink(filler().c_str()); }
};

json entry_named(const json& list, const std::string& name) {
  for (const auto& e : list)
    if (e.value("name", "") == name) return e;
  return json();
}

/// The leader pid state.json records for the app name (0: none, or no readable file).
long recorded_pid(const TempHome& home, const std::string& name) {
  const auto text = read_file(home.path() + "/state.json");
  if (!text) return 0;
  const json doc = json::parse(*text, nullptr, false);
  if (doc.is_discarded() || !doc.contains("instances")) return 0;
  for (const auto& r : doc["instances"]) {
    if (r.contains("spec") && r["spec"].value("name", "") == name) return r.value("pid", 0L);
  }
  return 0;
}

}  // namespace

TEST_CASE("a start while state.json cannot be written is refused and leaves no orphan after a crash",
          "[integration][regression]") {
  FullableHome disk;
  if (!disk.mounted) {
    WARN("mounting a small tmpfs needs root");
    return;
  }
  const TempHome& home = disk.home;
  auto daemon = std::make_unique<DaemonProcess>(home);
  REQUIRE_EXIT(run_pmx(home.path(), {"start", bin::kSleeper, "--name", "api"}), 0);
  disk.fill();
  auto refused = run_pmx(home.path(), {"start", bin::kSleeper, "--name", "late"});
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("No space left on device") != std::string::npos);
  const json late = entry_named(jlist_of(home), "late");
  const pid_t late_pid = late.is_null() ? 0 : late.value("pid", 0);
  CHECK(late_pid == 0);
  // pmxd dies, room comes back: whatever runs is known to the next pmxd and killed with it.
  daemon->crash();
  disk.free();
  DaemonProcess next(home);
  next.shutdown();  // pmx kill
  if (late_pid > 0) CHECK_FALSE(process_alive(late_pid));
}

TEST_CASE("a change made while PMX_HOME is full is written to state.json once there is room",
          "[integration][regression]") {
  FullableHome disk;
  if (!disk.mounted) {
    WARN("mounting a small tmpfs needs root");
    return;
  }
  const TempHome& home = disk.home;
  DaemonProcess daemon(home);
  REQUIRE_EXIT(run_pmx(home.path(), {"start", bin::kSleeper, "--name", "api"}), 0);
  const long first = entry_named(jlist_of(home), "api").value("pid", 0L);
  REQUIRE(wait_until([&] { return recorded_pid(home, "api") == first; }, 5s));
  disk.fill();
  REQUIRE_EXIT(run_pmx(home.path(), {"restart", "api"}), 0);
  const long second = entry_named(jlist_of(home), "api").value("pid", 0L);
  REQUIRE(second > 0);
  REQUIRE(second != first);
  CHECK(recorded_pid(home, "api") == first);  // the disk is full: the file lags
  disk.free();
  CHECK(wait_until([&] { return recorded_pid(home, "api") == second; }, 5s));
}

TEST_CASE("a run state.json does not know yet is adopted through its marker, and pmx kill ends it",
          "[integration][regression]") {
  const std::vector<std::string> mode = GENERATE(std::vector<std::string>{}, std::vector<std::string>{"--no-cgroup"});
  INFO("pmxd " << (mode.empty() ? "(cgroups where available)" : mode[0]));
  FullableHome disk;
  if (!disk.mounted) {
    WARN("mounting a small tmpfs needs root");
    return;
  }
  const TempHome& home = disk.home;
  auto daemon = std::make_unique<DaemonProcess>(home, mode);
  REQUIRE_EXIT(run_pmx(home.path(), {"start", bin::kSleeper, "--name", "api"}), 0);
  const long first = entry_named(jlist_of(home), "api").value("pid", 0L);
  REQUIRE(wait_until([&] { return recorded_pid(home, "api") == first; }, 5s));
  disk.fill();
  REQUIRE_EXIT(run_pmx(home.path(), {"restart", "api"}), 0);
  const json lagging = entry_named(jlist_of(home), "api");
  const pid_t second = lagging.value("pid", 0);
  REQUIRE(second > 0);
  REQUIRE(recorded_pid(home, "api") == first);
  daemon->crash();
  disk.free();
  DaemonProcess next(home, mode);
  // The run the file does not know is found and adopted, not started a second time.
  const json adopted = entry_named(jlist_of(home), "api");
  CHECK(adopted.value("pid", 0) == second);
  CHECK(adopted["pm2_env"].value("status", "") == "online");
  next.shutdown();  // pmx kill
  CHECK_FALSE(process_alive(second));
}
