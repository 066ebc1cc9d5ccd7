// control server: clients that do not read, that hold half requests or too many
// connections, a daemon out of descriptors, and notifications to subscribers. pmxd's memory,
// descriptors and CPU time are read from /proc while it is abused; others must still be served.
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <dirent.h>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;

namespace {

constexpr std::size_t kMaxSessions = 256;  // docs/protocol.md, "Connections and limits"
constexpr long kMiB = 1024 * 1024;

/// Open descriptors of pid, -1 when unreadable.
int fd_count(pid_t pid) {
  DIR* d = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (!d) return -1;
  int n = 0;
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.') ++n;
  closedir(d);
  return n;
}

std::string fd_listing(pid_t pid);

/// Sockets pid holds: the listening socket, plus one per connected client.
int socket_count(pid_t pid) {
  int n = 0;
  std::istringstream in(fd_listing(pid));
  for (std::string line; std::getline(in, line);)
    if (line.find("-> socket:") != std::string::npos) ++n;
  return n;
}


/// pid's descriptors and what they point to, for failure messages.
std::string fd_listing(pid_t pid) {
  std::string out;
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    char target[256] = {};
    ssize_t n = readlink((dir + "/" + e->d_name).c_str(), target, sizeof target - 1);
    out += std::string(e->d_name) + " -> " + (n > 0 ? target : "?") + "\n";
  }
  closedir(d);
  return out;
}

/// utime + stime of pid in clock ticks.
unsigned long long cpu_ticks(pid_t pid) {
  auto stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return 0;
  std::istringstream in(stat->substr(stat->rfind(')') + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return utime + stime;
}

std::size_t line_count(const std::string& path) { return read_lines(path).size(); }

std::size_t count_in_log(const TempHome& home, const std::string& needle) {
  std::size_t n = 0;
  for (const auto& l : read_lines(home.daemon_log()))
    if (l.find(needle) != std::string::npos) ++n;
  return n;
}

bool raw_ping(const TempHome& home) {
  RawClient c;
  if (!c.connect(home.socket())) return false;
  auto r = c.call(1, "ping", json::object(), 2s);
  return r && !r->is_discarded() && r->contains("result");
}

/// pmxd's descriptors once it serves (start-up done: the socket accepts before that) and no
/// client is connected (earlier clients' sessions may still be closing); -1 at the deadline.
int idle_fd_count(const TempHome& home, pid_t pid) {
  if (!wait_until([&] { return raw_ping(home); }, 10s)) return -1;
  // No client left: pmxd's own sockets only, the control listener and the sd_notify socket.
  if (!wait_until([&] { return socket_count(pid) == 2; }, 10s)) return -1;
  return fd_count(pid);
}

std::string request_line(int id, const std::string& method) {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", json::object()}}.dump() + "\n";
}

/// Sends as much of bytes as the peer takes; stops when a send stays blocked for `stall`.
std::size_t send_until_stalled(int fd, const std::string& bytes, milliseconds stall) {
  std::size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      off += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) break;
    pollfd p{fd, POLLOUT, 0};
    if (poll(&p, 1, static_cast<int>(stall.count())) == 0) break;
  }
  return off;
}

/// Sanitizer builds keep freed memory in a quarantine, which would look like growth: shrink it
/// for the daemons this test starts, so that RSS measures what pmxd holds.
class SmallQuarantine {
 public:
  SmallQuarantine() {
    const char* old = std::getenv("ASAN_OPTIONS");
    if (old) old_ = old;
    had_ = old != nullptr;
    std::string opts = old_.empty() ? "" : old_ + ":";
    ::setenv("ASAN_OPTIONS", (opts + "quarantine_size_mb=4:thread_local_quarantine_size_kb=64").c_str(), 1);
  }
  ~SmallQuarantine() {
    if (had_)
      ::setenv("ASAN_OPTIONS", old_.c_str(), 1);
    else
      ::unsetenv("ASAN_OPTIONS");
  }

 private:
  std::string old_;
  bool had_ = false;
};

}  // namespace

TEST_CASE("a client pipelining list without reading does not grow pmxd",
          "[integration]") {
  SmallQuarantine quarantine;
  Session s;
  // Apps with some environment make each list reply several kilobytes.
  RunOptions big_env;
  big_env.env.push_back({"PMX_TEST_PADDING", std::string(4096, 'p')});
  for (int i = 0; i < 4; ++i)
    REQUIRE_EXIT(s.pmx({"start", "-f", bin::kSleeper, "--name", "app" + std::to_string(i)}, big_env), 0);
  const pid_t pmxd = s.daemon.pid();
  const long rss_before = rss_bytes(pmxd);

  constexpr int kRequests = 5000;
  std::string requests;
  for (int i = 0; i < kRequests; ++i) requests += request_line(i, "list");

  RawClient abuser;
  REQUIRE(abuser.connect(s.home.socket()));
  // A small send buffer keeps what the kernel holds for pmxd, and so the final drain, short.
  const int sndbuf = 8192;
  ::setsockopt(abuser.fd(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  const std::size_t reply_bytes = s.pmx({"jlist"}).out.size();
  const std::size_t sent = send_until_stalled(abuser.fd(), requests, 1s);
  INFO("sent " << sent << " of " << requests.size() << " bytes, replies of " << reply_bytes);
  // Let pmxd work through what it has read: any answer to another client means it is idle again.
  REQUIRE(wait_until([&] { return raw_ping(s.home); }, 10s));
  const long rss_during = rss_bytes(pmxd);
  INFO("rss before " << rss_before << ", while abused " << rss_during);
  CHECK(rss_during < rss_before + 48 * kMiB);
  CHECK_EXIT(s.pmx({"ping"}), 0);

  // The abuser is not dropped: once it reads, pmxd reads its requests again and answers them all.
  const std::size_t whole = requests.rfind('\n', sent - 1) + 1;  // complete lines sent so far
  std::size_t expected = static_cast<std::size_t>(std::count(requests.begin(), requests.begin() + whole, '\n'));
  std::size_t answered = 0;
  REQUIRE(wait_until(
      [&] {
        while (auto line = abuser.read_line(0ms)) {
          auto reply = json::parse(*line, nullptr, false);
          if (reply.is_discarded() || !reply.contains("result")) return false;
          ++answered;
        }
        return answered == expected || abuser.eof();
      },
      60s));
  CHECK_FALSE(abuser.eof());
  CHECK(answered == expected);
  // Not a check of the fix: proof that the abuse would have asked for more than the bound.
  CHECK(static_cast<long>(reply_bytes) * kRequests > 64 * kMiB);
}

TEST_CASE("many clients holding unfinished requests do not grow pmxd",
          "[integration]") {
  SmallQuarantine quarantine;
  Session s;
  const pid_t pmxd = s.daemon.pid();
  const long rss_before = rss_bytes(pmxd);
  const int fds_before = idle_fd_count(s.home, pmxd);
  REQUIRE(fds_before > 0);
  const std::string fds_listed = fd_listing(pmxd);

  // Just under the 1 MiB message cap, so that only the budget across connections stops them.
  const std::string partial = R"({"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":")" +
                              std::string(1000 * 1000, 'x');
  constexpr int kClients = 100;
  std::vector<RawClient> clients(kClients);
  int refused = 0;
  for (auto& c : clients) {
    REQUIRE(c.connect(s.home.socket()));
    if (!c.send(partial, 5s)) ++refused;
  }
  REQUIRE(wait_until([&] { return raw_ping(s.home); }, 10s));
  const long rss_during = rss_bytes(pmxd);
  INFO("rss before " << rss_before << ", while abused " << rss_during);
  CHECK(rss_during < rss_before + 48 * kMiB);
  CHECK_EXIT(s.pmx({"ping"}), 0);

  // Those over the budget were told why before being closed (their send failed: read directly).
  int overloaded = 0;
  for (auto& c : clients) {
    char buf[4096];
    ssize_t n = ::recv(c.fd(), buf, sizeof buf - 1, MSG_DONTWAIT);
    if (n <= 0) continue;
    std::string text(buf, static_cast<std::size_t>(n));
    auto reply = json::parse(text.substr(0, text.find('\n')), nullptr, false);
    if (!reply.is_discarded() && reply.contains("error") && reply["error"]["code"] == -32005) ++overloaded;
  }
  INFO("sends refused " << refused << ", overloaded errors " << overloaded);
  CHECK(overloaded > 0);

  clients.clear();
  INFO("fds before:\n" << fds_listed);
  CHECK(wait_until([&] { return fd_count(pmxd) == fds_before; }, 10s));
  INFO("fds after:\n" << fd_listing(pmxd));
  CHECK(fd_count(pmxd) == fds_before);
  CHECK(raw_ping(s.home));
}

/// The error line a closed or refused connection got, or nullopt when it got none (yet).
std::optional<std::string> error_reason(RawClient& c) {
  auto line = c.read_line(0ms);
  if (!line) return std::nullopt;
  auto reply = json::parse(*line, nullptr, false);
  if (reply.is_discarded() || !reply.contains("error")) return std::string("not an error: ") + *line;
  return reply["error"].value("data", json::object()).value("reason", std::string("no reason"));
}

TEST_CASE("at the connection cap, the idle connections quiet longest make room, and none leaks",
          "[integration][control]") {
  Session s;
  const pid_t pmxd = s.daemon.pid();
  const int fds_before = idle_fd_count(s.home, pmxd);
  REQUIRE(fds_before > 0);
  const std::string fds_listed = fd_listing(pmxd);

  // The first ten send a request (and so are evicted after those that never did), the rest
  // connect and stay silent.
  constexpr std::size_t kExtra = 20;
  std::deque<RawClient> clients(kMaxSessions);
  for (std::size_t i = 0; i < clients.size(); ++i) {
    REQUIRE(clients[i].connect(s.home.socket()));
    if (i < 10) REQUIRE(clients[i].call(1, "ping").value_or(json()).contains("result"));
  }
  REQUIRE(wait_until([&] { return socket_count(pmxd) == static_cast<int>(kMaxSessions) + 2; }, 20s));
  std::deque<RawClient> newcomers(kExtra);
  for (auto& c : newcomers) {
    REQUIRE(c.connect(s.home.socket()));
    // Served at once: each newcomer took the slot of an idle session.
    CHECK(c.call(1, "ping").value_or(json()).contains("result"));
  }
  // The evicted are the silent ones connected first, each told why; the others are untouched.
  std::map<std::string, int> reasons;
  for (std::size_t i = 0; i < clients.size(); ++i) {
    std::optional<std::string> reason;
    wait_until([&] { return (reason = error_reason(clients[i])) || clients[i].eof(); }, i >= 10 && i < 10 + kExtra ? 5s : 0s);
    if (reason) ++reasons[*reason];
    CHECK(reason.has_value() == (i >= 10 && i < 10 + kExtra));
  }
  CHECK(reasons["evicted_idle"] == static_cast<int>(kExtra));
  CHECK(clients.front().call(2, "ping").value_or(json()).contains("result"));
  CHECK(clients.back().call(2, "ping").value_or(json()).contains("result"));
  CHECK_EXIT(s.pmx({"ping"}), 0);
  CHECK(count_in_log(s.home, "closing the idle ones longest quiet") == 1);

  clients.clear();
  newcomers.clear();
  INFO("fds before:\n" << fds_listed);
  CHECK(wait_until([&] { return fd_count(pmxd) == fds_before; }, 10s));
  INFO("fds after:\n" << fd_listing(pmxd));
  CHECK(fd_count(pmxd) == fds_before);
}

TEST_CASE("256 idle connections do not lock out pmx list and pmx kill", "[integration][control][regression]") {
  Session s;
  std::vector<RawClient> idle(kMaxSessions);
  for (auto& c : idle) REQUIRE(c.connect(s.home.socket()));
  REQUIRE(wait_until([&] { return socket_count(s.daemon.pid()) == static_cast<int>(kMaxSessions) + 2; }, 20s));
  CHECK_EXIT(s.pmx({"list"}), 0);
  CHECK_EXIT(s.pmx({"kill"}), 0);
  CHECK(wait_until([&] { return !process_alive(s.daemon.pid()); }, 10s));
}

TEST_CASE("followers cannot take the slots kept for requests, and at the cap with none idle new connections are refused",
          "[integration][control][regression]") {
  Session s;
  const pid_t pmxd = s.daemon.pid();
  constexpr std::size_t kReserved = 16;  // docs/protocol.md, "Connections and limits"
  std::deque<RawClient> followers(kMaxSessions);
  std::size_t subscribed = 0, refused = 0;
  for (auto& c : followers) {
    REQUIRE(c.connect(s.home.socket()));
    auto r = c.call(1, "subscribe", {{"topics", {"events"}}}).value_or(json());
    if (r.contains("result")) ++subscribed;
    if (r.contains("error") && r["error"]["data"].value("reason", "") == "too_many_followers") ++refused;
  }
  CHECK(subscribed == kMaxSessions - kReserved);
  CHECK(refused == kReserved);
  // `pmx logs --follow` is a follower too: it is refused with a message, not left hanging.
  auto logs = s.pmx({"logs", "--raw"});
  CHECK(logs.exit_code == 1);
  CHECK(lower(logs.out + logs.err).find("too many clients follow") != std::string::npos);
  // Those refused hold no subscription: they are idle and make room for requests.
  CHECK_EXIT(s.pmx({"list"}), 0);

  // The slots that are left, taken by clients owed replies they do not read: none is idle.
  std::string requests;
  for (int i = 0; i < 3000; ++i) requests += request_line(i, "list");
  std::vector<RawClient> stuck(kReserved);
  for (auto& c : stuck) {
    REQUIRE(c.connect(s.home.socket()));
    const int sndbuf = 8192;
    ::setsockopt(c.fd(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    send_until_stalled(c.fd(), requests, 300ms);
  }
  REQUIRE(wait_until([&] { return socket_count(pmxd) == static_cast<int>(kMaxSessions) + 2; }, 20s));
  RawClient late;
  REQUIRE(late.connect(s.home.socket()));
  std::optional<std::string> reason;
  REQUIRE(wait_until([&] { return (reason = error_reason(late)) || late.eof(); }, 10s));
  CHECK(reason.value_or("") == "too_many_connections");
  CHECK(count_in_log(s.home, "none idle: refusing new connections") == 1);
  stuck.clear();
  followers.clear();
  CHECK(wait_until([&] { return raw_ping(s.home); }, 20s));
}

TEST_CASE("out of descriptors, pmxd pauses accept instead of spinning",
          "[integration]") {
  Session s;
  const pid_t pmxd = s.daemon.pid();
  REQUIRE(raw_ping(s.home));
  rlimit old{};
  REQUIRE(::prlimit(pmxd, RLIMIT_NOFILE, nullptr, &old) == 0);
  const int fds = fd_count(pmxd);
  rlimit low = old;
  low.rlim_cur = static_cast<rlim_t>(fds + 4);
  REQUIRE(::prlimit(pmxd, RLIMIT_NOFILE, &low, nullptr) == 0);

  std::vector<RawClient> clients(12);
  for (auto& c : clients) REQUIRE(c.connect(s.home.socket()));
  // pmxd has used up its descriptors: the next accept fails.
  REQUIRE(wait_until([&] { return fd_count(pmxd) >= fds + 4; }, 10s));
  REQUIRE(wait_until([&] { return line_count(s.home.daemon_log()) > 0; }, 10s));

  // A measuring window, not a synchronisation: a spinning accept loop burns the CPU and
  // writes the log continuously through it.
  const std::size_t lines_before = line_count(s.home.daemon_log());
  const unsigned long long ticks_before = cpu_ticks(pmxd);
  const auto start = Clock::now();
  std::this_thread::sleep_for(1s);
  const double elapsed_ticks =
      std::chrono::duration<double>(Clock::now() - start).count() * static_cast<double>(::sysconf(_SC_CLK_TCK));
  const unsigned long long ticks = cpu_ticks(pmxd) - ticks_before;
  const std::size_t lines = line_count(s.home.daemon_log()) - lines_before;
  INFO("cpu ticks " << ticks << " in " << elapsed_ticks << ", log lines " << lines);
  CHECK(lines <= 3);
  CHECK(static_cast<double>(ticks) < 0.3 * elapsed_ticks);
  CHECK(count_in_log(s.home, "out of file descriptors") == 1);

  clients.clear();
  REQUIRE(::prlimit(pmxd, RLIMIT_NOFILE, &old, nullptr) == 0);
  CHECK(wait_until([&] { return raw_ping(s.home); }, 10s));
  CHECK_EXIT(s.pmx({"ping"}), 0);
  // An info line: pmxd flushes those once a sampling tick.
  CHECK(wait_until([&] { return count_in_log(s.home, "accepting connections again") >= 1; }, 5s));
}

TEST_CASE("subscribers get server.sessions events as notifications",
          "[integration]") {
  Session s;
  RawClient sub;
  REQUIRE(sub.connect(s.home.socket()));

  auto bad = sub.call(1, "subscribe", {{"topics", {"no-such-topic"}}});
  REQUIRE(bad);
  CHECK((*bad)["error"]["code"] == -32602);
  auto none = sub.call(2, "subscribe", json::object());
  REQUIRE(none);
  CHECK((*none)["error"]["code"] == -32602);

  auto ok = sub.call(3, "subscribe", {{"topics", {"events"}}});
  REQUIRE(ok);
  INFO(ok->dump());
  REQUIRE(ok->contains("result"));
  CHECK((*ok)["result"]["topics"] == json::array({"events"}));
  const auto self = (*ok)["result"]["session"].get<std::uint64_t>();

  auto next_note = [&] {
    auto line = sub.read_line(5s);
    REQUIRE(line);
    auto note = json::parse(*line, nullptr, false);
    REQUIRE_FALSE(note.is_discarded());
    CHECK_FALSE(note.contains("id"));
    CHECK(note["jsonrpc"] == "2.0");
    return note;
  };
  std::uint64_t other = 0;
  {
    RawClient c;
    REQUIRE(c.connect(s.home.socket()));
    auto note = next_note();
    CHECK(note["method"] == "server.sessions");
    CHECK(note["params"]["change"] == "connected");
    other = note["params"]["session"].get<std::uint64_t>();
    CHECK(other != self);
    CHECK(note["params"]["sessions"] == 2);
  }
  auto gone = next_note();
  CHECK(gone["params"]["change"] == "disconnected");
  CHECK(gone["params"]["session"] == other);
  CHECK(gone["params"]["sessions"] == 1);

  auto off = sub.call(4, "unsubscribe", {{"topics", {"events"}}});
  REQUIRE(off);
  CHECK((*off)["result"]["topics"] == json::array());
  { RawClient c; REQUIRE(c.connect(s.home.socket())); REQUIRE(raw_ping(s.home)); }
  // The next line is the answer to this ping: no notification came in between.
  auto pong = sub.call(5, "ping");
  REQUIRE(pong);
  CHECK((*pong)["id"] == 5);
}

TEST_CASE("a subscriber that does not read skips notifications, counted, and stays",
          "[integration]") {
  Session s;
  RawClient sub;
  REQUIRE(sub.connect(s.home.socket()));
  REQUIRE(sub.call(1, "subscribe", {{"topics", {"events"}}}).value_or(json()).contains("result"));

  constexpr int kChurn = 4000;  // two events each: more than the socket and the queue hold
  for (int i = 0; i < kChurn; ++i) {
    RawClient c;
    REQUIRE(c.connect(s.home.socket()));
  }
  // Others are served while the subscriber lags (after the connections queued before them:
  // a deadline for a slow, sanitized build, not a timing).
  int pings = 0;
  CHECK(wait_until(
      [&] {
        ++pings;
        return raw_ping(s.home);
      },
      60s));

  std::uint64_t received = 0, dropped = 0, reports = 0;
  const std::uint64_t expected = 2 * static_cast<std::uint64_t>(kChurn + pings);
  CHECK(wait_until(
      [&] {
        while (auto line = sub.read_line(0ms)) {
          auto note = json::parse(*line, nullptr, false);
          if (note.is_discarded()) return true;  // fails below
          if (note["method"] == "server.sessions") ++received;
          if (note["method"] == "dropped") {
            ++reports;
            dropped += note["params"]["count"].get<std::uint64_t>();
          }
        }
        return received + dropped >= expected || sub.eof();
      },
      30s));
  INFO("received " << received << ", dropped " << dropped << " in " << reports << " reports");
  CHECK_FALSE(sub.eof());
  CHECK(dropped > 0);
  CHECK(received + dropped == expected);
  auto pong = sub.call(2, "ping");
  REQUIRE(pong);
  CHECK((*pong)["id"] == 2);
}
