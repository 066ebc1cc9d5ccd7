// MonitSource: everything `pmx monit` reads from pmxd and asks of it, behind one small
// interface: a snapshot of the instances, each one's history of samples, the selected app's
// log lines, and the actions. DaemonSource is the real one, over the control socket.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "cli/monit_keys.hpp"
#include "cli/monit_model.hpp"
#include "config/paths.hpp"
#include "config/result.hpp"
#include "ipc/client.hpp"

namespace pmx::cli::monit {

class MonitSource {
 public:
  virtual ~MonitSource() = default;
  /// One look at every instance (pmxd's `metrics`); an error saying why when pmxd does not answer.
  virtual Result<std::vector<AppRow>> snapshot() = 0;
  /// id's samples, oldest first, for its sparklines.
  virtual std::vector<Sample> history(int id) const = 0;
  /// Follows the log lines of instance id from now on (its last lines first), instead of the
  /// one followed before; -1 follows none.
  virtual void follow_logs(int id) = 0;
  /// The lines that arrived since the last call (without waiting).
  virtual std::vector<LogTail::Line> take_log_lines() = 0;
  /// Whether an instance changed state since the last call (a reason to look again now).
  virtual bool take_state_changed() = 0;
  /// A descriptor that becomes readable when log lines or state changes arrive (-1: none).
  virtual int wake_fd() const = 0;
  /// Sends action's request; the daemon's refusal as an error.
  virtual Result<std::string> act(const Action& action) = 0;
};

/// The real source: pmxd's control socket at paths.socket, never starting a daemon. Two
/// connections: one for requests (`metrics`, the actions), one that follows logs and events.
/// The history is pmxd's own (`metrics`' history points, 5 s apart, over 10 minutes), so the
/// sparklines are full when monit opens.
class DaemonSource : public MonitSource {
 public:
  explicit DaemonSource(config::Paths paths, std::size_t log_lines = 15);
  Result<std::vector<AppRow>> snapshot() override;
  std::vector<Sample> history(int id) const override { return history_.of(id); }
  void follow_logs(int id) override;
  std::vector<LogTail::Line> take_log_lines() override;
  bool take_state_changed() override;
  int wake_fd() const override { return follower_.native_handle(); }
  Result<std::string> act(const Action& action) override;

 private:
  /// Connects client to pmxd when it is not; the reason when it cannot.
  std::optional<std::string> ensure(ipc::Client& client);
  /// Reads the follower's notifications that have arrived, without waiting.
  void drain();
  /// Takes one notification in: a log line of the followed app, a state change, lines skipped.
  void handle_note(const nlohmann::json& note);

  config::Paths paths_;
  std::size_t log_lines_;
  ipc::Client requests_;
  ipc::Client follower_;
  History history_;
  int followed_ = -1;       ///< the id whose logs the follower follows
  bool following_ = false;  ///< the follower's `logs` request went through
  bool state_changed_ = false;
  std::vector<LogTail::Line> pending_;
};

}  // namespace pmx::cli::monit
