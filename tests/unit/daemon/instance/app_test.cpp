// App: owning the instances of one name, their order, and NODE_APP_INSTANCE numbering.
#include <catch2/catch.hpp>

#include <memory>
#include <vector>

#include "daemon/instance/app.hpp"

using namespace pmx;
using namespace pmx::daemon;

namespace {

std::unique_ptr<Instance> make(int id, const std::string& name, int app_instance = 0) {
  config::AppSpec spec;
  spec.name = name;
  spec.script = "/bin/true";
  auto in = std::make_unique<Instance>(id, spec);
  in->app_instance = app_instance;
  return in;
}

std::vector<int> ids(const App& app) {
  std::vector<int> out;
  for (const auto& [id, in] : app.instances()) out.push_back(in->id);
  return out;
}

}  // namespace

TEST_CASE("a new app has its name and no instance", "[app]") {
  App app("api");
  CHECK(app.name() == "api");
  CHECK(app.empty());
  CHECK(app.find(0) == nullptr);
  CHECK(app.free_app_instance() == 0);
}

TEST_CASE("an app iterates its instances in pm_id order, whatever the order they came in", "[app]") {
  App app("api");
  app.add(make(7, "api"));
  app.add(make(2, "api"));
  app.add(make(4, "api"));
  CHECK(ids(app) == std::vector<int>{2, 4, 7});
  CHECK(!app.empty());
}

TEST_CASE("an added instance keeps its address while others come and go", "[app]") {
  App app("api");
  Instance& first = app.add(make(3, "api"));
  Instance& kept = app.add(make(11, "api"));
  for (int id = 12; id < 50; ++id) app.add(make(id, "api"));
  for (int id = 12; id < 50; id += 2) CHECK(app.remove(id));
  CHECK(app.find(3) == &first);
  CHECK(app.find(11) == &kept);
  CHECK(app.find(12) == nullptr);
  CHECK(app.find(13)->id == 13);
}

TEST_CASE("removing an instance destroys it, removing an unknown id changes nothing", "[app]") {
  App app("api");
  app.add(make(0, "api"));
  app.add(make(1, "api"));
  CHECK(!app.remove(5));
  CHECK(ids(app) == std::vector<int>{0, 1});
  CHECK(app.remove(0));
  CHECK(app.find(0) == nullptr);
  CHECK(ids(app) == std::vector<int>{1});
  CHECK(!app.remove(0));
  CHECK(app.remove(1));
  CHECK(app.empty());
}

TEST_CASE("NODE_APP_INSTANCE of a new instance is the smallest index free in the app", "[app]") {
  App app("api");
  app.add(make(0, "api", 0));
  CHECK(app.free_app_instance() == 1);
  app.add(make(1, "api", 1));
  app.add(make(2, "api", 2));
  CHECK(app.free_app_instance() == 3);
  REQUIRE(app.remove(1));  // index 1 is free again: the next instance takes it
  CHECK(app.free_app_instance() == 1);
  REQUIRE(app.remove(0));
  CHECK(app.free_app_instance() == 0);
}
