// The sd_notify socket for apps run as another user: root pmxd binds it outside its 0700 home,
// so that an app run with --uid reaches it; a datagram counts only for the instance its
// kernel-written sender pid belongs to, so an app cannot speak for another.
#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;

namespace {

/// A folder outside the (0700) home that every user can read: the scripts of apps run as another
/// user live there. Removed at the end.
class PublicFolder {
 public:
  PublicFolder() {
    char tmpl[] = "/tmp/pmx-it-public-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
    ::chmod(path_.c_str(), 0755);
  }
  ~PublicFolder() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  PublicFolder(const PublicFolder&) = delete;
  PublicFolder& operator=(const PublicFolder&) = delete;

  /// Writes text to name in the folder, readable by all; returns its path.
  std::string write(const std::string& name, const std::string& text) const {
    const std::string file = path_ + "/" + name;
    std::ofstream(file) << text;
    ::chmod(file.c_str(), 0644);
    return file;
  }
  std::string path(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

constexpr const char* kSystemPython = "/usr/bin/python3";  // not root's own (pyenv's is in /root)

}  // namespace

TEST_CASE("an app run with --uid 4242 reaches the sd_notify socket: --wait-ready sees its READY=1",
          "[integration][notify][uid][regression]") {
  REQUIRE(::geteuid() == 0);  // the suite runs as root
  REQUIRE(::getpwuid(4242) == nullptr);
  REQUIRE(file_exists(kSystemPython));
  Session s;
  PublicFolder folder;
  const std::string app = folder.write("notifier.py",
                                       "import os, socket, time\n"
                                       "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
                                       "s.sendto(b'READY=1\\nSTATUS=ready as uid %d' % os.getuid(), os.environ['NOTIFY_SOCKET'])\n"
                                       "while True: time.sleep(60)\n");
  const RunResult started = s.pmx({"start", app, "--name", "notifier", "--uid", "4242", "--cwd", "/", "--interpreter",
                                   kSystemPython, "--wait-ready", "--listen-timeout", "10000", "--kill-timeout", "500"});
  CHECK_EXIT(started, 0);
  CHECK(s.status("notifier") == "online");
  CHECK(s.app("notifier")["pm2_env"].value("notify_status", "") == "ready as uid 4242");
  // The socket is outside the home, which stays 0700.
  struct stat st{};
  REQUIRE(::stat(s.home.path().c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0700);
}

TEST_CASE("an app cannot make another instance ready through the sd_notify socket, by MAINPID= or forged credentials",
          "[integration][notify][uid]") {
  REQUIRE(::geteuid() == 0);
  REQUIRE(file_exists(kSystemPython));
  Session s;
  PublicFolder folder;
  const std::string victim_pid = folder.path("victim-pid");
  const std::string go = folder.path("go");
  // The victim waits for the test's go-ahead before it says READY=1 itself.
  const std::string victim = folder.write("victim.py",
                                          "import os, socket, time\n"
                                          "while not os.path.exists('" + go + "'): time.sleep(0.02)\n"
                                          "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
                                          "s.sendto(b'READY=1', os.environ['NOTIFY_SOCKET'])\n"
                                          "while True: time.sleep(60)\n");
  // The spoofer, run as uid 4242, claims the victim's readiness twice: by MAINPID=, and with
  // SCM_CREDENTIALS naming the victim's pid (the kernel refuses that without CAP_SYS_ADMIN).
  // Then it reports, as its own status, how the forgery went.
  const std::string spoofer = folder.write(
      "spoofer.py",
      "import os, socket, struct, time\n"
      "while not os.path.exists('" + victim_pid + "'): time.sleep(0.02)\n"
      "pid = int(open('" + victim_pid + "').read())\n"
      "addr = os.environ['NOTIFY_SOCKET']\n"
      "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
      "s.sendto(b'READY=1\\nMAINPID=%d' % pid, addr)\n"
      "try:\n"
      "    creds = struct.pack('iII', pid, os.getuid(), os.getgid())\n"
      "    s.sendmsg([b'READY=1'], [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, creds)], 0, addr)\n"
      "    forged = 'sent'\n"
      "except OSError as e:\n"
      "    forged = 'refused'\n"
      "s.sendto(b'STATUS=spoofed: forged credentials ' + forged.encode(), addr)\n"
      "while True: time.sleep(60)\n");
  REQUIRE_EXIT(s.pmx({"start", spoofer, "--name", "spoofer", "--uid", "4242", "--cwd", "/", "--interpreter",
                      kSystemPython, "--kill-timeout", "500"}),
               0);
  // The victim is started without waiting for the reply (it waits for readiness).
  RawClient client;
  REQUIRE(client.connect(s.home.socket()));
  const json start = {{"jsonrpc", "2.0"}, {"id", 1}, {"method", "start"},
                      {"params", {{"app", {{"name", "victim"}, {"script", victim}, {"interpreter", kSystemPython},
                                            {"cwd", "/"}, {"wait_ready", true}, {"listen_timeout", 30000},
                                            {"kill_timeout", 500}}}}}};
  REQUIRE(client.send(start.dump() + "\n"));
  const pid_t pid = s.wait_pid("victim");
  REQUIRE(pid > 0);
  CHECK(s.status("victim") == "launching");
  folder.write("victim-pid", std::to_string(pid));
  // Once pmxd has the spoofer's status, it has handled its earlier datagrams (one socket, in order).
  std::string status;
  CHECK(wait_until(
      [&] {
        status = s.app("spoofer")["pm2_env"].value("notify_status", "");
        return status.rfind("spoofed", 0) == 0;
      },
      10s));
  CHECK(status == "spoofed: forged credentials refused");
  CHECK(s.status("victim") == "launching");
  // The victim's own READY=1 counts.
  folder.write("go", "");
  CHECK(s.wait_status("victim", "online"));
  const auto reply = client.read_line(10s);
  REQUIRE(reply.has_value());
  CHECK(json::parse(*reply, nullptr, false).contains("result"));
}
