// Tests of config/paths.hpp: the layout of a pmx home. Never reads or writes the real home.
#include "config/paths.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <optional>
#include <algorithm>
#include <map>
#include <string>
#include <vector>

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
  CHECK(p.settings() == "/tmp/pmx-test-home/pmx.yaml");
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
  CHECK(p.out_log("my app/x") == "/h/logs/my%20app%2Fx-out.log");
  CHECK(p.err_log("a_b") == "/h/logs/a_b-error.log");
  CHECK(p.pid_file("a:b", 3) == "/h/pids/a%3Ab-3.pid");
}

TEST_CASE("file_safe_name keeps the names PM2 users have", "[paths]") {
  for (const char* name : {"api", "my-app", "worker.1", "my_app", "API_v2.0-beta", "AZaz09", "a.b.c"}) {
    CHECK(file_safe_name(name) == name);
  }
  // UTF-8 letters stay as they are.
  CHECK(file_safe_name("日本") == "日本");
  CHECK(file_safe_name("caf\xc3\xa9") == "caf\xc3\xa9");
  CHECK(file_safe_name("\xf0\x9f\x9a\x80") == "\xf0\x9f\x9a\x80");  // U+1F680, four bytes
}

TEST_CASE("file_safe_name escapes everything else as %XX", "[paths]") {
  CHECK(file_safe_name("a b") == "a%20b");
  CHECK(file_safe_name("a/b") == "a%2Fb");
  CHECK(file_safe_name("100%") == "100%25");
  CHECK(file_safe_name("x:y*z?") == "x%3Ay%2Az%3F");
  CHECK(file_safe_name("tab\there") == "tab%09here");
  CHECK(file_safe_name("") == "");
  // Invalid UTF-8: a lone continuation byte, a truncated sequence, an overlong '/', a surrogate.
  CHECK(file_safe_name("\x80") == "%80");
  CHECK(file_safe_name("\xe6\x97") == "%E6%97");
  CHECK(file_safe_name("\xc0\xaf") == "%C0%AF");
  CHECK(file_safe_name("\xed\xa0\x80") == "%ED%A0%80");
  CHECK(file_safe_name("\xf4\x90\x80\x80") == "%F4%90%80%80");  // above U+10FFFF
}

// Reverses file_safe_name; nullopt when text is not one of its outputs.
std::optional<std::string> decode_file_name(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
    i += 2;
  }
  return out;
}

TEST_CASE("file_safe_name is one to one over tricky names", "[paths]") {
  std::vector<std::string> names = {
      "a b", "a_b", "a-b", "a.b", "a%20b", "a%b", "a%", "%", "%%", "%25", "a__b", "a--b", "a b ", " a b",
      "日本", "中国", "日本 ", "日本_", "-", "_", ".", "..", "...", "a/b", "a\\b", "a:b", "a*b", "a?b",
      "a\"b", "a'b", "a\tb", "a\nb", "\x80", "\x81", "\xc3", "\xc3\xa9", "e\xcc\x81", "\xe6\x97", "\xff",
      "api", "api-0", "api_0", "api 0", "API", "Api", "my-app", "my_app", "my app", "worker.1", "worker 1",
  };
  // Every byte value alone, and between letters.
  for (int b = 1; b < 256; ++b) {
    names.push_back(std::string(1, static_cast<char>(b)));
    names.push_back("x" + std::string(1, static_cast<char>(b)) + "y");
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::map<std::string, std::string> seen;
  for (const auto& name : names) {
    const std::string file = file_safe_name(name);
    INFO("'" << name << "' -> '" << file << "'");
    auto [it, fresh] = seen.emplace(file, name);
    CHECK(fresh);
    CHECK(decode_file_name(file) == name);
    CHECK(file.find('/') == std::string::npos);
    CHECK(file.find('\0') == std::string::npos);
  }
  Paths p{"/h"};
  CHECK(p.out_log("a b") != p.out_log("a_b"));
  CHECK(p.out_log("日本") != p.out_log("中国"));
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
