// Memory: monit.memory reports the app's RSS; --max-memory-restart restarts a growing app.
#include <algorithm>
#include <cctype>
#include <regex>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;

TEST_CASE("monit.memory reports the app's resident memory", "[integration][memory]") {
  Session s({"--sample-interval", "200"});
  REQUIRE_EXIT(s.pmx({"start", bin::kMemhog, "--name", "hog", "--kill-timeout", "500", "--",
                      "200", "40"}),
               0);
  std::int64_t memory = 0;
  bool ok = wait_until(
      [&] {
        auto app = s.app("hog");
        memory = app["monit"]["memory"].get<std::int64_t>();
        return memory >= 35LL * 1024 * 1024;
      },
      10s);
  INFO("monit.memory " << memory);
  CHECK(ok);
  CHECK(memory < 400LL * 1024 * 1024);
  CHECK(s.app("hog")["monit"]["cpu"].is_number());
}

TEST_CASE("max-memory-restart restarts an app above the limit", "[integration][memory]") {
  Session s({"--sample-interval", "200"});
  REQUIRE_EXIT(s.pmx({"start", bin::kMemhog, "--name", "hog", "--max-memory-restart", "50M",
                      "--kill-timeout", "500", "--", "100", "120"}),
               0);
  pid_t first = s.wait_pid("hog");
  REQUIRE(first > 0);
  REQUIRE(wait_until([&] { return s.app("hog")["pm2_env"]["restart_time"].get<int>() >= 1; },
                     15s));
  CHECK_FALSE(process_alive(first));
  CHECK(s.status("hog") != "errored");

  // pmx.log says why, with the figure.
  std::string why;
  bool logged = wait_until(
      [&] {
        for (const auto& line : read_lines(s.home.daemon_log())) {
          auto l = lower(line);
          bool about_memory = l.find("memory") != std::string::npos ||
                              l.find("rss") != std::string::npos;
          // A size: "52M", "212.5 MiB", "54525952 bytes", or a bare byte count.
          static const std::regex kFigure(
              R"((\d+(\.\d+)?\s*(k|m|g|kb|mb|gb|kib|mib|gib|bytes)\b)|\d{7,})");
          bool has_figure = std::regex_search(l, kFigure);
          if (l.find("hog") != std::string::npos && about_memory && has_figure) {
            why = line;
            return true;
          }
        }
        return false;
      },
      2s);
  INFO("pmx.log:\n" << read_file(s.home.daemon_log()).value_or("(missing)"));
  CHECK(logged);
}
