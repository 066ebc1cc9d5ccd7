// UpdateVerb: pmxd replaces itself with the binary now installed, in place. It answers, writes
// the state file, and execs the new binary with the same pid: the apps stay its children (same
// pids, restart counters, uptimes), their output waits in its FIFOs, which the new pmxd opens
// again, and their listening sockets stay open in them. The new pmxd takes over as after a
// crash (adoption), without the crash: nothing is lost in between. The home's lock is held
// across the exec, and only a binary that answers `--protocol-version` with this pmxd's
// protocol is exec'd (asked off the loop).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "daemon/process/binary_probe.hpp"
#include "daemon/state/daemon_lock.hpp"
#include "daemon/supervisor/update_verb.hpp"
#include "ipc/version.hpp"

namespace pmx::daemon {

using ipc::ErrorCode;
using ipc::make_error;

namespace {

/// How long `<binary> --protocol-version` may take before the update is refused.
constexpr std::chrono::milliseconds kProbeTimeout{5000};

}  // namespace

void UpdateVerb::handle(const ipc::json& params, const Reply& reply) {
  auto given = params.find("binary");
  if (given == params.end() || !given->is_string() || given->get<std::string>().empty() ||
      given->get<std::string>()[0] != '/') {
    return reply.fail(ipc::invalid_param("binary", "must be the new pmxd's absolute path"));
  }
  const std::string binary = given->get<std::string>();
  if (::access(binary.c_str(), X_OK) != 0) {
    return reply.fail(make_error(ErrorCode::InvalidParams, "cannot run " + binary + ": " + std::strerror(errno)));
  }
  if (auto busy = blocker()) return reply.fail(*busy);
  // Only a pmxd that speaks this protocol is exec'd: asked off the loop (it runs the binary).
  writer_.run([this, binary, reply]() -> BackgroundWriter::Then {
    auto version = probe_protocol(binary, kProbeTimeout);
    return [this, binary, reply, version] {
      if (!version) return reply.fail(make_error(ErrorCode::InvalidParams, "update refused: " + version.error()));
      if (*version != ipc::kProtocolVersion) {
        return reply.fail(make_error(ErrorCode::InvalidParams,
                                     "update refused: " + binary + " speaks protocol " + std::to_string(*version) +
                                         ", this pmxd " + std::to_string(ipc::kProtocolVersion),
                                     {{"protocol", *version}, {"expected", ipc::kProtocolVersion}}));
      }
      // Checked again: an instance may have begun a restart while the binary was asked.
      if (auto busy = blocker()) return reply.fail(*busy);
      hand_over(binary, reply);
    };
  });
}

std::optional<ipc::RpcError> UpdateVerb::blocker() const {
  // A reload's replacement or an instance on its way somewhere would be cut short: wait for them.
  for (const auto& [id, in] : registry_.by_id()) {
    if (in->candidate || !in->retiring.empty() || !is_settled(in->fsm.state())) {
      return make_error(ErrorCode::InvalidState, label(*in) + " is " + status_name(in->fsm.state()) +
                                                     (in->candidate ? " (a reload is under way)" : "") +
                                                     "; update once it has settled");
    }
  }
  return std::nullopt;
}

void UpdateVerb::hand_over(const std::string& binary, const Reply& reply) {
  std::vector<std::string> args{binary, "--foreground"};
  if (options_.resurrect) args.push_back("--resurrect");
  if (!options_.use_cgroups) args.push_back("--no-cgroup");
  args.push_back("--sample-interval");
  args.push_back(std::to_string(options_.sample_interval.count()));
  reply.ok_then({{"pid", ::getpid()}, {"binary", binary}}, [this, args] {
    spdlog::info("update: pmxd {} hands over to {}", ::getpid(), args[0]);
    state_.now();
    spdlog::default_logger()->flush();
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    // The home's lock goes across the exec, held all along: a pmx auto-starting a pmxd
    // meanwhile finds it taken and waits for this one's socket (else the other pmxd would win
    // and the apps, children of this one, would be nobody's).
    const int lock_fd = options_.lock_fd;
    if (lock_fd >= 0) {
      ::fcntl(lock_fd, F_SETFD, 0);
      ::setenv(DaemonLock::kInheritedLockEnv, std::to_string(lock_fd).c_str(), 1);
    }
    ::execv(argv[0], argv.data());
    // Still here: the old binary goes on serving, as before the request.
    const int err = errno;
    if (lock_fd >= 0) {
      ::fcntl(lock_fd, F_SETFD, FD_CLOEXEC);
      ::unsetenv(DaemonLock::kInheritedLockEnv);
    }
    spdlog::error("update: exec {} failed: {}; this pmxd goes on", args[0], std::strerror(err));
  });
}

}  // namespace pmx::daemon
