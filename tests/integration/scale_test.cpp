// `pmx scale <app> <N|+N|-N>`: instances added with the first one's options and the
// smallest free NODE_APP_INSTANCE, the highest ids stopped gracefully and deleted, the others
// untouched; "nothing to do" is no error; an app keeps at least one instance.
#include <signal.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;

namespace {

/// One instance of an app as jlist shows it.
struct Seen {
  pid_t pid = 0;
  int app_instance = -1;     ///< pm2_env.NODE_APP_INSTANCE
  std::string env_instance;  ///< NODE_APP_INSTANCE in the environment the process was given
  int instances = 0;         ///< pm2_env.instances
  std::string status;
};

/// name's instances by pm_id.
std::map<int, Seen> instances_of(Session& s, const std::string& name) {
  std::map<int, Seen> out;
  for (const auto& app : s.jlist()) {
    if (app.value("name", "") != name) continue;
    const json& env = app["pm2_env"];
    out[app.value("pm_id", -1)] = Seen{app.value("pid", 0), env.value("NODE_APP_INSTANCE", -1),
                                       env["env"].value("NODE_APP_INSTANCE", ""), env.value("instances", 0),
                                       env.value("status", "")};
  }
  return out;
}

std::vector<int> ids_of(const std::map<int, Seen>& instances) {
  std::vector<int> ids;
  for (const auto& [id, in] : instances) ids.push_back(id);
  return ids;
}

std::set<int> app_instances_of(const std::map<int, Seen>& instances) {
  std::set<int> out;
  for (const auto& [id, in] : instances) {
    CHECK(in.env_instance == std::to_string(in.app_instance));
    out.insert(in.app_instance);
  }
  return out;
}

/// Starts a sleeper app of n instances and waits until each runs.
std::map<int, Seen> start_sleepers(Session& s, const std::string& name, int n) {
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", name, "-i", std::to_string(n), "--kill-timeout", "500"}), 0);
  std::map<int, Seen> seen;
  REQUIRE(wait_until([&] {
    seen = instances_of(s, name);
    if (static_cast<int>(seen.size()) != n) return false;
    for (const auto& [id, in] : seen) {
      if (in.status != "online" || in.pid <= 0) return false;
    }
    return true;
  }, 10s));
  for (const auto& [id, in] : seen) s.track(in.pid);
  return seen;
}


}  // namespace

TEST_CASE("scale 2 to 4 to 1: the lowest ids stay, their processes untouched, the removed ones end",
          "[integration][scale]") {
  const std::vector<std::string> mode = GENERATE(std::vector<std::string>{}, std::vector<std::string>{"--no-cgroup"});
  INFO("pmxd " << (mode.empty() ? "with cgroups" : "--no-cgroup"));
  Session s(mode);
  const auto two = start_sleepers(s, "web", 2);

  const RunResult up = s.pmx({"scale", "web", "4"});
  REQUIRE_EXIT(up, 0);
  CHECK(mentions(up.out, "web"));  // the table, as start prints it
  const auto four = instances_of(s, "web");
  REQUIRE(ids_of(four) == std::vector<int>{0, 1, 2, 3});
  CHECK(app_instances_of(four) == std::set<int>{0, 1, 2, 3});
  for (const auto& [id, in] : four) {
    INFO("id " << id);
    s.track(in.pid);
    CHECK(in.status == "online");  // the reply waits until the new instances run
    CHECK(in.pid > 0);
    CHECK(process_alive(in.pid));
    CHECK(in.instances == 4);
  }
  CHECK(four.at(0).pid == two.at(0).pid);
  CHECK(four.at(1).pid == two.at(1).pid);

  const RunResult down = s.pmx({"scale", "web", "1"});
  REQUIRE_EXIT(down, 0);
  const auto one = instances_of(s, "web");
  REQUIRE(ids_of(one) == std::vector<int>{0});
  CHECK(one.at(0).pid == two.at(0).pid);
  CHECK(one.at(0).app_instance == 0);
  CHECK(one.at(0).instances == 1);
  // The reply came once the removed instances' processes were gone.
  for (int id : {1, 2, 3}) {
    INFO("removed id " << id);
    CHECK_FALSE(process_alive(four.at(id).pid));
  }
  CHECK(process_alive(one.at(0).pid));
}

TEST_CASE("scale +2 and -1, and an added instance takes the smallest free NODE_APP_INSTANCE",
          "[integration][scale]") {
  Session s;
  const auto first = start_sleepers(s, "web", 1);

  REQUIRE_EXIT(s.pmx({"scale", "web", "+2"}), 0);
  const auto three = instances_of(s, "web");
  REQUIRE(ids_of(three) == std::vector<int>{0, 1, 2});
  CHECK(app_instances_of(three) == std::set<int>{0, 1, 2});
  for (const auto& [id, in] : three) {
    s.track(in.pid);
    CHECK(in.status == "online");
    CHECK(in.instances == 3);
  }
  CHECK(three.at(0).pid == first.at(0).pid);

  // "-1" is the count, not an option.
  const RunResult minus = s.pmx({"scale", "web", "-1"});
  REQUIRE_EXIT(minus, 0);
  const auto two = instances_of(s, "web");
  REQUIRE(ids_of(two) == std::vector<int>{0, 1});
  CHECK_FALSE(process_alive(three.at(2).pid));
  CHECK(two.at(0).pid == three.at(0).pid);
  CHECK(two.at(1).pid == three.at(1).pid);

  // Index 2 is free again, and the new instance takes it under a new id.
  REQUIRE_EXIT(s.pmx({"scale", "web", "+1"}), 0);
  const auto again = instances_of(s, "web");
  REQUIRE(ids_of(again) == std::vector<int>{0, 1, 3});
  s.track(again.at(3).pid);
  CHECK(again.at(3).app_instance == 2);
  CHECK(again.at(3).env_instance == "2");
}

TEST_CASE("scale to the current count is nothing to do, and no error", "[integration][scale]") {
  Session s;
  const auto two = start_sleepers(s, "web", 2);
  for (const char* count : {"2", "+0", "-0"}) {
    INFO(count);
    const RunResult r = s.pmx({"scale", "web", count});
    CHECK_EXIT(r, 0);
    CHECK(mentions(r.out, "web has 2 instances already: nothing to do"));
  }
  const auto after = instances_of(s, "web");
  REQUIRE(ids_of(after) == std::vector<int>{0, 1});
  CHECK(after.at(0).pid == two.at(0).pid);
  CHECK(after.at(1).pid == two.at(1).pid);
}

TEST_CASE("scale refuses to leave no instance, unknown apps and bad counts, and changes nothing",
          "[integration][scale]") {
  Session s;
  const auto two = start_sleepers(s, "web", 2);

  const RunResult zero = s.pmx({"scale", "web", "0"});
  CHECK_EXIT(zero, 2);
  CHECK(mentions(zero.err, "scale web 0: an app keeps at least 1 instance; use pmx stop or pmx delete"));

  for (const char* count : {"-2", "-5"}) {
    INFO(count);
    const RunResult all = s.pmx({"scale", "web", count});
    CHECK_EXIT(all, 1);
    CHECK(mentions(all.err, std::string("scale web ") + count +
                                ": the app has 2 instances; an app keeps at least 1 instance; use pmx stop or pmx delete"));
  }

  const RunResult unknown = s.pmx({"scale", "nope", "3"});
  CHECK_EXIT(unknown, 1);
  CHECK(mentions(unknown.err, "no app is named 'nope'"));
  // One app by its name: not an id, a namespace or all.
  for (const char* target : {"0", "default", "all"}) {
    INFO(target);
    const RunResult r = s.pmx({"scale", target, "3"});
    CHECK_EXIT(r, 1);
    CHECK(mentions(r.err, "scale takes one app name"));
  }

  for (const char* count : {"abc", "+", "1.5"}) {
    INFO(count);
    const RunResult bad = s.pmx({"scale", "web", count});
    CHECK_EXIT(bad, 2);
    CHECK(mentions(bad.err, std::string("scale web ") + count + ": the count is N (the total), +N"));
  }
  const RunResult huge = s.pmx({"scale", "web", "99999"});
  CHECK_EXIT(huge, 2);
  CHECK(mentions(huge.err, "scale web 99999: an app has at most 4096 instances"));
  CHECK_EXIT(s.pmx({"scale", "web"}), 2);  // no count

  // The daemon checks the same on its own (any client may call it), counts as JSON numbers too.
  RawClient c;
  REQUIRE(c.connect(s.home.socket()));
  struct Case {
    json params;
    std::string kind;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{{"name", "web"}, {"count", "0"}}, "invalid_params", "scale web 0: an app keeps at least 1 instance"},
      {{{"name", "web"}, {"count", 0}}, "invalid_params", "scale web 0: an app keeps at least 1 instance"},
      {{{"name", "web"}, {"count", -2}}, "invalid_state", "scale web -2: the app has 2 instances"},
      {{{"name", "web"}, {"count", 1.5}}, "invalid_params", "scale web 1.5: the count is N"},
      {{{"name", "web"}, {"count", "+4097"}}, "invalid_params", "at most 4096"},
      {{{"name", "web"}}, "invalid_params", "params.count is required"},
      {{{"count", "2"}}, "invalid_params", "params.name must be the name of an app"},
      {{{"name", "nope"}, {"count", 2}}, "not_found", "no app is named 'nope'"},
  };
  int id = 1;
  for (const auto& k : cases) {
    INFO(k.params.dump());
    auto r = c.call(id++, "scale", k.params);
    REQUIRE(r);
    REQUIRE(r->contains("error"));
    CHECK((*r)["error"]["data"].value("kind", "") == k.kind);
    CHECK(mentions((*r)["error"].value("message", ""), k.message));
  }
  auto same = c.call(id++, "scale", {{"name", "web"}, {"count", 2}});
  REQUIRE(same);
  REQUIRE(same->contains("result"));
  CHECK((*same)["result"].value("message", "") == "web has 2 instances already: nothing to do");
  CHECK((*same)["result"]["apps"].size() == 2);

  const auto after = instances_of(s, "web");
  REQUIRE(ids_of(after) == std::vector<int>{0, 1});
  CHECK(after.at(0).pid == two.at(0).pid);
  CHECK(after.at(1).pid == two.at(1).pid);
}

TEST_CASE("scale down stops an instance that ignores its stop signal with SIGKILL after kill_timeout",
          "[integration][scale]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", bin::kIgnoreSignals, "--name", "stubborn", "-i", "2", "--kill-timeout", "500"}), 0);
  std::map<int, Seen> two;
  REQUIRE(wait_until([&] {
    two = instances_of(s, "stubborn");
    return two.size() == 2 && two.at(0).pid > 0 && two.at(1).pid > 0;
  }, 10s));
  for (const auto& [id, in] : two) s.track(in.pid);
  // Do not race the fixture's signal() calls: online means exec'd, not yet ignoring.
  for (const auto& [id, in] : two) REQUIRE(wait_until([&] { return process_ignores(in.pid, {SIGINT, SIGTERM}); }, 5s));
  const auto before = Clock::now();
  REQUIRE_EXIT(s.pmx({"scale", "stubborn", "-1"}), 0);
  CHECK(Clock::now() - before >= 450ms);  // kill_timeout passed before the SIGKILL
  CHECK_FALSE(process_alive(two.at(1).pid));
  const auto one = instances_of(s, "stubborn");
  REQUIRE(ids_of(one) == std::vector<int>{0});
  CHECK(one.at(0).pid == two.at(0).pid);
  CHECK(process_alive(one.at(0).pid));
}

TEST_CASE("a cluster app scaled 2 to 4 to 1 serves from every instance on its one port",
          "[integration][scale][cluster]") {
  REQUIRE(have_python());
  Session s;
  const int port = free_port();
  REQUIRE(port > 0);
  REQUIRE_EXIT(s.pmx(fd3_web_start(s.home, {"--port", std::to_string(port)})), 0);
  REQUIRE(wait_until([&] { return pids_of(s, "web").size() == 2; }, 10s));
  REQUIRE(answers_from([&] { return http_get(port); }, pids_of(s, "web")).size() == 2);

  REQUIRE_EXIT(s.pmx({"scale", "web", "4"}), 0);
  const auto four = pids_of(s, "web");
  REQUIRE(four.size() == 4);
  for (const auto& p : four) s.track(std::stoi(p));
  for (const auto& app : s.jlist()) CHECK(app["pm2_env"].value("exec_mode", "") == "cluster_mode");
  const auto seen = answers_from([&] { return http_get(port); }, four);
  REQUIRE(seen.size() == 4);
  for (const auto& [pid, w] : seen) {
    REQUIRE(w.size() == 5);
    CHECK(w[1] == "1");   // LISTEN_FDS
    CHECK(w[2] == pid);   // LISTEN_PID
    CHECK(w[4] == std::to_string(port));
  }

  REQUIRE_EXIT(s.pmx({"scale", "web", "1"}), 0);
  const auto one = pids_of(s, "web");
  REQUIRE(one.size() == 1);
  CHECK(four.count(*one.begin()) == 1);
  // Only the instance left answers: the removed ones are gone, the socket stays open.
  for (int i = 0; i < 20; ++i) {
    auto body = http_get(port);
    REQUIRE(body);
    CHECK(body->substr(0, body->find(' ')) == *one.begin());
  }
}
