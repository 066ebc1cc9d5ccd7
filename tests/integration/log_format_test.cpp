// lines stamped (--time, log_date_format) or written as JSON, every line of a chunk;
// merge_logs and /dev/null; rotation by size that keeps every line once, in order, with and
// without compression, and retention that keeps other apps' files; pmx.log rotates too.
#include <dirent.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <regex>

#include "harness.hpp"

using namespace pmx::itest;

namespace {

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') names.emplace_back(e->d_name);
    }
    ::closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

/// The lines of a log and its rotations, oldest first: rotated files by name (gzip ones
/// decompressed), then the current file.
std::vector<std::string> all_lines(const std::string& dir, const std::string& stem) {
  std::vector<std::string> lines;
  for (const auto& name : list_dir(dir)) {
    if (name.rfind(stem + "__", 0) != 0) continue;
    const std::string path = dir + "/" + name;
    std::string text;
    if (name.size() > 3 && name.substr(name.size() - 3) == ".gz") {
      const RunResult unzip = run_process({"/bin/gzip", "-dc", path});
      text = unzip.out;
    } else {
      text = read_file(path).value_or("");
    }
    std::size_t at = 0;
    for (auto nl = text.find('\n'); nl != std::string::npos; at = nl + 1, nl = text.find('\n', at)) lines.push_back(text.substr(at, nl - at));
  }
  for (auto& line : read_lines(dir + "/" + stem + ".log")) lines.push_back(line);
  return lines;
}

/// Whether lines are exactly "<prefix>1" .. "<prefix>n".
bool numbered(const std::vector<std::string>& lines, const std::string& prefix, long n) {
  if (lines.size() != static_cast<std::size_t>(n)) return false;
  for (long i = 0; i < n; ++i) {
    if (lines[static_cast<std::size_t>(i)] != prefix + std::to_string(i + 1)) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("the --time option stamps every line of a chunk, ISO 8601 with milliseconds and offset",
          "[integration]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", "/bin/sh", "--name", "stamped", "--time", "--", "-c",
                      "printf 'a\\nb\\nc\\n'; echo e >&2; exec sleep 1000"}), 0);
  const std::string out = s.home.path() + "/logs/stamped-out.log";
  REQUIRE(wait_until([&] { return read_lines(out).size() == 3; }, 5s));
  const std::regex iso(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d: ([abc]))");
  std::string letters;
  for (const auto& line : read_lines(out)) {
    std::smatch m;
    INFO(line);
    REQUIRE(std::regex_match(line, m, iso));
    letters += m[1].str();
  }
  CHECK(letters == "abc");
  REQUIRE(wait_until([&] { return read_lines(s.home.path() + "/logs/stamped-error.log").size() == 1; }, 5s));
  CHECK(std::regex_match(read_lines(s.home.path() + "/logs/stamped-error.log")[0],
                         std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d: e)")));
}

TEST_CASE("log_date_format takes PM2's tokens and [literal] text", "[integration]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", "/bin/sh", "--name", "fmt", "--log-date-format", "[day] YY/M/D H:mm:ss.SSS A ZZ", "--",
                      "-c", "echo hello; exec sleep 1000"}), 0);
  const std::string out = s.home.path() + "/logs/fmt-out.log";
  REQUIRE(wait_until([&] { return read_lines(out).size() == 1; }, 5s));
  const std::string line = read_lines(out)[0];
  INFO(line);
  CHECK(std::regex_match(line, std::regex(R"(day \d\d/\d{1,2}/\d{1,2} \d{1,2}:\d\d:\d\d\.\d{3} (AM|PM) [+-]\d{4}: hello)")));
  const RunResult bad = s.pmx({"start", "/bin/sh", "--name", "badfmt", "--log-date-format", "[unclosed", "--", "-c", "true"});
  CHECK(bad.exit_code != 0);
  CHECK(bad.err.find("log_date_format") != std::string::npos);
  CHECK_FALSE(s.find_app("badfmt"));
}

TEST_CASE("log_type json writes one object per line, whatever the bytes", "[integration]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", "/bin/sh", "--name", "js", "--log-type", "json", "--", "-c",
                      "printf 'say \"hi\"\\n\\377raw\\ttab\\n'; echo oops >&2; exec sleep 1000"}), 0);
  const std::string out = s.home.path() + "/logs/js-out.log";
  REQUIRE(wait_until([&] { return read_lines(out).size() == 2; }, 5s));
  std::vector<json> objects;
  for (const auto& line : read_lines(out)) objects.push_back(json::parse(line));
  CHECK(objects[0]["message"] == "say \"hi\"");
  CHECK(objects[1]["message"] == "\xEF\xBF\xBDraw\ttab");
  for (const auto& o : objects) {
    CHECK(o["type"] == "out");
    CHECK(o["app_name"] == "js");
    CHECK(o["process_id"] == s.app("js")["pm_id"]);
    CHECK(std::regex_match(o["timestamp"].get<std::string>(), std::regex(R"(\d{4}-\d\d-\d\dT.*)")));
  }
  const std::string err = s.home.path() + "/logs/js-error.log";
  REQUIRE(wait_until([&] { return read_lines(err).size() == 1; }, 5s));
  CHECK(json::parse(read_lines(err)[0])["type"] == "err");
}

TEST_CASE("merge_logs gives instances one file, /dev/null turns a stream off", "[integration]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", bin::kLinegen, "--name", "merged", "-i", "2", "--merge-logs", "--", "3"}), 0);
  REQUIRE_EXIT(s.pmx({"start", bin::kLinegen, "--name", "apart", "-i", "2", "--", "3"}), 0);
  REQUIRE_EXIT(s.pmx({"start", bin::kLinegen, "--name", "quiet", "-o", "/dev/null", "--", "3"}), 0);
  const std::string logs = s.home.path() + "/logs";
  CHECK(wait_until([&] { return read_lines(logs + "/merged-out.log").size() == 6; }, 5s));
  const std::string apart0 = logs + "/apart-out-" + std::to_string(s.jlist()[2]["pm_id"].get<int>()) + ".log";
  CHECK(wait_until([&] { return read_lines(apart0).size() == 3; }, 5s));
  CHECK(wait_until([&] { return read_lines(logs + "/quiet-error.log").size() == 3; }, 5s));
  CHECK_FALSE(file_exists(logs + "/quiet-out.log"));
  CHECK_FALSE(file_exists(logs + "/apart-out.log"));
}

TEST_CASE("200,000 lines arrive once and in order, also across size rotations",
          "[integration]") {
  const bool compress = GENERATE(false, true);
  Session s;
  const std::string logs = s.home.path() + "/logs";
  // Other apps' files that share the name's prefix: retention must leave them.
  std::ofstream(logs + "/big-out-extra__2020-01-01_00-00-00-000.log") << "not ours\n";
  std::ofstream(logs + "/big__2020-01-01_00-00-00-000.log") << "not ours\n";
  std::vector<std::string> args = {"start", bin::kLinegen, "--name", "big", "--log-max-size", "1M", "--log-retain", "100"};
  if (compress) args.push_back("--log-compress");
  args.insert(args.end(), {"--", "200000"});
  REQUIRE_EXIT(s.pmx(args), 0);
  // Both streams to their last line: they are two pipes, and stderr's may come second.
  auto done = [&] {
    const auto out = read_lines(logs + "/big-out.log");
    const auto err = read_lines(logs + "/big-error.log");
    return !out.empty() && out.back() == "out 200000" && !err.empty() && err.back() == "err 200000";
  };
  REQUIRE(wait_until(done, 30s));
  // Compression runs after each rotation, off the loop: wait until no plain rotated file is left.
  auto settled = [&] {
    if (!compress) return true;
    for (const auto& name : list_dir(logs)) {
      const bool rotated = name.rfind("big-out__", 0) == 0 || name.rfind("big-error__", 0) == 0;
      if (rotated && name.size() > 4 && name.substr(name.size() - 4) == ".log") return false;
      if (name.find(".tmp") != std::string::npos) return false;
    }
    return true;
  };
  REQUIRE(wait_until(settled, 30s));
  CHECK(numbered(all_lines(logs, "big-out"), "out ", 200000));
  CHECK(numbered(all_lines(logs, "big-error"), "err ", 200000));
  std::size_t rotated = 0;
  for (const auto& name : list_dir(logs)) rotated += name.rfind("big-out__", 0) == 0;
  CHECK(rotated >= 1);
  CHECK(file_exists(logs + "/big-out-extra__2020-01-01_00-00-00-000.log"));
  CHECK(file_exists(logs + "/big__2020-01-01_00-00-00-000.log"));
}

TEST_CASE("retention keeps the newest rotated files of the log only", "[integration]") {
  Session s;
  const std::string logs = s.home.path() + "/logs";
  REQUIRE_EXIT(s.pmx({"start", bin::kLinegen, "--name", "few", "--log-max-size", "10K", "--log-retain", "2", "--", "20000"}), 0);
  REQUIRE(wait_until([&] {
    const auto current = read_lines(logs + "/few-out.log");
    return !current.empty() && current.back() == "out 20000";
  }, 30s));
  auto rotated = [&] {
    std::vector<std::string> mine;
    for (const auto& name : list_dir(logs)) {
      if (name.rfind("few-out__", 0) == 0) mine.push_back(name);
    }
    return mine;
  };
  CHECK(wait_until([&] { return rotated().size() == 2; }, 10s));
  // The two kept are the newest: with the current file they end the sequence.
  const auto lines = all_lines(logs, "few-out");
  REQUIRE_FALSE(lines.empty());
  CHECK(lines.back() == "out 20000");
  for (std::size_t i = 1; i < lines.size(); ++i) {
    INFO(i);
    REQUIRE(std::stol(lines[i].substr(4)) == std::stol(lines[i - 1].substr(4)) + 1);
  }
}

TEST_CASE("pmx.yaml sets the defaults, pmx.log rotates, reloadLogs reads it again",
          "[integration]") {
  TempHome home;
  std::ofstream(home.path() + "/pmx.yaml") << "daemon_log:\n  max_size: 1K\n  retain: 2\nlogs:\n  max_size: 4K\n";
  AutostartedDaemonGuard guard{home};
  // Enough daemon log lines: start and delete a few apps.
  for (int i = 0; i < 8; ++i) {
    REQUIRE_EXIT(run_pmx(home.path(), {"start", bin::kLinegen, "--name", "d" + std::to_string(i), "--", "1000"}), 0);
  }
  const std::string logs = home.path() + "/logs";
  CHECK(wait_until([&] {
    std::size_t rotated = 0;
    for (const auto& name : list_dir(home.path())) rotated += name.rfind("pmx__", 0) == 0;
    return rotated == 2;
  }, 10s));
  // App logs rotate at 4K by default now (1000 lines of "out N" are about 8.9K).
  CHECK(wait_until([&] {
    for (const auto& name : list_dir(logs)) {
      if (name.rfind("d0-out__", 0) == 0) return true;
    }
    return false;
  }, 10s));
  std::ofstream(home.path() + "/pmx.yaml") << "logs:\n  retian: 3\n";
  const RunResult reload = run_pmx(home.path(), {"reloadLogs"});
  CHECK(reload.exit_code != 0);
  CHECK(reload.err.find("pmx.yaml:2") != std::string::npos);
  CHECK(reload.err.find("retain") != std::string::npos);
}

TEST_CASE("log_rotate_interval rotates on its cron schedule, between lines", "[integration]") {
  Session s;
  const std::string logs = s.home.path() + "/logs";
  // Every second (six fields: seconds first); the app writes a numbered line every 20 ms.
  REQUIRE_EXIT(s.pmx({"start", "/bin/sh", "--name", "tick", "--log-rotate-interval", "* * * * * *", "--", "-c",
                      "i=1; while [ $i -le 150 ]; do echo \"n $i\"; i=$((i+1)); sleep 0.02; done; exec sleep 1000"}), 0);
  auto rotations = [&] {
    std::size_t n = 0;
    for (const auto& name : list_dir(logs)) n += name.rfind("tick-out__", 0) == 0;
    return n;
  };
  CHECK(wait_until([&] { return rotations() >= 2; }, 15s));
  REQUIRE(wait_until([&] {
    const auto current = all_lines(logs, "tick-out");
    return !current.empty() && current.back() == "n 150";
  }, 20s));
  CHECK(numbered(all_lines(logs, "tick-out"), "n ", 150));
}
