// Launcher: what starting a run of an instance takes, apart from deciding when: its environment
// and argv, its output (FIFOs, readers, log sinks, the feed of `pmx logs`), the credentials of
// its user, its sockets and Node channel, the fork into its cgroup; and stopping one run. The
// supervisor keeps the policy (when to spawn, what a run's end means).
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "config/app_spec.hpp"
#include "config/daemon_settings.hpp"
#include "config/paths.hpp"
#include "config/result.hpp"
#include "daemon/control/control_server.hpp"
#include "daemon/instance/instance.hpp"
#include "daemon/listeners/node_channel.hpp"
#include "daemon/listeners/node_message.hpp"
#include "daemon/listeners/notify_socket.hpp"
#include "daemon/logs/journal_book.hpp"
#include "daemon/logs/log_feed.hpp"
#include "daemon/logs/log_sink.hpp"
#include "daemon/process/credentials_cache.hpp"
#include "daemon/process/process_ops.hpp"
#include "daemon/process/spawn_queue.hpp"
#include "daemon/supervisor/registry.hpp"

namespace pmx::daemon {

class Launcher {
 public:
  /// Where a message of a run's Node channel goes (the instance still exists).
  using NodeMessageRoute = std::function<void(Instance& in, NodeChannel& channel, const NodeMessage& msg)>;
  /// Binds the sockets of a cluster-mode app that has none bound; an error names the address.
  using BindSockets = std::function<Result<bool>(App& app, const config::AppSpec& spec)>;
  /// Called from the loop once the exec of the run with this pid is confirmed (error "") or
  /// failed (error says why; its exit follows).
  using ExecDone = std::function<void(Instance& in, pid_t pid, const std::string& error)>;

  struct Options {
    config::Paths paths;
    /// node/preload.js as installed; empty: cluster-mode Node instances run without it.
    std::string node_preload;
    /// The writer of pmx.log, rotated with the apps' logs; may be null.
    std::shared_ptr<LogSink> daemon_log;
  };

  /// processes, registry, server and notify must outlive the launcher.
  Launcher(boost::asio::io_context& io, Options options, ProcessOps& processes, Registry& registry,
           ControlServer& server, const NotifySocket& notify, BindSockets bind, NodeMessageRoute on_message);
  Launcher(const Launcher&) = delete;
  Launcher& operator=(const Launcher&) = delete;

  /// The bound on spawns in flight: a spawn is admitted before it is launched, and its slot is
  /// freed when its exec is reported.
  SpawnQueue& spawns() { return spawns_; }

  /// Makes the FIFO folder.
  void open();

  /// Whether runs of spec get node/preload.js: a cluster-mode Node app, the preload installed.
  bool with_preload(const config::AppSpec& spec) const;
  /// Whether runs of spec get node/preload.js's runtime metrics: a Node app (fork or cluster
  /// mode) without `pmx: false`, the preload installed.
  bool with_metrics(const config::AppSpec& spec) const;
  /// Whether a run of the instance is online only once the app says so: wait_ready, or a
  /// cluster-mode Node app run with the preload (ready when it listens).
  bool needs_ready(const Instance& in) const;

  /// Builds the request for a run of in (environment, argv, output FIFOs, listening sockets,
  /// Node channel) and forks it into cgroup ("" for none). The error says why nothing ran. A
  /// failed exec known before the spawn returned is in the run's exec_error (its exit follows).
  Result<Run> launch(Instance& in, const std::string& cgroup, ExecDone exec_done);
  /// Makes run the instance's current run and writes its pid file (the caller persists).
  void become_current(Instance& in, Run run);
  /// Clears away the last run's cgroup and makes the next run's, off the restart path.
  void prepare_spare_cgroup(Instance& in);
  /// Stops one run gracefully: kill_signal to its processes, or 'shutdown' on its Node channel
  /// (shutdown_with_message).
  void stop_run(const Instance& in, const Membership& run, NodeChannel* channel);

  /// The uid/gid options resolved, from the cache (never a lookup on the loop): an error when
  /// they were never looked up (start waits for the lookup before it starts an app).
  Result<Credentials> credentials(const std::string& user, const std::string& group);
  /// The uid/gid lookups, off the loop.
  CredentialsCache& credentials_cache() { return credentials_; }

  /// Gives a new instance its identity and files: unique_id, log paths, pid file.
  void name_files(Instance& in);
  /// The instance's log files from its options: out, err and the combined log_file.
  void set_log_paths(Instance& in) const;
  /// Makes the instance's FIFOs and opens its output readers and log sinks.
  void open_output(Instance& in);
  /// Drains and closes the instance's output readers and removes its FIFOs.
  void close_output(Instance& in);
  /// Closes every instance's output and removes the FIFO folder (a clean exit).
  void close_all_output();
  /// Removes the FIFOs no recorded instance owns (leftovers of deleted apps).
  void remove_stray_fifos();

  /// Reads pmx.yaml and gives every log file its rotation; the error (file:line) or "".
  std::string load_settings();
  /// pmx.yaml as last read.
  const config::DaemonSettings& settings() const { return settings_; }
  /// Closes and opens again every log file (reloadLogs, SIGUSR2); returns how many.
  std::size_t reopen_logs();
  /// Who follows which instance's output.
  LogFeed& feed() { return feed_; }
  const std::string& fifo_dir() const { return fifo_dir_; }

 private:
  boost::asio::io_context& io_;
  Options options_;
  ProcessOps& processes_;
  Registry& registry_;
  /// Spawns in flight (forked, exec not yet reported) are bounded; the others wait, launching.
  SpawnQueue spawns_{SpawnQueue::default_limit()};
  const NotifySocket& notify_;
  BindSockets bind_;
  NodeMessageRoute on_message_;
  config::DaemonSettings settings_;  ///< pmx.yaml
  LogSinks sinks_;
  LogFeed feed_;  ///< who follows which instance's output
  CredentialsCache credentials_;  ///< uid/gid lookups, off the loop
  std::string fifo_dir_;
  /// The capture journals of every output stream: one file in fifo_dir_, a slot per stream.
  std::shared_ptr<JournalBook> journals_;
};

}  // namespace pmx::daemon
