// Lifecycle: start, list, stop, delete, and how targets (name, id, namespace, all) are resolved.
#include <signal.h>

#include <string>
#include <tuple>
#include <vector>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;

TEST_CASE("start, list, stop and delete an app", "[integration][lifecycle]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "sl", "--kill-timeout", "500"}), 0);
  pid_t pid = s.wait_pid("sl");
  REQUIRE(pid > 0);

  auto app = s.app("sl");
  CHECK(app["pm_id"] == 0);
  CHECK(app["pm2_env"]["exec_mode"] == "fork_mode");
  CHECK(app["pm2_env"]["namespace"] == "default");
  CHECK(app["pm2_env"]["pm_exec_path"] == bin::kSleeper);
  CHECK(app["pm2_env"]["restart_time"] == 0);
  CHECK(app["monit"]["memory"].is_number());
  CHECK(app["monit"]["cpu"].is_number());

  auto list = s.pmx({"list"});
  CHECK_EXIT(list, 0);
  CHECK(mentions(list.out, "sl"));

  auto stop = s.pmx({"stop", "sl"});
  REQUIRE_EXIT(stop, 0);
  // stop returns only once the app is stopped.
  app = s.app("sl");
  CHECK(app["pm2_env"]["status"] == "stopped");
  CHECK(app["pid"] == 0);
  CHECK_FALSE(process_alive(pid));

  REQUIRE_EXIT(s.pmx({"delete", "sl"}), 0);
  CHECK(s.jlist().empty());
}

TEST_CASE("start of a missing script exits 2 and adds nothing", "[integration][lifecycle]") {
  Session s;
  auto r = s.pmx({"start", s.home.scratch("no-such-script.sh"), "--name", "ghost"});
  CHECK_EXIT(r, 2);
  CHECK_FALSE(r.err.empty());
  CHECK(s.jlist().empty());

  auto r2 = s.pmx({"start", s.home.scratch("no-such-binary")});
  CHECK_EXIT(r2, 2);
  CHECK(s.jlist().empty());
}

TEST_CASE("starting the same script twice is refused unless -f", "[integration][lifecycle]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--kill-timeout", "500"}), 0);
  REQUIRE(s.jlist().size() == 1);

  auto again = s.pmx({"start", bin::kSleeper, "--kill-timeout", "500"});
  CHECK_EXIT(again, 1);
  CHECK(s.jlist().size() == 1);

  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "-f", "--kill-timeout", "500"}), 0);
  auto list = s.jlist();
  REQUIRE(list.size() == 2);
  CHECK(list[0]["pm_id"] != list[1]["pm_id"]);
  CHECK(wait_until(
      [&] {
        auto l = s.jlist();
        return l.size() == 2 && l[0]["pid"].get<int>() > 0 && l[1]["pid"].get<int>() > 0 &&
               l[0]["pid"] != l[1]["pid"];
      },
      10s));
}

TEST_CASE("start <name|id> of an existing app restarts it", "[integration][lifecycle]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "sl", "--kill-timeout", "500"}), 0);
  pid_t first = s.wait_pid("sl");
  REQUIRE(first > 0);

  REQUIRE_EXIT(s.pmx({"start", "sl"}), 0);
  pid_t second = 0;
  REQUIRE(wait_until(
      [&] {
        second = s.app("sl")["pid"].get<pid_t>();
        return second > 0 && second != first && process_alive(second);
      },
      10s));
  CHECK_FALSE(process_alive(first));
  CHECK(s.jlist().size() == 1);

  // By id, and from the stopped state.
  REQUIRE_EXIT(s.pmx({"stop", "sl"}), 0);
  REQUIRE(s.status("sl") == "stopped");
  REQUIRE_EXIT(s.pmx({"start", "0"}), 0);
  pid_t third = s.wait_pid("sl");
  CHECK(third > 0);
  CHECK(third != second);
  CHECK(s.jlist().size() == 1);
}

TEST_CASE("an unknown target is named on stderr and exits 1", "[integration][lifecycle]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "real", "--kill-timeout", "500"}), 0);
  for (std::string verb : {"stop", "restart", "delete"}) {
    INFO("verb: " << verb);
    auto r = s.pmx({verb, "nosuchapp"});
    CHECK_EXIT(r, 1);
    CHECK(mentions(r.err, "nosuchapp"));
  }
  auto by_id = s.pmx({"stop", "42"});
  CHECK_EXIT(by_id, 1);
  CHECK(mentions(by_id.err, "42"));
  // The real app was not touched.
  CHECK(s.wait_pid("real") > 0);
  CHECK(s.app("real")["pm2_env"]["restart_time"] == 0);
}

TEST_CASE("targets: by id, namespace, several at once and all", "[integration][lifecycle]") {
  Session s;
  auto start = [&](const std::string& name, const std::string& ns) {
    REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "-f", "--name", name, "--namespace", ns,
                        "--kill-timeout", "500"}),
                 0);
  };
  start("a", "alpha");
  start("b", "alpha");
  start("c", "beta");
  for (auto name : {"a", "b", "c"}) REQUIRE(s.wait_pid(name) > 0);
  CHECK(s.app("a")["pm2_env"]["namespace"] == "alpha");
  CHECK(s.app("c")["pm2_env"]["namespace"] == "beta");

  auto statuses = [&] {
    std::map<std::string, std::string> m;
    for (auto& app : s.jlist()) m[app["name"]] = app["pm2_env"]["status"];
    return m;
  };
  using M = std::map<std::string, std::string>;

  // By id.
  std::string c_id = std::to_string(s.app("c")["pm_id"].get<int>());
  REQUIRE_EXIT(s.pmx({"stop", c_id}), 0);
  CHECK(s.status("c") == "stopped");
  CHECK(s.wait_pid("a") > 0);
  CHECK(s.wait_pid("b") > 0);

  // By namespace.
  REQUIRE_EXIT(s.pmx({"stop", "alpha"}), 0);
  CHECK(statuses() == M{{"a", "stopped"}, {"b", "stopped"}, {"c", "stopped"}});

  // Several at once, mixing a name and an id.
  REQUIRE_EXIT(s.pmx({"restart", "a", c_id}), 0);
  CHECK(s.wait_pid("a") > 0);
  CHECK(s.wait_pid("c") > 0);
  CHECK(s.status("b") == "stopped");

  // all.
  REQUIRE_EXIT(s.pmx({"stop", "all"}), 0);
  CHECK(statuses() == M{{"a", "stopped"}, {"b", "stopped"}, {"c", "stopped"}});
  REQUIRE_EXIT(s.pmx({"restart", "all"}), 0);
  for (auto name : {"a", "b", "c"}) CHECK(s.wait_pid(name) > 0);

  REQUIRE_EXIT(s.pmx({"delete", "a", "b"}), 0);
  auto left = s.jlist();
  REQUIRE(left.size() == 1);
  CHECK(left[0]["name"] == "c");
  REQUIRE_EXIT(s.pmx({"delete", "all"}), 0);
  CHECK(s.jlist().empty());
}

TEST_CASE("id, pid, ping, describe and env answer about an app", "[integration][lifecycle]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "info", "--kill-timeout", "500"}), 0);
  pid_t pid = s.wait_pid("info");
  REQUIRE(pid > 0);

  CHECK_EXIT(s.pmx({"ping"}), 0);

  auto id = s.pmx({"id", "info"});
  CHECK_EXIT(id, 0);
  CHECK(mentions(id.out, "0"));

  auto p = s.pmx({"pid", "info"});
  CHECK_EXIT(p, 0);
  CHECK(mentions(p.out, std::to_string(pid)));

  auto d = s.pmx({"describe", "info"});
  CHECK_EXIT(d, 0);
  CHECK(mentions(d.out, "info"));

  auto e = s.pmx({"env", "0"});
  CHECK_EXIT(e, 0);
  CHECK(mentions(e.out, "pm_id"));
}

TEST_CASE("reset zeroes the restart counter", "[integration][lifecycle]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "r", "--kill-timeout", "500"}), 0);
  pid_t pid = s.wait_pid("r");
  REQUIRE(pid > 0);
  REQUIRE_EXIT(s.pmx({"restart", "r"}), 0);
  REQUIRE(wait_until([&] { return s.app("r")["pm2_env"]["restart_time"] == 1; }, 10s));
  REQUIRE_EXIT(s.pmx({"reset", "r"}), 0);
  CHECK(s.app("r")["pm2_env"]["restart_time"] == 0);
}

TEST_CASE("instances of one name are one app: listed by pm_id, a freed NODE_APP_INSTANCE reused, deleted together",
          "[integration][lifecycle]") {
  Session s;
  auto start = [&](const std::string& name) {
    REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", name, "-f", "--no-autostart"}), 0);
  };
  start("a");
  start("b");
  start("a");
  auto ids_and_indexes = [&] {
    std::vector<std::tuple<int, std::string, int>> out;
    for (const auto& app : s.jlist()) {
      out.emplace_back(app["pm_id"].get<int>(), app["name"].get<std::string>(),
                       app["pm2_env"]["NODE_APP_INSTANCE"].get<int>());
    }
    return out;
  };
  using Row = std::tuple<int, std::string, int>;
  CHECK(ids_and_indexes() == std::vector<Row>{{0, "a", 0}, {1, "b", 0}, {2, "a", 1}});

  REQUIRE_EXIT(s.pmx({"delete", "0"}), 0);
  start("a");  // takes the index 0 left free by pm_id 0
  CHECK(ids_and_indexes() == std::vector<Row>{{1, "b", 0}, {2, "a", 1}, {3, "a", 0}});

  REQUIRE_EXIT(s.pmx({"delete", "a"}), 0);
  CHECK(ids_and_indexes() == std::vector<Row>{{1, "b", 0}});
  CHECK_EXIT(s.pmx({"stop", "a"}), 1);  // nothing is left of the app
  start("a");  // a new app of the old name numbers from 0 again
  CHECK(ids_and_indexes() == std::vector<Row>{{1, "b", 0}, {4, "a", 0}});
}
