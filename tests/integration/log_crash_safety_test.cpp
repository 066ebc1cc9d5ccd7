// Log capture across pmxd crashes: a pmxd killed with SIGKILL while an app writes flat out
// loses no line and tears none; the next pmxd continues exactly where the dead one stopped,
// whatever the lines' style (raw, stamped) and into the combined log_file too.
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <memory>

#include "harness.hpp"

using namespace pmx::itest;

namespace {

std::uint64_t size_of_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

/// A log's files in the order they were written: its rotated files ("<stem>__<stamp>.log",
/// oldest first by name), then the live one.
std::vector<std::string> log_and_rotations(const std::string& path) {
  const std::filesystem::path live(path);
  const std::string stem = live.stem().string() + "__";
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(live.parent_path())) {
    const std::string name = e.path().filename().string();
    if (name.rfind(stem, 0) == 0) files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  files.push_back(path);
  return files;
}

std::uint64_t bytes_of_log(const std::string& path) {
  std::uint64_t total = 0;
  for (const auto& f : log_and_rotations(path)) total += size_of_file(f);
  return total;
}

/// Bytes linegen writes for lines 1..n of one stream: "<prefix> <i>\n" each.
std::uint64_t linegen_bytes(const std::string& prefix, long n) {
  std::uint64_t total = 0;
  long digits = 1;
  for (long from = 1; from <= n; from *= 10, ++digits) {
    const long to = std::min(n, from * 10 - 1);
    total += static_cast<std::uint64_t>(to - from + 1) * (prefix.size() + 1 + static_cast<std::uint64_t>(digits) + 1);
  }
  return total;
}

/// What went wrong with the numbered lines of one stream in a file: lines of the stream whose
/// number is not the next one (lost or repeated), and lines that are not a whole
/// "<prefix> <n>" (torn). stamp_sep: a stamped line's text follows this separator.
struct LineCheck {
  long numbered = 0;
  long out_of_place = 0;
  long torn = 0;
  std::string first_problem;
};

LineCheck check_numbered(const std::string& path, const std::string& prefix, const std::string& stamp_sep = {}) {
  LineCheck c;
  long next = 1;
  const std::string head = prefix + " ";
  for (const auto& file : log_and_rotations(path)) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    std::string text = line;
    if (!stamp_sep.empty()) {
      const auto at = text.find(stamp_sep);
      if (at == std::string::npos) {
        ++c.torn;
        if (c.first_problem.empty()) c.first_problem = "unstamped: " + line;
        continue;
      }
      text = text.substr(at + stamp_sep.size());
    }
    if (text.rfind(head, 0) != 0) {
      // A line of the other stream (a combined file), or a torn one.
      if (text.rfind("out ", 0) == 0 || text.rfind("err ", 0) == 0) {
        const std::string digits = text.substr(4);
        if (!digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos) continue;
      }
      ++c.torn;
      if (c.first_problem.empty()) c.first_problem = "torn: " + line;
      continue;
    }
    const std::string digits = text.substr(head.size());
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) {
      ++c.torn;
      if (c.first_problem.empty()) c.first_problem = "torn: " + line;
      continue;
    }
    const long n = std::stol(digits);
    if (n != next) {
      ++c.out_of_place;
      if (c.first_problem.empty()) c.first_problem = "line " + std::to_string(n) + " where " + std::to_string(next) + " was due";
    }
    next = n + 1;
    ++c.numbered;
  }
  }
  return c;
}

/// The pmxds of one home: the running one last. A killed one is kept until the end (its
/// teardown would otherwise send `kill` to its successor), and teardown goes newest first.
struct PmxdSeries {
  const TempHome& home;
  std::vector<std::unique_ptr<DaemonProcess>> all;
  explicit PmxdSeries(const TempHome& h) : home(h) { all.push_back(std::make_unique<DaemonProcess>(home)); }
  ~PmxdSeries() {
    while (!all.empty()) all.pop_back();
  }
  /// Kills the running pmxd with SIGKILL and starts the next one, which adopts the apps.
  void crash_and_replace() {
    all.back()->crash();
    all.push_back(std::make_unique<DaemonProcess>(home));
  }
};

/// Kills pmxd `kills` times while linegen writes, each time once the log has grown by step
/// bytes.
void crash_repeatedly(PmxdSeries& pmxd, const std::string& log, int kills, std::uint64_t step) {
  for (int k = 0; k < kills; ++k) {
    const std::uint64_t at = bytes_of_log(log);
    INFO("kill " << k + 1 << " of " << kills << ", log at " << at << " bytes");
    REQUIRE(wait_until([&] { return bytes_of_log(log) >= at + step; }, 60s));
    pmxd.crash_and_replace();
  }
}

}  // namespace

TEST_CASE("pmxd killed 20 times under a flat-out writer loses no line and tears none",
          "[integration][regression][long]") {
  TempHome home;
  PmxdSeries pmxd(home);
  constexpr long kLines = 5'000'000;
  REQUIRE_EXIT(run_pmx(home.path(), {"start", bin::kLinegen, "--name", "gen", "--", std::to_string(kLines)}), 0);
  const std::string out = home.path() + "/logs/gen-out.log";
  const std::string err = home.path() + "/logs/gen-error.log";
  crash_repeatedly(pmxd, out, 20, linegen_bytes("out", kLines) / 30);
  // Every line arrives, once, in order, whole.
  REQUIRE(wait_until([&] { return bytes_of_log(out) >= linegen_bytes("out", kLines); }, 120s));
  REQUIRE(wait_until([&] { return bytes_of_log(err) >= linegen_bytes("err", kLines); }, 120s));
  for (const auto& [path, prefix] : {std::pair{out, std::string("out")}, std::pair{err, std::string("err")}}) {
    INFO(path);
    const LineCheck c = check_numbered(path, prefix);
    INFO(c.first_problem);
    CHECK(c.numbered == kLines);
    CHECK(c.out_of_place == 0);
    CHECK(c.torn == 0);
    CHECK(bytes_of_log(path) == linegen_bytes(prefix, kLines));
  }
}

TEST_CASE("stamped lines and the combined log_file survive pmxd killed under a flat-out writer",
          "[integration][regression][long]") {
  TempHome home;
  PmxdSeries pmxd(home);
  constexpr long kLines = 400'000;
  REQUIRE_EXIT(run_pmx(home.path(), {"start", bin::kLinegen, "--name", "gen", "--time", "-l", "--",
                                     std::to_string(kLines)}),
               0);
  const std::string out = home.path() + "/logs/gen-out.log";
  const std::string combined = home.path() + "/logs/gen.log";
  crash_repeatedly(pmxd, out, 8, linegen_bytes("out", kLines) / 6);
  // A stamped line is "<stamp>: out <n>"; wait for the last line of each stream.
  auto ends_with_last = [&](const std::string& path, const std::string& last) {
    std::ifstream in(path, std::ios::binary);
    in.seekg(0, std::ios::end);
    const std::streamoff size = in.tellg();
    in.seekg(std::max<std::streamoff>(0, size - 65536));
    const std::string tail((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return tail.find(": " + last + "\n") != std::string::npos;
  };
  REQUIRE(wait_until([&] { return ends_with_last(out, "out " + std::to_string(kLines)); }, 120s));
  REQUIRE(wait_until([&] { return ends_with_last(home.path() + "/logs/gen-error.log", "err " + std::to_string(kLines)); }, 120s));
  // In the combined file the streams interleave: stdout may run more than a tail's length past
  // stderr's last line (a loaded machine), so the whole file and its rotations are read.
  REQUIRE(wait_until([&] { return check_numbered(combined, "err", ": ").numbered == kLines; }, 120s));
  // The stream's own file: every stamped line once, in order, whole. In the combined file an
  // unterminated line written out after 25 ms of quiet (a busy machine stops linegen mid-line)
  // may be ended by the other stream's next line, by design; stderr's lines (one write each)
  // are checked there.
  const std::string err = home.path() + "/logs/gen-error.log";
  for (const auto& [path, prefix] : {std::pair{out, std::string("out")}, std::pair{err, std::string("err")},
                                     std::pair{combined, std::string("err")}}) {
    INFO(path << " (" << prefix << ")");
    const LineCheck c = check_numbered(path, prefix, ": ");
    INFO(c.first_problem);
    CHECK(c.numbered == kLines);
    CHECK(c.out_of_place == 0);
    if (path != combined) CHECK(c.torn == 0);
  }
}
