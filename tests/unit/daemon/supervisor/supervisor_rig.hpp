// SupervisorRig: one Supervisor on a fake process layer (FakeProcessOps) and fake timers
// (FakeTimers), its own loop and control server, in a temporary home; for the supervisor's unit
// tests. No fork, no real process: the fake hands out pids, the test ends them. Time is the
// test's: the state machine's clock and every deadline (kill_timeout, restart delays,
// listen_timeout, a reload's waits, cron, the sampling tick) move only with advance(), which
// fires what falls due and runs what the loop has ready after each, without waiting.
#pragma once

#include <catch2/catch.hpp>

#include <stdlib.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "daemon/control/control_server.hpp"
#include "daemon/control/session.hpp"
#include "daemon/supervisor/supervisor.hpp"
#include "tests/unit/daemon/process/fake_process_ops.hpp"
#include "tests/unit/daemon/supervisor/fake_loop.hpp"

namespace pmx::daemon::testing {

using json = ipc::json;

/// A fresh PMX_HOME, removed at the end.
struct SupervisorHome {
  SupervisorHome() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/pmx-supervisor-XXXXXX";
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
    std::filesystem::create_directories(path + "/logs");
    std::filesystem::create_directories(path + "/pids");
  }
  ~SupervisorHome() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string path;
};

/// One supervisor on a fake process layer, its own loop and control server, in home.
struct SupervisorRig : FakeLoop {
  explicit SupervisorRig(const std::string& home, Millis sample_interval = Millis(1000)) {
    DaemonOptions options;
    options.paths = config::Paths{home};
    options.use_cgroups = false;
    options.sample_interval = sample_interval;
    server = std::make_unique<ControlServer>(io, home + "/pmx.sock");
    supervisor = std::make_unique<Supervisor>(io, options, *server, ops, timers);
  }
  ~SupervisorRig() {
    supervisor.reset();
    server.reset();
  }

  /// Calls a verb as a client would; the reply is not read (the tests look at the instances).
  void call(const std::string& method, const json& params) {
    server->dispatch(ipc::Request{json(1), method, params}, Reply({}, json(1)));
  }
  /// A verb called by a client of its own, whose reply the test reads.
  struct Asked {
    std::shared_ptr<Session> session;
    std::unique_ptr<boost::asio::local::stream_protocol::socket> client;
    std::string received;
    /// The reply, once the session has written it whole; nullopt before.
    std::optional<json> reply() {
      char buf[4096];
      boost::system::error_code ec;
      while (client->available(ec) > 0 && !ec) {
        const std::size_t n = client->read_some(boost::asio::buffer(buf), ec);
        if (ec) break;
        received.append(buf, n);
      }
      const auto end = received.find('\n');
      if (end == std::string::npos) return std::nullopt;
      return json::parse(received.substr(0, end));
    }
  };
  Asked ask(const std::string& method, const json& params) {
    boost::asio::local::stream_protocol::socket ours(io);
    auto theirs = std::make_unique<boost::asio::local::stream_protocol::socket>(io);
    boost::asio::local::connect_pair(ours, *theirs);
    Asked asked{std::make_shared<Session>(next_session_++, std::move(ours), *server), std::move(theirs), {}};
    server->dispatch(ipc::Request{json(1), method, params}, Reply(asked.session, json(1)));
    return asked;
  }
  void start_app(json app) {
    app["script"] = "/bin/sh";  // never run: the fake spawns nothing
    call("start", {{"app", app}});
  }

  /// Runs the loop until pred holds; false after a generous deadline. For what does not come
  /// through the timers (a LogPipe's quiet wait, a reply's deadline): the fake clock stays.
  template <typename Pred>
  bool run_until(Pred pred) {
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    while (!pred()) {
      if (Clock::now() > deadline) return false;
      io.restart();
      io.run_for(std::chrono::milliseconds(2));
    }
    return true;
  }

  const Instance& in(int id = 0) const {
    const Instance* i = supervisor->instance(id);
    REQUIRE(i != nullptr);
    return *i;
  }
  State state(int id = 0) const { return in(id).fsm.state(); }
  /// Waits until instance id is online with a pid other than not_this.
  bool online_again(pid_t not_this, int id = 0) {
    return run_until([&] { return state(id) == State::Online && in(id).run.pid != not_this; });
  }

  FakeProcessOps ops{io};
  std::unique_ptr<ControlServer> server;
  std::unique_ptr<Supervisor> supervisor;
  SessionId next_session_ = 1'000'000;  ///< far from the ids of the server's own sessions
};

}  // namespace pmx::daemon::testing
