// Tests of daemon/listeners/reuseport_balancer.hpp and of Listeners' instance slots: real
// loopback sockets, connections counted in each listening socket's accept queue. Loading the
// balancer needs CAP_BPF: without it the balanced cases only check that Listeners falls back to
// one shared socket.
#include "daemon/listeners/reuseport_balancer.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "config/listen_address.hpp"
#include "daemon/listeners/listeners.hpp"

namespace pmx::daemon {
namespace {

int listening_port(int fd) {
  sockaddr_in sa{};
  socklen_t len = sizeof sa;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  return ntohs(sa.sin_port);
}

/// A listening SO_REUSEPORT socket on 127.0.0.1:port (0: any), non-blocking.
int reuseport_listener(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(fd, 128) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

/// n connections to port, each established (the kernel queued it in one listener) before the
/// next; the client ends, to close by the caller.
std::vector<int> connect_n(int port, int n) {
  std::vector<int> out;
  for (int i = 0; i < n; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    out.push_back(fd);
  }
  return out;
}

/// Accepts what is queued in listener (non-blocking) until want connections came or a second
/// passed; the count.
int accept_queued(int listener, int want) {
  int n = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (n < want && std::chrono::steady_clock::now() < deadline) {
    const int c = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (c >= 0) {
      ::close(c);
      ++n;
      continue;
    }
    pollfd p{listener, POLLIN, 0};
    ::poll(&p, 1, 20);
  }
  // Whatever else is queued counts too (a want too low must show).
  for (int c; (c = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC)) >= 0;) {
    ::close(c);
    ++n;
  }
  return n;
}

void close_all(const std::vector<int>& fds) {
  for (int fd : fds) ::close(fd);
}

config::ListenAddress loopback(int port) {
  config::ListenAddress a;
  a.kind = config::ListenAddress::Kind::Tcp;
  a.host = "127.0.0.1";
  a.port = port;
  return a;
}

TEST_CASE("the balancer hands connections to the active sockets in turn, and a closed socket's queue moves to an active one",
          "[reuseport_balancer]") {
  const int a = reuseport_listener(0);
  REQUIRE(a >= 0);
  const int port = listening_port(a);
  const int b = reuseport_listener(port);
  REQUIRE(b >= 0);
  std::error_code ec;
  auto balancer = ReuseportBalancer::create(a, ec);
  if (!balancer) {
    WARN("no balancer here (" << ec.message() << "): pmxd shares one socket instead");
    ::close(a);
    ::close(b);
    return;
  }
  REQUIRE_FALSE(balancer->set_active({a, b}));
  auto clients = connect_n(port, 64);
  CHECK(accept_queued(a, 32) == 32);
  CHECK(accept_queued(b, 32) == 32);
  close_all(clients);

  // b out of the turn: everything goes to a.
  REQUIRE_FALSE(balancer->set_active({a}));
  clients = connect_n(port, 10);
  CHECK(accept_queued(a, 10) == 10);
  close_all(clients);

  // Connections queued in b when it closes are not reset: they move to a.
  REQUIRE_FALSE(balancer->set_active({b}));
  clients = connect_n(port, 10);
  REQUIRE_FALSE(balancer->set_active({a}));
  ::close(b);
  CHECK(accept_queued(a, 10) == 10);
  close_all(clients);
  ::close(a);
}

TEST_CASE("Listeners gives each balanced slot its own socket, shares a Unix socket, and closes a stopped slot's without losing its queue",
          "[reuseport_balancer][listeners]") {
  Listeners listeners;
  const int probe = reuseport_listener(0);
  const int port = listening_port(probe);
  ::close(probe);
  REQUIRE(listeners.bind({loopback(port)}));
  const int slot0 = listeners.fds(0).at(0);
  const int slot1 = listeners.fds(1).at(0);
  CHECK(listeners.fds(0).at(0) == slot0);  // a slot keeps its socket (a restart takes it again)
  if (!listeners.balanced(loopback(port))) {
    WARN("no balancer here: every slot shares the one socket");
    CHECK(slot1 == slot0);
    return;
  }
  CHECK(slot1 != slot0);
  CHECK(listening_port(slot1) == port);
  listeners.set_slots({0, 1}, {});
  auto clients = connect_n(port, 8);
  CHECK(accept_queued(slot0, 4) == 4);
  CHECK(accept_queued(slot1, 4) == 4);
  close_all(clients);

  // Slot 1 is restarting: out of the turn, its socket kept for the next run.
  listeners.set_slots({0}, {1});
  clients = connect_n(port, 4);
  CHECK(accept_queued(slot0, 4) == 4);
  close_all(clients);
  CHECK(listeners.fds(1).at(0) == slot1);

  // Connections queued in slot 1 when its instance stops move to slot 0 as its socket closes.
  listeners.set_slots({1}, {0});
  clients = connect_n(port, 4);
  listeners.set_slots({0}, {});
  CHECK(accept_queued(slot0, 4) == 4);
  close_all(clients);
  // The last socket of the address stays open, out of the turn, and goes to the next slot.
  listeners.set_slots({}, {});
  CHECK_FALSE(listeners.fds(2).empty());
  CHECK(listeners.fds(2).at(0) == slot0);
  listeners.close();
}

TEST_CASE("every slot shares a Unix socket (no SO_REUSEPORT there)", "[reuseport_balancer][listeners]") {
  char dir[] = "/tmp/pmx-balancer-test.XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  config::ListenAddress a;
  a.kind = config::ListenAddress::Kind::Unix;
  a.path = std::string(dir) + "/app.sock";
  {
    Listeners listeners;
    REQUIRE(listeners.bind({a}));
    CHECK_FALSE(listeners.balanced(a));
    CHECK(listeners.fds(1) == listeners.fds(0));
    listeners.set_slots({1}, {});
    CHECK(listeners.fds(2) == listeners.fds(0));
  }
  ::rmdir(dir);
}

}  // namespace
}  // namespace pmx::daemon
