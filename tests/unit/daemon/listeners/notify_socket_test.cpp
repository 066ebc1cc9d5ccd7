// Tests of daemon/listeners/notify_socket.hpp: the sd_notify format, and a real socket (credentials from
// the kernel, descriptors sent along closed, bad datagrams dropped and counted, the file's life).
#include "daemon/listeners/notify_socket.hpp"
#include "tests/unit/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

namespace pmx::daemon {
namespace {

using namespace std::chrono_literals;

using pmx::test::TempDir;

sockaddr_un address_of(const std::string& path) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  return sa;
}

/// Sends one datagram to path as sd_notify does, with descriptors along if any; true when sent.
/// A test sends at most 10 datagrams in a row without running the loop (net.unix.max_dgram_qlen).
bool send_datagram(const std::string& path, std::string_view bytes, const std::vector<int>& fds = {}, int flags = 0) {
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un sa = address_of(path);
  iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
  msghdr msg{};
  msg.msg_name = &sa;
  msg.msg_namelen = sizeof sa;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
  if (!fds.empty()) {
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  const bool sent = ::sendmsg(fd, &msg, flags) == static_cast<ssize_t>(bytes.size());
  ::close(fd);
  return sent;
}

/// Runs the io_context until done() holds or 5 s have passed; returns whether it held. done()
/// is called once per turn and not again after it held (it may send or reap).
template <typename Done>
bool run_until(boost::asio::io_context& io, Done done) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (io.stopped()) io.restart();
    io.run_one_for(50ms);
  }
}

std::size_t open_fds() {
  std::size_t n = 0;
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) return 0;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(dir);
  return n - 1;  // the directory's own descriptor
}

// ---- the format ----------------------------------------------------------------------------

TEST_CASE("notify parse: READY=1 is ready, and kept as a field", "[notify]") {
  const Notification n = parse_notify("READY=1");
  CHECK(n.ready);
  CHECK_FALSE(n.stopping);
  CHECK_FALSE(n.reloading);
  CHECK(n.fields == std::map<std::string, std::string>{{"READY", "1"}});
  CHECK(n.pid == 0);
}

TEST_CASE("notify parse: READY=0, READY=yes and a spaced key are not ready", "[notify]") {
  CHECK_FALSE(parse_notify("READY=0").ready);
  CHECK_FALSE(parse_notify("READY=yes").ready);
  CHECK_FALSE(parse_notify("READY=1 ").ready);
  CHECK_FALSE(parse_notify(" READY=1").ready);
  CHECK_FALSE(parse_notify("READY").ready);
  CHECK(parse_notify("READY=0").fields.at("READY") == "0");
}

TEST_CASE("notify parse: STATUS keeps spaces and '=' after the first one", "[notify]") {
  const Notification n = parse_notify("STATUS=Serving on port=3000 (2 workers) ");
  REQUIRE(n.status);
  CHECK(*n.status == "Serving on port=3000 (2 workers) ");
  CHECK_FALSE(n.ready);
  CHECK(parse_notify("STATUS=").status == std::optional<std::string>(""));
}

TEST_CASE("notify parse: several lines and a trailing newline", "[notify]") {
  const Notification n = parse_notify("READY=1\nSTATUS=up\nMAINPID=4242\n");
  CHECK(n.ready);
  CHECK(n.status == std::optional<std::string>("up"));
  CHECK(n.main_pid == std::optional<pid_t>(4242));
  CHECK(n.fields.size() == 3);

  const Notification s = parse_notify("STOPPING=1\nSTATUS=draining\n\n");
  CHECK(s.stopping);
  CHECK_FALSE(s.ready);
  CHECK(parse_notify("RELOADING=1\nMONOTONIC_USEC=123\n").reloading);
}

TEST_CASE("notify parse: unknown keys are kept, the first assignment of a key counts", "[notify]") {
  const Notification n =
      parse_notify("WATCHDOG=1\nERRNO=2\nEXTEND_TIMEOUT_USEC=5000000\nX_APP=hello\nSTATUS=a\nSTATUS=b");
  CHECK(n.fields.at("WATCHDOG") == "1");
  CHECK(n.fields.at("ERRNO") == "2");
  CHECK(n.fields.at("EXTEND_TIMEOUT_USEC") == "5000000");
  CHECK(n.fields.at("X_APP") == "hello");
  CHECK(n.status == std::optional<std::string>("a"));
  CHECK(n.fields.at("STATUS") == "a");
  // READY=1 on any line makes it ready, as systemd reads it.
  CHECK(parse_notify("READY=0\nREADY=1").ready);
}

TEST_CASE("notify parse: MAINPID must be a positive pid", "[notify]") {
  for (const char* bad : {"MAINPID=", "MAINPID=abc", "MAINPID=-1", "MAINPID=0", "MAINPID=12x",
                          "MAINPID=99999999999999999999", "MAINPID= 12"}) {
    INFO(bad);
    const Notification n = parse_notify(bad);
    CHECK_FALSE(n.main_pid);
    CHECK(n.fields.count("MAINPID") == 1);
  }
  CHECK(parse_notify("MAINPID=1").main_pid == std::optional<pid_t>(1));
}

TEST_CASE("notify parse: garbage, empty lines, empty keys and invalid UTF-8 are ignored", "[notify]") {
  CHECK(parse_notify("").fields.empty());
  CHECK(parse_notify("\n\n\n").fields.empty());
  CHECK(parse_notify("hello world\n=1\n==\n").fields.empty());
  const Notification n = parse_notify("\xff\xfe=1\nSTATUS=\xc3\x28\nSTATUS=caf\xc3\xa9\nREADY=1");
  CHECK(n.ready);
  CHECK(n.status == std::optional<std::string>("caf\xc3\xa9"));  // the invalid line did not count
  CHECK(n.fields.size() == 2);
  CHECK(parse_notify("STATUS=\xed\xa0\x80").fields.empty());  // a surrogate
  CHECK(parse_notify("STATUS=\xe2\x82").fields.empty());      // a cut sequence
}

TEST_CASE("notify parse: a datagram with a NUL byte is ignored as a whole", "[notify]") {
  const Notification n = parse_notify(std::string_view("READY=1\0STATUS=x\n", 17));
  CHECK_FALSE(n.ready);
  CHECK_FALSE(n.status);
  CHECK(n.fields.empty());
  CHECK(parse_notify(std::string_view("\0", 1)).fields.empty());
}

TEST_CASE("notify parse: huge and odd inputs", "[notify]") {
  CHECK(parse_notify(std::string(4096, '=')).fields.empty());
  CHECK(parse_notify(std::string(4096, '\n')).fields.empty());
  const Notification big = parse_notify("STATUS=" + std::string(100000, 'x'));
  REQUIRE(big.status);
  CHECK(big.status->size() == 100000);
  std::string lines;
  for (int i = 0; i < 2000; ++i) lines += "K" + std::to_string(i) + "=v\n";
  CHECK(parse_notify(lines).fields.size() == 2000);
  // Every byte value, alone and before a newline and a '=': nothing breaks.
  std::size_t kept = 0;
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    kept += parse_notify(std::string_view(&c, 1)).fields.size();
    kept += parse_notify(std::string(1, c) + "=\n=" + std::string(3, c)).fields.size();
  }
  // Only the ASCII bytes other than NUL, '\n' and '=' make a key "c" of a kept line.
  CHECK(kept == 128 - 3);
}

// ---- the socket ----------------------------------------------------------------------------

TEST_CASE("notify socket: a datagram arrives with the sender's pid, uid and gid", "[notify]") {
  boost::asio::io_context io;
  TempDir dir;
  std::vector<Notification> got;
  NotifySocket sock(io, [&](const Notification& n) { got.push_back(n); });
  const std::string path = dir.path + "/notify.sock";
  auto opened = sock.open(path);
  REQUIRE(opened.ok());
  CHECK(sock.is_open());
  CHECK(sock.path() == path);

  struct stat st{};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 0777) == 0666);

  REQUIRE(send_datagram(path, "READY=1\nSTATUS=listening on :3000\n"));
  REQUIRE(run_until(io, [&] { return got.size() == 1; }));
  CHECK(got[0].pid == ::getpid());
  CHECK(got[0].uid == ::getuid());
  CHECK(got[0].gid == ::getgid());
  CHECK(got[0].ready);
  CHECK(got[0].status == std::optional<std::string>("listening on :3000"));
  CHECK(sock.counters().delivered == 1);
}

TEST_CASE("notify socket: a forked child's datagram carries the child's pid", "[notify]") {
  boost::asio::io_context io;
  TempDir dir;
  std::vector<Notification> got;
  NotifySocket sock(io, [&](const Notification& n) { got.push_back(n); });
  const std::string path = dir.path + "/notify.sock";
  REQUIRE(sock.open(path).ok());

  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) ::_exit(send_datagram(path, "READY=1\nMAINPID=1\n") ? 0 : 1);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);

  REQUIRE(run_until(io, [&] { return got.size() == 1; }));
  // The kernel wrote the pid; MAINPID in the text is only what the sender claims.
  CHECK(got[0].pid == child);
  CHECK(got[0].main_pid == std::optional<pid_t>(1));
  CHECK(got[0].ready);
}

TEST_CASE("notify socket: descriptors sent along (FDSTORE=1) are closed in the receiver", "[notify]") {
  boost::asio::io_context io;
  TempDir dir;
  std::vector<Notification> got;
  NotifySocket sock(io, [&](const Notification& n) { got.push_back(n); });
  const std::string path = dir.path + "/notify.sock";
  REQUIRE(sock.open(path).ok());

  const std::size_t before = open_fds();
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  REQUIRE(send_datagram(path, "FDSTORE=1\nFDNAME=db\n", {p[0], p[1], p[0]}));
  ::close(p[0]);
  ::close(p[1]);
  REQUIRE(run_until(io, [&] { return got.size() == 1; }));
  CHECK(got[0].fields.at("FDSTORE") == "1");
  CHECK(sock.counters().fds_closed == 3);
  CHECK(open_fds() == before);

  // Descriptors on a datagram that is dropped are closed too.
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  REQUIRE(send_datagram(path, "no assignment here", {p[0]}));
  ::close(p[0]);
  ::close(p[1]);
  REQUIRE(run_until(io, [&] { return sock.counters().empty == 1; }));
  CHECK(sock.counters().fds_closed == 4);
  CHECK(open_fds() == before);
}

TEST_CASE("notify socket: oversized, empty and garbage datagrams are dropped and counted", "[notify]") {
  boost::asio::io_context io;
  TempDir dir;
  std::vector<Notification> got;
  NotifySocket sock(io, [&](const Notification& n) { got.push_back(n); });
  const std::string path = dir.path + "/notify.sock";
  REQUIRE(sock.open(path).ok());

  REQUIRE(send_datagram(path, "READY=1\nSTATUS=" + std::string(5000, 'x')));
  REQUIRE(send_datagram(path, "STATUS=" + std::string(NotifySocket::kMaxDatagram - 7 + 1, 'y')));  // 4097
  REQUIRE(send_datagram(path, ""));
  REQUIRE(send_datagram(path, "\x01\x02\xff garbage"));
  REQUIRE(send_datagram(path, std::string_view("READY=1\0", 8)));
  REQUIRE(send_datagram(path, std::string(4096, '=')));
  const std::string fits = "STATUS=" + std::string(NotifySocket::kMaxDatagram - 7, 'z');  // 4096 bytes
  REQUIRE(send_datagram(path, fits));
  REQUIRE(send_datagram(path, "READY=1"));
  REQUIRE(run_until(io, [&] { return got.size() == 2; }));
  CHECK(got[0].status == std::optional<std::string>(fits.substr(7)));
  CHECK(got[1].ready);
  CHECK(sock.counters().truncated == 2);
  CHECK(sock.counters().empty == 4);
  CHECK(sock.counters().delivered == 2);
  CHECK(sock.counters().uncredited == 0);
}

TEST_CASE("notify socket: a burst larger than one wake-up's share all arrives, in order", "[notify]") {
  boost::asio::io_context io;
  TempDir dir;
  std::vector<Notification> got;
  NotifySocket sock(io, [&](const Notification& n) { got.push_back(n); });
  const std::string path = dir.path + "/notify.sock";
  REQUIRE(sock.open(path).ok());
  // The kernel queues only net.unix.max_dgram_qlen datagrams (10 by default), then a sender
  // waits: each send is tried without waiting and, while the queue is full, pmxd's side runs.
  const int count = NotifySocket::kBurst * 3;
  for (int i = 0; i < count; ++i) {
    const std::string text = "STATUS=" + std::to_string(i);
    INFO("sent " << i << ", received " << got.size());
    REQUIRE(run_until(io, [&] { return send_datagram(path, text, {}, MSG_DONTWAIT); }));
  }
  REQUIRE(run_until(io, [&] { return got.size() == static_cast<std::size_t>(count); }));
  for (int i = 0; i < count; ++i) CHECK(got[static_cast<std::size_t>(i)].status == std::to_string(i));
}

TEST_CASE("notify socket: a datagram whose handler throws is dropped and counted, and reading goes on",
          "[notify][regression]") {
  boost::asio::io_context io;
  TempDir dir;
  std::vector<std::string> got;
  NotifySocket sock(io, [&](const Notification& n) {
    if (n.status == "bad") throw std::runtime_error("a handler's bug");
    got.push_back(n.status.value_or(""));
  });
  const std::string path = dir.path + "/notify.sock";
  REQUIRE(sock.open(path).ok());
  REQUIRE(send_datagram(path, "STATUS=bad"));
  REQUIRE(send_datagram(path, "STATUS=good"));
  // (Before, the exception escaped the io_context's run and the socket was never read again.)
  CHECK(run_until(io, [&] { return got.size() == 1; }));
  // Later datagrams are still read: the read loop re-armed itself.
  REQUIRE(send_datagram(path, "STATUS=later"));
  CHECK(run_until(io, [&] { return got.size() == 2; }));
  CHECK(got == std::vector<std::string>{"good", "later"});
  CHECK(sock.counters().failed == 1);
}

TEST_CASE("notify socket: the handler may close the socket", "[notify]") {
  boost::asio::io_context io;
  TempDir dir;
  int calls = 0;
  NotifySocket* self = nullptr;
  NotifySocket sock(io, [&](const Notification&) {
    ++calls;
    self->close();
  });
  self = &sock;
  const std::string path = dir.path + "/notify.sock";
  REQUIRE(sock.open(path).ok());
  REQUIRE(send_datagram(path, "READY=1"));
  REQUIRE(send_datagram(path, "READY=1"));
  REQUIRE(run_until(io, [&] { return calls == 1 && !sock.is_open(); }));
  io.restart();
  io.run_for(100ms);  // the aborted wait's completion runs; nothing more is read
  CHECK(calls == 1);
  CHECK(::access(path.c_str(), F_OK) != 0);
}

TEST_CASE("notify socket: close and the destructor remove the file only while it is ours", "[notify]") {
  boost::asio::io_context io;
  TempDir dir;
  const std::string path = dir.path + "/notify.sock";
  {
    NotifySocket sock(io, [](const Notification&) {});
    REQUIRE(sock.open(path).ok());
    REQUIRE(::access(path.c_str(), F_OK) == 0);
  }
  CHECK(::access(path.c_str(), F_OK) != 0);

  NotifySocket sock(io, [](const Notification&) {});
  REQUIRE(sock.open(path).ok());
  // Another owner put its own file at the path: it stays.
  REQUIRE(::unlink(path.c_str()) == 0);
  std::ofstream(path) << "not yours";
  sock.close();
  CHECK_FALSE(sock.is_open());
  CHECK(::access(path.c_str(), F_OK) == 0);
  sock.close();  // twice: nothing more
  CHECK(::access(path.c_str(), F_OK) == 0);
}

TEST_CASE("notify socket: a stale socket file is replaced, anything else is an error naming the path", "[notify]") {
  boost::asio::io_context io;
  TempDir dir;
  const std::string path = dir.path + "/notify.sock";
  // A socket file left by a pmxd that is gone.
  {
    const int old = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa = address_of(path);
    REQUIRE(::bind(old, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    ::close(old);
  }
  std::vector<Notification> got;
  NotifySocket sock(io, [&](const Notification& n) { got.push_back(n); });
  REQUIRE(sock.open(path).ok());
  REQUIRE(send_datagram(path, "READY=1"));
  REQUIRE(run_until(io, [&] { return got.size() == 1; }));
  sock.close();

  const std::string file = dir.path + "/plain";
  std::ofstream(file) << "data";
  auto r = sock.open(file);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error(), Catch::Contains(file) && Catch::Contains("not a socket"));
  CHECK(::access(file.c_str(), F_OK) == 0);

  auto relative = sock.open("notify.sock");
  REQUIRE_FALSE(relative.ok());
  CHECK_THAT(relative.error(), Catch::Contains("notify.sock") && Catch::Contains("absolute"));

  const std::string missing = dir.path + "/no/such/folder/notify.sock";
  auto absent = sock.open(missing);
  REQUIRE_FALSE(absent.ok());
  CHECK_THAT(absent.error(), Catch::Contains(missing) && Catch::Contains("bind"));
  CHECK_FALSE(sock.is_open());
}

TEST_CASE("notify socket: a path longer than sun_path is refused, naming the path", "[notify]") {
  boost::asio::io_context io;
  TempDir dir;
  NotifySocket sock(io, [](const Notification&) {});
  std::string longest = dir.path + "/";
  longest += std::string(107 - longest.size(), 'a');  // 107 bytes and the NUL: fits
  REQUIRE(longest.size() == 107);
  REQUIRE(sock.open(longest).ok());
  sock.close();

  const std::string too_long = longest + "b";
  auto r = sock.open(too_long);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error(), Catch::Contains(too_long) && Catch::Contains("too long") && Catch::Contains("108"));
  CHECK(::access(too_long.c_str(), F_OK) != 0);
}

TEST_CASE("notify socket: systemd-notify --ready --status reaches it", "[notify]") {
  const char* tool = "/usr/bin/systemd-notify";
  if (::access(tool, X_OK) != 0) {
    WARN("systemd-notify is not installed: the client test did not run");
    return;
  }
  boost::asio::io_context io;
  TempDir dir;
  std::vector<Notification> got;
  NotifySocket sock(io, [&](const Notification& n) { got.push_back(n); });
  const std::string path = dir.path + "/notify.sock";
  REQUIRE(sock.open(path).ok());

  std::vector<std::string> env_text = {"NOTIFY_SOCKET=" + path, "PATH=/usr/bin:/bin"};
  std::vector<char*> env;
  for (auto& e : env_text) env.push_back(e.data());
  env.push_back(nullptr);
  std::string a0 = "systemd-notify", a1 = "--ready", a2 = "--status=warming up = done";
  char* argv[] = {a0.data(), a1.data(), a2.data(), nullptr};
  pid_t child = 0;
  REQUIRE(::posix_spawn(&child, tool, nullptr, nullptr, argv, env.data()) == 0);
  // systemd-notify then waits for a barrier (BARRIER=1 with a pipe's write end, done when the
  // receiver closes it): the loop runs while it waits.
  int status = 0;
  REQUIRE(run_until(io, [&] { return ::waitpid(child, &status, WNOHANG) == child; }));
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  REQUIRE(run_until(io, [&] { return !got.empty() && got.back().fields.count("BARRIER"); }));
  for (const auto& n : got) {
    std::string text;
    for (const auto& [k, v] : n.fields) text += k + "=" + v + ";";
    UNSCOPED_INFO("pid " << n.pid << ": " << text << " (parent " << ::getpid() << ", systemd-notify " << child << ")");
  }
  REQUIRE(got.size() == 2);
  CHECK(got[0].ready);
  CHECK(got[0].status == std::optional<std::string>("warming up = done"));
  // systemd-notify speaks for its parent: with the privilege to (root) the kernel stamps the
  // parent's pid on it, without it its own. The barrier comes from systemd-notify itself.
  CHECK((got[0].pid == ::getpid() || got[0].pid == child));
  CHECK(got[1].pid == child);
  CHECK(sock.counters().fds_closed == 1);
}

}  // namespace
}  // namespace pmx::daemon
