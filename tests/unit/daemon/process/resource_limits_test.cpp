// ResourceLimits: the files written for each limit in a cgroup v2 tree and in cgroup v1
// hierarchies, what is refused, and what the limits count, against fake cgroup folders in a
// temporary directory; and the parsing of /proc/self/mounts and /proc/self/cgroup.
#include "daemon/process/resource_limits.hpp"

#include <sys/stat.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "tests/unit/temp_dir.hpp"

using namespace pmx::daemon;

namespace {

std::string limits_file_text(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void limits_put_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  REQUIRE(out.good());
}

bool limits_is_dir(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

/// A v2 root with a run's cgroup, and v1 hierarchies' own cgroups for cpu, memory and pids.
struct FakeCgroups {
  FakeCgroups() {
    for (const char* sub : {"/v2", "/v2/pmx-0-1-0", "/cpu", "/memory", "/pids"}) REQUIRE(::mkdir((dir.path + sub).c_str(), 0755) == 0);
  }
  std::string v2() const { return dir.path + "/v2"; }
  std::string run() const { return dir.path + "/v2/pmx-0-1-0"; }
  std::string v1(const char* controller) const { return dir.path + "/" + controller + "/pmx-home"; }
  ResourceLimits all_v2() const { return ResourceLimits(v2(), {ControllerPlace{true, ""}, {true, ""}, {true, ""}}); }
  ResourceLimits all_v1() const {
    return ResourceLimits(v2(), {ControllerPlace{false, v1("cpu")}, {false, v1("memory")}, {false, v1("pids")}});
  }
  pmx::test::TempDir dir;
};

}  // namespace

TEST_CASE("limits in a cgroup v2 tree: cpu.max, memory.max and pids.max of the run's own cgroup", "[resource_limits]") {
  FakeCgroups fake;
  const ResourceLimits limits = fake.all_v2();
  auto joins = limits.apply(fake.run(), Limits{50, 64u << 20, 16});
  REQUIRE(joins.ok());
  CHECK(joins->empty());  // born in its cgroup: nothing more to join
  CHECK(limits_file_text(fake.run() + "/cpu.max") == "50000 100000");
  CHECK(limits_file_text(fake.run() + "/memory.max") == "67108864");
  CHECK(limits_file_text(fake.run() + "/pids.max") == "16");
  // Each controller enabled for the runs' cgroups as it is first needed.
  CHECK(limits_file_text(fake.v2() + "/cgroup.subtree_control") == "+pids");  // the last write of three
}

TEST_CASE("limits in cgroup v1 hierarchies: a folder per run, named like its v2 cgroup, for the child to join", "[resource_limits]") {
  FakeCgroups fake;
  const ResourceLimits limits = fake.all_v1();
  auto joins = limits.apply(fake.run(), Limits{150, 1u << 30, 64});
  REQUIRE(joins.ok());
  const std::string cpu = fake.v1("cpu") + "/pmx-0-1-0";
  const std::string memory = fake.v1("memory") + "/pmx-0-1-0";
  const std::string pids = fake.v1("pids") + "/pmx-0-1-0";
  CHECK(*joins == std::vector<std::string>{cpu, memory, pids});
  CHECK(limits_file_text(cpu + "/cpu.cfs_period_us") == "100000");
  CHECK(limits_file_text(cpu + "/cpu.cfs_quota_us") == "150000");
  CHECK(limits_file_text(memory + "/memory.limit_in_bytes") == "1073741824");
  CHECK(limits_file_text(pids + "/pids.max") == "64");
  CHECK_FALSE(limits_is_dir(fake.v1("memory") + "/other"));
}

TEST_CASE("only the limits asked for are written, and only their v1 folders made", "[resource_limits]") {
  FakeCgroups fake;
  const ResourceLimits limits = fake.all_v1();
  auto joins = limits.apply(fake.run(), Limits{0, 0, 8});
  REQUIRE(joins.ok());
  CHECK(*joins == std::vector<std::string>{fake.v1("pids") + "/pmx-0-1-0"});
  CHECK_FALSE(limits_is_dir(fake.v1("cpu")));
  CHECK_FALSE(limits_is_dir(fake.v1("memory")));
  auto none = limits.apply(fake.run(), Limits{});
  REQUIRE(none.ok());
  CHECK(none->empty());
}

TEST_CASE("a limit is refused in fallback mode, naming the mode", "[resource_limits]") {
  const ResourceLimits fallback;
  CHECK(fallback.check(Limits{}).ok());
  for (const Limits& l : {Limits{50, 0, 0}, Limits{0, 1 << 20, 0}, Limits{0, 0, 4}}) {
    auto r = fallback.check(l);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().find("fallback mode") != std::string::npos);
  }
  FakeCgroups fake;
  CHECK_FALSE(fallback.apply(fake.run(), Limits{50, 0, 0}).ok());
}

TEST_CASE("a tasks_max above the kernel's PID_MAX_LIMIT is refused before anything is written", "[resource_limits]") {
  FakeCgroups fake;
  const ResourceLimits limits = fake.all_v2();
  CHECK(limits.check(Limits{0, 0, 4194304}).ok());
  auto r = limits.check(Limits{0, 0, 4194305});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().find("option 'tasks_max': at most 4194304") != std::string::npos);
  CHECK_FALSE(limits.apply(fake.run(), Limits{0, 0, 4194305}).ok());
  CHECK_FALSE(std::filesystem::exists(fake.run() + "/pids.max"));
}

TEST_CASE("a limit whose controller is in neither tree is refused, naming the controller", "[resource_limits]") {
  FakeCgroups fake;
  const ResourceLimits partial(fake.v2(), {ControllerPlace{true, ""}, ControllerPlace{}, ControllerPlace{false, fake.v1("pids")}});
  CHECK(partial.check(Limits{50, 0, 10}).ok());
  auto r = partial.check(Limits{50, 64 << 20, 10});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().find("option 'memory_max'") != std::string::npos);
  CHECK(r.error().find("'memory' controller") != std::string::npos);
  auto applied = partial.apply(fake.run(), Limits{0, 64 << 20, 0});
  REQUIRE_FALSE(applied.ok());
  CHECK_FALSE(limits_is_dir(fake.run() + "/memory.max"));
}

TEST_CASE("what the limits count is read from v2 files", "[resource_limits]") {
  FakeCgroups fake;
  limits_put_file(fake.run() + "/cpu.stat", "usage_usec 900\nnr_periods 10\nnr_throttled 3\nthrottled_usec 4500\n");
  limits_put_file(fake.run() + "/memory.events", "low 0\nhigh 0\nmax 5\noom 1\noom_kill 2\n");
  limits_put_file(fake.run() + "/pids.current", "12\n");
  const ResourceLimits limits = fake.all_v2();
  CHECK(limits.usage(fake.run(), Limits{50, 1 << 20, 16}) == LimitUsage{4500, 2, 12});
  CHECK(limits.usage(fake.run(), Limits{0, 0, 16}) == LimitUsage{std::nullopt, std::nullopt, 12});
  CHECK(limits.usage(fake.run(), Limits{}) == LimitUsage{});
  CHECK(limits.oom_kills(fake.run()) == 2);
}

TEST_CASE("what the limits count is read from the run's v1 folders, found by name", "[resource_limits]") {
  FakeCgroups fake;
  const ResourceLimits limits = fake.all_v1();
  REQUIRE(limits.apply(fake.run(), Limits{20, 64 << 20, 16}).ok());
  limits_put_file(fake.v1("cpu") + "/pmx-0-1-0/cpu.stat", "nr_periods 40\nnr_throttled 30\nthrottled_time 2500000000\n");
  limits_put_file(fake.v1("memory") + "/pmx-0-1-0/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
  limits_put_file(fake.v1("pids") + "/pmx-0-1-0/pids.current", "16\n");
  CHECK(limits.usage(fake.run(), Limits{20, 64 << 20, 16}) == LimitUsage{2500000, 1, 16});
  CHECK(limits.oom_kills(fake.run()) == 1);
}

TEST_CASE("the v1 hierarchies and pmxd's place in them are read from /proc", "[resource_limits]") {
  const std::string mounts =
      "tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0\n"
      "cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,relatime,cpu,cpuacct 0 0\n"
      "cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0\n"
      "cgroup /sys/fs/cgroup/cpuset cgroup rw,relatime,cpuset 0 0\n"
      "cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0\n";
  CHECK(v1_mount_of(mounts, "cpu") == "/sys/fs/cgroup/cpu,cpuacct");
  CHECK(v1_mount_of(mounts, "memory") == "/sys/fs/cgroup/memory");
  CHECK(v1_mount_of(mounts, "pids") == std::nullopt);  // "cpuset" is not "cpu", nor cgroup2 v1
  const std::string own = "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/c2737\n1:cpu,cpuacct:/\n0::/\n";
  CHECK(v1_path_of(own, "memory") == "/process_api/c2737");
  CHECK(v1_path_of(own, "cpu") == "/");
  CHECK(v1_path_of(own, "pids") == "/");
  CHECK(v1_path_of(own, "blkio") == std::nullopt);
}

TEST_CASE("throttled time reads v2's microseconds and v1's nanoseconds", "[resource_limits]") {
  CHECK(throttled_us("nr_throttled 1\nthrottled_usec 77\n") == 77u);
  CHECK(throttled_us("nr_throttled 1\nthrottled_time 77000\n") == 77u);
  CHECK(throttled_us("usage_usec 5\n") == std::nullopt);
  CHECK(throttled_us("throttled_usec lots\n") == std::nullopt);
}
