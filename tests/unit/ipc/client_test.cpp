// Tests of ipc/client.hpp against a real Unix socket served by the test itself.
#include "ipc/client.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cstring>
#include <string>

#include "tests/unit/temp_dir.hpp"

namespace pmx::ipc {
namespace {

/// A listening Unix socket at path; -1 on failure.
int listen_at(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 1) != 0) return -1;
  return fd;
}

bool send_all(int fd, const std::string& text) {
  return ::send(fd, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size());
}

}  // namespace

TEST_CASE("next_notification with no time left reads what has arrived, and nothing more", "[ipc][regression]") {
  pmx::test::TempDir dir;
  const std::string path = dir.path + "/s.sock";
  const int listener = listen_at(path);
  REQUIRE(listener >= 0);
  Client client;
  REQUIRE_FALSE(client.connect(path));
  const int server = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  REQUIRE(server >= 0);

  // Nothing sent: no wait, no notification, still connected.
  CHECK_FALSE(client.next_notification(std::chrono::milliseconds{0}));
  CHECK(client.connected());
  // Sent before the call: in the socket's buffer once send() returned.
  REQUIRE(send_all(server, "{\"jsonrpc\":\"2.0\",\"method\":\"log\",\"params\":{\"line\":\"one\"}}\n"
                           "{\"jsonrpc\":\"2.0\",\"method\":\"log\",\"params\":{\"line\":\"two\"}}\n{\"jsonrpc\""));
  auto first = client.next_notification(std::chrono::milliseconds{0});
  REQUIRE(first);
  CHECK((*first)["params"]["line"] == "one");
  auto second = client.next_notification(std::chrono::milliseconds{0});
  REQUIRE(second);
  CHECK((*second)["params"]["line"] == "two");
  // Half a line: kept for later, none now.
  CHECK_FALSE(client.next_notification(std::chrono::milliseconds{0}));
  CHECK(client.connected());
  REQUIRE(send_all(server, ":\"2.0\",\"method\":\"log\",\"params\":{\"line\":\"three\"}}\n"));
  auto third = client.next_notification(std::chrono::milliseconds{0});
  REQUIRE(third);
  CHECK((*third)["params"]["line"] == "three");
  // The server goes away: none, and not connected any more.
  ::close(server);
  CHECK_FALSE(client.next_notification(std::chrono::milliseconds{0}));
  CHECK_FALSE(client.connected());
  ::close(listener);
}

}  // namespace pmx::ipc
