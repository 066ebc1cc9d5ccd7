// `update`: pmxd replaces itself with the binary now installed, in place. It answers, writes
// the state file, and execs the new binary with the same pid: the apps stay its children (same
// pids, restart counters, uptimes), their output waits in its FIFOs, which the new pmxd opens
// again, and their listening sockets stay open in them. The new pmxd takes over as after a
// crash (adoption), without the crash: nothing is lost in between.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "daemon/supervisor/supervisor.hpp"

namespace pmx::daemon {

using ipc::ErrorCode;
using ipc::make_error;

void Supervisor::update_verb(const json& params, const Reply& reply) {
  auto given = params.find("binary");
  if (given == params.end() || !given->is_string() || given->get<std::string>().empty() ||
      given->get<std::string>()[0] != '/') {
    return reply.fail(ipc::invalid_param("binary", "must be the new pmxd's absolute path"));
  }
  const std::string binary = given->get<std::string>();
  if (::access(binary.c_str(), X_OK) != 0) {
    return reply.fail(make_error(ErrorCode::InvalidParams, "cannot run " + binary + ": " + std::strerror(errno)));
  }
  // A reload's replacement or an instance on its way somewhere would be cut short: wait for them.
  for (const auto& [id, in] : registry_.by_id()) {
    if (in->candidate || !in->retiring.empty() || !is_settled(in->fsm.state())) {
      return reply.fail(make_error(ErrorCode::InvalidState, label(*in) + " is " + status_name(in->fsm.state()) +
                                                                (in->candidate ? " (a reload is under way)" : "") +
                                                                "; update once it has settled"));
    }
  }
  std::vector<std::string> args{binary, "--foreground"};
  if (options_.resurrect) args.push_back("--resurrect");
  if (!options_.use_cgroups) args.push_back("--no-cgroup");
  args.push_back("--sample-interval");
  args.push_back(std::to_string(options_.sample_interval.count()));
  reply.ok_then({{"pid", ::getpid()}, {"binary", binary}}, [this, args] {
    spdlog::info("update: pmxd {} hands over to {}", ::getpid(), args[0]);
    persist_now();
    spdlog::default_logger()->flush();
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    // Still here: the old binary goes on serving, as before the request.
    spdlog::error("update: exec {} failed: {}; this pmxd goes on", args[0], std::strerror(errno));
  });
}

}  // namespace pmx::daemon
