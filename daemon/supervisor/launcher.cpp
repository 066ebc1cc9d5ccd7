// Launcher: a run's environment, argv, output, sockets and Node channel, forked into its cgroup;
// one run stopped; the credentials and log files that takes.
#include "daemon/supervisor/launcher.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <random>
#include <tuple>
#include <utility>
#include <spdlog/spdlog.h>

#include "config/listen_address.hpp"
#include "daemon/logs/log_pipe.hpp"
#include "daemon/logs/output_fifo.hpp"
#include "daemon/process/spawn.hpp"
#include "daemon/state/pid_file.hpp"
#include "daemon/supervisor/run_cgroups.hpp"

namespace pmx::daemon {

namespace asio = boost::asio;
using json = ipc::json;

namespace {

/// How an app's options ask its lines to be written (time, log_date_format, log_type).
LineStyle line_style(const config::AppSpec& spec, int id, const char* type) {
  LineStyle style;
  const bool json = spec.log_type == "json";
  if (!json && !spec.time && spec.log_date_format.empty()) return style;
  style.kind = json ? LineStyle::Kind::Json : LineStyle::Kind::Stamped;
  // The format was checked when the app was started; the ISO one is always valid. `time` wins
  // over log_date_format, as in PM2 (where it replaces the format).
  const std::string_view format =
      spec.time || spec.log_date_format.empty() ? config::kTimeFormat : std::string_view(spec.log_date_format);
  if (auto compiled = config::DateFormat::compile(format)) style.date = std::move(*compiled);
  else style.date = std::move(*config::DateFormat::compile(config::kTimeFormat));
  style.app_name = spec.name;
  style.process_id = id;
  style.type = type;
  return style;
}

/// A log path that means "no file".
constexpr std::string_view kNoLog = "/dev/null";
constexpr std::string_view kJournalsFile = "journals";  ///< in the FIFOs' folder

std::string new_unique_id() {
  unsigned char b[16];
  // One getrandom for the 16 bytes (random_device would make 16 draws and set itself up per id).
  if (getrandom(b, sizeof b, 0) != static_cast<ssize_t>(sizeof b)) {
    std::random_device rd;
    std::uniform_int_distribution<unsigned> byte(0, 255);
    for (auto& x : b) x = static_cast<unsigned char>(byte(rd));
  }
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  char out[37];
  std::snprintf(out, sizeof out,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return out;
}

/// An app's name as LISTEN_FDNAMES carries it: ':' separates the names there.
std::string fd_name(std::string name) {
  std::replace(name.begin(), name.end(), ':', '_');
  return name;
}

/// The pid file of instance id of spec, whose pid_file is set: as PM2 names it, "app.pid" and
/// "app-3.pid" become "app-<id>.pid" (each instance its own file, even a single one); a name
/// without ".pid" is kept for one instance and gets "-<id>" when there are several.
std::string instance_pid_file(const config::AppSpec& spec, int id) {
  const std::string& path = spec.pid_file;
  const std::string suffix = "-" + std::to_string(id);
  if (!path.ends_with(".pid")) return spec.instances > 1 ? path + suffix : path;
  std::size_t stem = path.size() - 4;
  std::size_t digits = stem;
  while (digits > 0 && std::isdigit(static_cast<unsigned char>(path[digits - 1]))) --digits;
  if (digits < stem && digits > 0 && path[digits - 1] == '-') stem = digits - 1;
  return path.substr(0, stem) + suffix + ".pid";
}

}  // namespace

Launcher::Launcher(asio::io_context& io, Options options, ProcessOps& processes, Registry& registry,
                   ControlServer& server, const NotifySocket& notify, BindSockets bind, NodeMessageRoute on_message)
    : io_(io),
      options_(std::move(options)),
      processes_(processes),
      registry_(registry),
      notify_(notify),
      bind_(std::move(bind)),
      on_message_(std::move(on_message)),
      sinks_(io, options_.paths.logs_dir() + "/refused"),
      feed_(server),
      credentials_(io),
      fifo_dir_(options_.paths.home + "/fifos"),
      journals_(JournalBook::at(fifo_dir_ + "/" + std::string(kJournalsFile))) {
  if (options_.daemon_log) sinks_.add(options_.daemon_log, settings_.daemon_log);
}

void Launcher::open() {
  if (::mkdir(fifo_dir_.c_str(), 0700) != 0 && errno != EEXIST) {
    spdlog::error("cannot create {}: {}", fifo_dir_, std::strerror(errno));
  }
}

bool Launcher::needs_ready(const Instance& in) const {
  const auto& s = in.spec;
  return s.wait_ready || with_preload(s);
}

bool Launcher::with_preload(const config::AppSpec& s) const {
  // reuse_port: the instances bind their port themselves, so their listen() is left alone.
  return config::runs_in_cluster_mode(s) && config::is_node_app(s) && !s.reuse_port && !options_.node_preload.empty();
}

bool Launcher::with_metrics(const config::AppSpec& s) const {
  return config::is_node_app(s) && s.pmx && !options_.node_preload.empty();
}

Result<Run> Launcher::launch(Instance& in, const std::string& cgroup, ExecDone exec_done) {
  const auto& s = in.spec;
  config::Env env = in.environment(options_.paths.home);
  std::optional<Credentials> creds;
  if (!s.uid.empty() || !s.gid.empty()) {
    // Checked at start; the user may have gone since. Never run as pmxd's own user instead.
    auto resolved = credentials(s.uid, s.gid);
    if (!resolved) return Error{resolved.error()};
    creds = *resolved;
    if (!creds->home.empty()) env["HOME"] = creds->home;
  }
  Run run;
  run.cgroup = cgroup;
  if (creds) run.home = creds->home;

  SpawnRequest req;
  for (const auto& [k, v] : env) req.env.push_back(k + "=" + v);
  if (s.interpreter.empty()) {
    req.program = s.script;
    req.argv.push_back(s.script);
  } else {
    req.program = find_program(s.interpreter, req.env);
    req.argv.push_back(s.interpreter);
    req.argv.insert(req.argv.end(), s.interpreter_args.begin(), s.interpreter_args.end());
    req.argv.push_back(s.script);
  }
  req.argv.insert(req.argv.end(), s.args.begin(), s.args.end());
  req.cwd = s.cwd;
  req.limits = limits_of(s);
  if (creds) {
    req.uid = creds->uid;
    req.gid = creds->gid;
    req.groups = creds->groups;
  }

  if (!in.out_pipe || !in.err_pipe) open_output(in);
  const int out_end = in.out_pipe ? open_fifo_child_end(in.out_fifo) : -1;
  const int err_end = in.err_pipe && out_end >= 0 ? open_fifo_child_end(in.err_fifo) : -1;
  if (out_end < 0 || err_end < 0) {
    const int err = errno;
    if (out_end >= 0) ::close(out_end);
    return Error{std::string("cannot open the output FIFOs in ") + fifo_dir_ + ": " + std::strerror(err)};
  }
  req.stdout_fd = out_end;
  req.stderr_fd = err_end;
  auto close_ends = [&] {
    ::close(out_end);
    ::close(err_end);
  };
  if (notify_.is_open()) req.env.push_back("NOTIFY_SOCKET=" + notify_.path());
  const bool cluster = config::runs_in_cluster_mode(s);
  if (App& owner = registry_.apps().at(s.name); cluster && !s.reuse_port) {
    if (auto bound = bind_(owner, s); !bound) {
      close_ends();
      return Error{"cannot listen on " + bound.error()};
    }
    if (auto fds = owner.listeners.fds(in.app_instance); !fds.empty()) {
      // systemd's socket activation: fds 3.., their count and names; LISTEN_PID is written by
      // the child. PORT, unless the app's env or `port` set it, is the first TCP port. The
      // instance's slot (NODE_APP_INSTANCE) has its own sockets where they are balanced.
      req.inherited_fds = std::move(fds);
      req.listen_pid = true;
      req.env.push_back("LISTEN_FDS=" + std::to_string(req.inherited_fds.size()));
      std::string names;
      for (std::size_t i = 0; i < req.inherited_fds.size(); ++i) names += (i ? ":" : "") + fd_name(s.name);
      req.env.push_back("LISTEN_FDNAMES=" + names);
      if (!env.count("PORT") && owner.listeners.first_port() > 0) {
        req.env.push_back("PORT=" + std::to_string(owner.listeners.first_port()));
      }
    }
  }
  // Node apps get Node's IPC channel after the sockets, as under PM2: process.send() reaches
  // pmxd ('ready'), and in cluster mode the preload asks it for the sockets its listen()s need.
  int channel_end = -1;
  if (config::is_node_app(s)) {
    auto opened = NodeChannel::open(io_, [this, id = in.id](NodeChannel& channel, const NodeMessage& msg) {
      if (Instance* in = registry_.find(id)) on_message_(*in, channel, msg);
    });
    if (opened) {
      run.channel = opened->first;
      run.channel->set_label(label(in));
      channel_end = opened->second;
      req.env.push_back("NODE_CHANNEL_FD=" + std::to_string(3 + req.inherited_fds.size()));
      req.env.push_back("NODE_CHANNEL_SERIALIZATION_MODE=json");
      req.inherited_fds.push_back(channel_end);
      if (with_preload(s) || with_metrics(s)) {
        req.argv.insert(req.argv.begin() + 1 + static_cast<long>(s.interpreter_args.size()),
                        {"--require", options_.node_preload});
      }
      if (with_metrics(s)) req.env.push_back("PMX_METRICS=1");
      // PMX_DRAIN: before an app's own handler of the stop signal, the preload drains its http
      // servers (node/preload.js); `pmx: false` opts out of it as of the metrics.
      if (with_metrics(s)) req.env.push_back("PMX_DRAIN=1");
      if (with_preload(s)) req.env.push_back("PMX_CLUSTER=1");
      if (with_preload(s) || with_metrics(s)) {
        // The preload's drain ends before kill_timeout's SIGKILL would.
        const std::uint64_t drain = s.kill_timeout_ms > 200 ? s.kill_timeout_ms - 100 : s.kill_timeout_ms;
        req.env.push_back("PMX_DRAIN_TIMEOUT=" + std::to_string(drain));
      }
    } else {
      spdlog::warn("{} {}", label(in), opened.error());
    }
  }

  // The report usually comes from the loop, after spawn() returned: by then the holder has the
  // pid. A failure known already (pmxd waited for the child until its exec) comes before spawn()
  // returns: it is kept for the caller in the run's exec_error, since the run it belongs to (a
  // reload's replacement) does not exist yet.
  auto pid_holder = std::make_shared<pid_t>(0);
  auto early_error = std::make_shared<std::string>();
  auto early_report = std::make_shared<bool>(false);
  const std::string program = req.program;  // req goes to the process layer
  auto report = [this, id = in.id, pid_holder, early_error, early_report, program, cwd = req.cwd,
                 exec_done = std::move(exec_done)](int err, const std::string& step) {
    // On failure the child exits 127/126 and is reaped as usual.
    const std::string error = err != 0 ? describe_exec_failure(err, step, program, cwd) : std::string();
    if (*pid_holder == 0) {
      *early_error = error;
      *early_report = true;
      return;
    }
    if (Instance* in = registry_.find(id)) exec_done(*in, *pid_holder, error);
    spawns_.reported(*pid_holder);  // its slot goes to the next spawn waiting
  };
  Result<pid_t> spawned = processes_.spawn(std::move(req), cgroup, std::move(report));
  close_ends();
  if (channel_end >= 0) ::close(channel_end);
  if (!spawned) return Error{spawned.error()};
  const pid_t pid = *spawned;
  *pid_holder = pid;
  if (!*early_report) spawns_.forked(pid);
  run.exec_error = *early_error;
  if (run.channel) run.channel->start();
  run.pid = pid;
  run.pid_start = processes_.start_ticks(pid);
  registry_.add_leader(pid, in.id);
  processes_.set_leader(pid, true);
  spdlog::info("{} forked pid {}: {}", label(in), pid, program);
  return run;
}

void Launcher::prepare_spare_cgroup(Instance& in) {
  if (!processes_.cgroups()) return;
  asio::post(io_, [this, id = in.id] {
    Instance* in = registry_.find(id);
    if (!in) return;
    remove_old_cgroups(processes_, *in);
    if (in->spare_cgroup.empty() && !in->deleting) in->spare_cgroup = make_cgroup(processes_, *in);
  });
}

void Launcher::become_current(Instance& in, Run run) {
  in.run = std::move(run);
  in.started_at_ms = wall_clock_ms();
  in.usage = ResourceSample{};
  in.limit_usage = LimitUsage{};
  in.metrics.clear();
  write_pid_file(in.pid_path, in.run.pid);
}

void Launcher::stop_run(const Instance& in, const Membership& run, NodeChannel* channel) {
  if (in.spec.shutdown_with_message && channel && channel->is_open()) {
    // PM2's shutdown_with_message: process.on('message') gets 'shutdown' instead of a signal;
    // kill_timeout's SIGKILL still follows if the app does not end. Under the preload the
    // message goes to the preload, which hands it to the app if it listens, or drains it.
    spdlog::info("{} sending 'shutdown' to pid {} (shutdown_with_message)", label(in), run.leader);
    if (with_preload(in.spec)) return channel->send(json{{"cmd", "NODE_PMX"}, {"pmx", "shutdown"}});
    return channel->send("shutdown");
  }
  processes_.signal_all(run, in.fsm.policy().kill_signal);
}

Result<Credentials> Launcher::credentials(const std::string& user, const std::string& group) {
  // The password and group databases may be remote (NSS): looked up by the cache's worker,
  // never here. An app's are looked up before it is first started (StartVerb, DumpVerbs,
  // adoption), so a miss is a user that was never looked up.
  if (auto known = credentials_.get(user, group)) return *known;
  return Error{"the user and group of options 'uid'/'gid' (" + user + "/" + group +
               ") are being looked up; try again"};
}

std::string Launcher::load_settings() {
  auto loaded = config::load_daemon_settings(options_.paths.settings());
  if (!loaded) {
    spdlog::error("{}; keeping the log rotation settings in use", loaded.error());
    return loaded.error();
  }
  settings_ = *loaded;
  if (options_.daemon_log) sinks_.configure(options_.daemon_log, settings_.daemon_log);
  for (auto& [id, in] : registry_.by_id()) {
    for (const auto& sink : {in->out_sink, in->err_sink, in->log_sink}) {
      if (sink) sinks_.configure(sink, config::rotation_for(in->spec, settings_.app_logs));
    }
  }
  return "";
}

std::size_t Launcher::reopen_logs() {
  std::size_t reopened = 0;
  sinks_.for_each([&](LogSink& sink) {
    sink.reopen();
    ++reopened;
  });
  return reopened;
}

void Launcher::name_files(Instance& in) {
  in.unique_id = new_unique_id();
  set_log_paths(in);
  in.pid_path = in.spec.pid_file.empty() ? options_.paths.pid_file(in.spec.name, in.id) : instance_pid_file(in.spec, in.id);
}

void Launcher::set_log_paths(Instance& in) const {
  const config::AppSpec& spec = in.spec;
  if (spec.disable_logs) {
    in.out_path = in.err_path = "/dev/null";
    in.log_path.clear();
    return;
  }
  // Several instances of one app get a file each, unless merge_logs (PM2's naming).
  const std::string suffix = spec.instances > 1 && !spec.merge_logs ? "-" + std::to_string(in.id) : "";
  auto with_suffix = [&](std::string path) {
    if (suffix.empty() || path == kNoLog) return path;
    auto dot = path.rfind(".log");
    return dot == std::string::npos ? path + suffix : path.insert(dot, suffix);
  };
  const auto& paths = options_.paths;
  in.out_path = with_suffix(spec.out_file.empty() ? paths.out_log(spec.name) : spec.out_file);
  in.err_path = with_suffix(spec.error_file.empty() ? paths.err_log(spec.name) : spec.error_file);
  // log_file: true names <logs>/<name>.log, as PM2 does.
  if (spec.log_file.empty() || spec.log_file == "false") in.log_path.clear();
  else in.log_path = with_suffix(spec.log_file == "true" ? paths.logs_dir() + "/" + spec.name + ".log" : spec.log_file);
}

void Launcher::open_output(Instance& in) {
  in.out_fifo = fifo_path(fifo_dir_, in.id, Stream::Out);
  in.err_fifo = fifo_path(fifo_dir_, in.id, Stream::Err);
  // /dev/null needs no sink: its writes would be system calls for nothing.
  auto sink_of = [this, &in](const std::string& path) {
    return path.empty() || path == kNoLog ? nullptr : sinks_.get(path, config::rotation_for(in.spec, settings_.app_logs));
  };
  if (!in.out_sink) in.out_sink = sink_of(in.out_path);
  if (!in.err_sink) in.err_sink = sink_of(in.err_path);
  if (!in.log_sink) in.log_sink = sink_of(in.log_path);
  for (auto [fifo, pipe, sink] : {std::tuple{&in.out_fifo, &in.out_pipe, &in.out_sink},
                                  std::tuple{&in.err_fifo, &in.err_pipe, &in.err_sink}}) {
    if (*pipe) continue;
    if (auto ec = make_fifo(*fifo); ec) {
      spdlog::error("{} cannot create {}: {}", label(in), *fifo, ec.message());
      continue;
    }
    const int fd = open_fifo_reader(*fifo);
    if (fd < 0) {
      spdlog::error("{} cannot open {}: {}", label(in), *fifo, std::strerror(errno));
      continue;
    }
    LineStyle style = line_style(in.spec, in.id, pipe == &in.out_pipe ? "out" : "err");
    auto writer = std::make_shared<LineWriter>(*sink, in.log_sink, std::move(style));
    writer->set_tap(feed_.tap(in.id, in.spec.name, pipe == &in.out_pipe ? Stream::Out : Stream::Err));
    // Named by the FIFO's name ("12.out"); an earlier pmxd kept it in a file of its own.
    const std::string key = fifo->substr(fifo->rfind('/') + 1);
    *pipe = LogPipe::open(io_, fd, std::move(writer), journals_->journal(key, *fifo + ".journal"));
    (*pipe)->start();
  }
  feed_.track(in.id, in.spec.name, in.spec.namespace_);
}

void Launcher::close_output(Instance& in) {
  if (in.out_pipe) in.out_pipe->close();
  if (in.err_pipe) in.err_pipe->close();
  ::unlink(in.out_fifo.c_str());
  ::unlink(in.err_fifo.c_str());
}

void Launcher::close_all_output() {
  for (auto& [id, in] : registry_.by_id()) close_output(*in);
  journals_->remove_if_unused();
  ::rmdir(fifo_dir_.c_str());
}

void Launcher::remove_stray_fifos() {
  if (DIR* d = ::opendir(fifo_dir_.c_str())) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.' || e->d_name == std::string_view(kJournalsFile)) continue;
      const int id = std::atoi(e->d_name);
      if (!registry_.find(id)) ::unlink((fifo_dir_ + "/" + e->d_name).c_str());
    }
    ::closedir(d);
  }
  journals_->sweep();
}

}  // namespace pmx::daemon
