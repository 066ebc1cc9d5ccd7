// Environment: what an app is given at start, kept across restart, refreshed by --update-env.
#include "tests/integration/harness.hpp"

using namespace pmx::itest;

namespace {

RunOptions with_foo(const std::string& value) {
  RunOptions opts;
  opts.env = {{"FOO", value}};
  return opts;
}

}  // namespace

TEST_CASE("an app gets the caller's environment plus pmx's variables", "[integration][env]") {
  Session s;
  std::string dump = s.home.scratch("env.txt");
  REQUIRE_EXIT(s.pmx({"start", bin::kEnvDump, "--name", "envapp", "--kill-timeout", "500", "--",
                      dump},
                     with_foo("1")),
               0);
  REQUIRE(wait_until([&] { return file_exists(dump); }, 10s));
  auto env = read_env_dump(dump);
  auto app = s.app("envapp");
  INFO("app env:\n" << read_file(dump).value_or(""));

  CHECK(env["FOO"] == "1");
  CHECK(env["PATH"] == std::string(getenv("PATH") ? getenv("PATH") : ""));
  CHECK(env["pm_id"] == std::to_string(app["pm_id"].get<int>()));
  CHECK(env["name"] == "envapp");
  CHECK(env["namespace"] == "default");
  CHECK(env["NODE_APP_INSTANCE"] == "0");
  CHECK_FALSE(env["unique_id"].empty());
  CHECK(env["PMX_HOME"] == s.home.path());

  // jlist shows the same environment and unique_id.
  CHECK(app["pm2_env"]["unique_id"] == env["unique_id"]);
  CHECK(app["pm2_env"]["NODE_APP_INSTANCE"] == 0);
  REQUIRE(app["pm2_env"]["env"].is_object());
  CHECK(app["pm2_env"]["env"].value("FOO", "") == "1");
}

TEST_CASE("restart keeps the stored env - restart --update-env takes the caller's",
          "[integration][env]") {
  Session s;
  std::string dump = s.home.scratch("env.txt");
  REQUIRE_EXIT(s.pmx({"start", bin::kEnvDump, "--name", "envapp", "--kill-timeout", "500", "--",
                      dump},
                     with_foo("1")),
               0);
  REQUIRE(wait_until([&] { return file_exists(dump); }, 10s));
  auto first = read_env_dump(dump);
  REQUIRE(first["FOO"] == "1");

  REQUIRE(std::remove(dump.c_str()) == 0);
  REQUIRE_EXIT(s.pmx({"restart", "envapp"}, with_foo("2")), 0);
  REQUIRE(wait_until([&] { return file_exists(dump); }, 10s));
  auto second = read_env_dump(dump);
  CHECK(second["FOO"] == "1");
  CHECK(second["unique_id"] == first["unique_id"]);

  REQUIRE(std::remove(dump.c_str()) == 0);
  REQUIRE_EXIT(s.pmx({"restart", "envapp", "--update-env"}, with_foo("2")), 0);
  REQUIRE(wait_until([&] { return file_exists(dump); }, 10s));
  auto third = read_env_dump(dump);
  CHECK(third["FOO"] == "2");
  CHECK(third["unique_id"] == first["unique_id"]);
  CHECK(third["name"] == "envapp");
  CHECK(s.app("envapp")["pm2_env"]["env"].value("FOO", "") == "2");
}

TEST_CASE("NODE_APP_INSTANCE and unique_id differ between apps", "[integration][env]") {
  Session s;
  std::string a = s.home.scratch("a.txt"), b = s.home.scratch("b.txt");
  REQUIRE_EXIT(s.pmx({"start", bin::kEnvDump, "--name", "a", "--", a}), 0);
  REQUIRE_EXIT(s.pmx({"start", bin::kEnvDump, "-f", "--name", "b", "--", b}), 0);
  REQUIRE(wait_until([&] { return file_exists(a) && file_exists(b); }, 10s));
  auto ea = read_env_dump(a), eb = read_env_dump(b);
  CHECK(ea["unique_id"] != eb["unique_id"]);
  CHECK(ea["pm_id"] != eb["pm_id"]);
  // Smallest free index per name: both are the first instance of their name.
  CHECK(ea["NODE_APP_INSTANCE"] == "0");
  CHECK(eb["NODE_APP_INSTANCE"] == "0");
}

TEST_CASE("entries asked for brief leave out the environment, jlist keeps it", "[integration][env]") {
  Session s;
  std::string dump = s.home.scratch("env.txt");
  REQUIRE_EXIT(s.pmx({"start", bin::kEnvDump, "--name", "envapp", "--", dump}, with_foo("1")), 0);

  RawClient c;
  REQUIRE(c.connect(s.home.socket()));
  const auto full = c.call(1, "list");
  const auto brief = c.call(2, "list", {{"brief", true}});
  REQUIRE(full);
  REQUIRE(brief);
  INFO("brief: " << brief->dump());
  const json& full_entry = (*full)["result"].at(0);
  const json& brief_entry = (*brief)["result"].at(0);
  CHECK(full_entry["pm2_env"]["env"].value("FOO", "") == "1");
  CHECK(full_entry["pm2_env"].value("FOO", "") == "1");  // PM2's copy at the top of pm2_env
  CHECK_FALSE(brief_entry["pm2_env"].contains("env"));
  CHECK_FALSE(brief_entry["pm2_env"].contains("FOO"));
  // Everything else is the same entry.
  CHECK(brief_entry["pm_id"] == full_entry["pm_id"]);
  CHECK(brief_entry["pm2_env"]["status"] == "online");
  CHECK(brief_entry["pm2_env"]["unique_id"] == full_entry["pm2_env"]["unique_id"]);
  CHECK(brief_entry["pm2_env"]["pm_out_log_path"] == full_entry["pm2_env"]["pm_out_log_path"]);
  // The verbs the CLI reads entries from answer brief too (reload here: it keeps its own plan).
  const auto reloaded = c.call(3, "reload", {{"targets", {"envapp"}}, {"brief", true}}, 10s);
  REQUIRE(reloaded);
  INFO("reload: " << reloaded->dump());
  REQUIRE((*reloaded)["result"].is_array());
  CHECK_FALSE((*reloaded)["result"].at(0)["pm2_env"].contains("env"));
  CHECK((*reloaded)["result"].at(0)["pm2_env"]["status"] == "online");

  // `pmx jlist` shows the environment, `pmx list` still draws its table.
  CHECK(s.app("envapp")["pm2_env"]["env"].value("FOO", "") == "1");
  const auto list = s.pmx({"list"});
  CHECK(list.exit_code == 0);
  CHECK(list.out.find("envapp") != std::string::npos);
}
