// SupervisorRig: one Supervisor on a fake process layer (FakeProcessOps), its own loop and
// control server, in a temporary home; for the supervisor's unit tests. No fork, no real
// process: the fake hands out pids, the test ends them; the state machine's time comes from a
// hand-moved clock.
#pragma once

#include <catch2/catch.hpp>

#include <stdlib.h>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "daemon/control/control_server.hpp"
#include "daemon/supervisor/supervisor.hpp"
#include "tests/unit/daemon/process/fake_process_ops.hpp"

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
struct SupervisorRig {
  explicit SupervisorRig(const std::string& home, Millis sample_interval = Millis(1000)) {
    DaemonOptions options;
    options.paths = config::Paths{home};
    options.use_cgroups = false;
    options.sample_interval = sample_interval;
    options.clock = [this] { return now; };
    server = std::make_unique<ControlServer>(io, home + "/pmx.sock");
    supervisor = std::make_unique<Supervisor>(io, options, *server, ops);
  }
  ~SupervisorRig() {
    supervisor.reset();
    server.reset();
  }

  /// Calls a verb as a client would; the reply is not read (the tests look at the instances).
  void call(const std::string& method, const json& params) {
    server->dispatch(ipc::Request{json(1), method, params}, Reply({}, json(1)));
  }
  void start_app(json app) {
    app["script"] = "/bin/sh";  // never run: the fake spawns nothing
    call("start", {{"app", app}});
  }

  /// Runs the loop until pred holds; false after a generous deadline.
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
  /// Runs what is ready now (no timer that has not expired).
  void settle() {
    io.restart();
    io.poll();
  }

  const Instance& in(int id = 0) const {
    const Instance* i = supervisor->instance(id);
    REQUIRE(i != nullptr);
    return *i;
  }
  State state(int id = 0) const { return in(id).fsm.state(); }
  /// Waits until instance id is online with a pid other than not_this.
  bool online_again(pid_t not_this, int id = 0) {
    return run_until([&] { return state(id) == State::Online && in(id).pid != not_this; });
  }

  TimePoint now = Clock::now();
  boost::asio::io_context io{1};
  FakeProcessOps ops{io};
  std::unique_ptr<ControlServer> server;
  std::unique_ptr<Supervisor> supervisor;
};

}  // namespace pmx::daemon::testing
