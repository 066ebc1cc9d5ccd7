// Tests of config/paths.hpp: the layout of a pmx home. Never reads or writes the real home.
#include "config/paths.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <optional>
#include <string>

namespace pmx::config {
namespace {

// Sets or unsets an environment variable for one scope, restoring the old value after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = std::string(old);
    if (value) ::setenv(name, value, 1);
    else ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST_CASE("Paths: files and folders directly under the home", "[paths]") {
  Paths p{"/tmp/pmx-test-home"};
  CHECK(p.socket() == "/tmp/pmx-test-home/pmx.sock");
  CHECK(p.daemon_pid() == "/tmp/pmx-test-home/pmxd.pid");
  CHECK(p.daemon_log() == "/tmp/pmx-test-home/pmx.log");
  CHECK(p.logs_dir() == "/tmp/pmx-test-home/logs");
  CHECK(p.pids_dir() == "/tmp/pmx-test-home/pids");
}

TEST_CASE("Paths: per-app log and pid files", "[paths]") {
  Paths p{"/h"};
  CHECK(p.out_log("api") == "/h/logs/api-out.log");
  CHECK(p.err_log("api") == "/h/logs/api-error.log");
  CHECK(p.pid_file("api", 0) == "/h/pids/api-0.pid");
  CHECK(p.pid_file("api", 12) == "/h/pids/api-12.pid");
}

TEST_CASE("Paths: app names are made file-safe", "[paths]") {
  Paths p{"/h"};
  CHECK(p.out_log("my app/x") == "/h/logs/my-app-x-out.log");
  CHECK(p.err_log("a_b") == "/h/logs/a-b-error.log");
  CHECK(p.pid_file("a:b", 3) == "/h/pids/a-b-3.pid");
}

TEST_CASE("Paths: cgroup_name is stable per home and differs between homes", "[paths]") {
  Paths a{"/home/one/.pmx"};
  Paths a2{"/home/one/.pmx"};
  Paths b{"/home/two/.pmx"};
  CHECK(a.cgroup_name() == a2.cgroup_name());
  CHECK(a.cgroup_name() != b.cgroup_name());
  CHECK_THAT(a.cgroup_name(), Catch::Matchers::StartsWith("pmx-"));
  CHECK(a.cgroup_name().find('/') == std::string::npos);
}

TEST_CASE("Paths::from_environment: PMX_HOME wins", "[paths]") {
  ScopedEnv pmx_home("PMX_HOME", "/tmp/pmx-unit-home");
  ScopedEnv home("HOME", "/tmp/pmx-unit-user");
  CHECK(Paths::from_environment().home == "/tmp/pmx-unit-home");
}

TEST_CASE("Paths::from_environment: HOME/.pmx without PMX_HOME", "[paths]") {
  ScopedEnv home("HOME", "/tmp/pmx-unit-user");
  SECTION("PMX_HOME unset") {
    ScopedEnv pmx_home("PMX_HOME", nullptr);
    CHECK(Paths::from_environment().home == "/tmp/pmx-unit-user/.pmx");
  }
  SECTION("PMX_HOME empty") {
    ScopedEnv pmx_home("PMX_HOME", "");
    CHECK(Paths::from_environment().home == "/tmp/pmx-unit-user/.pmx");
  }
}

}  // namespace
}  // namespace pmx::config
