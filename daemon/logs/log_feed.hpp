// LogFeed: who follows which instance's output (`pmx logs`), and the `log` notifications that
// carry the lines to them; plus reading the last lines of a log file for the tail.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "daemon/logs/line_writer.hpp"
#include "daemon/logs/output_fifo.hpp"
#include "daemon/control/session.hpp"

namespace pmx::daemon {

class ControlServer;

/// What one follower wants: instances picked now (ids) and, for targets that keep matching
/// instances added later, all of them, names or namespaces; and which streams.
struct LogSelection {
  bool all = false;
  std::set<int> ids;
  std::set<std::string, std::less<>> names;
  std::set<std::string, std::less<>> namespaces;
  bool out = true;
  bool err = true;

  bool wants(int id, std::string_view name, std::string_view namespace_) const;
  bool wants(Stream stream) const { return stream == Stream::Out ? out : err; }
};

/// The followers of the instances' output. A follower is a control session; it is forgotten
/// when the session closes. The supervisor tells it which instances exist (track/untrack), so
/// that `followed` is one hash lookup on the capture path and no JSON is built while nobody
/// follows an instance. A follower that does not read skips lines: its session's queue is
/// bounded (OutgoingQueue) and reports the lines dropped in a `dropped` notification.
class LogFeed {
 public:
  /// Listens for closed sessions of server, which must outlive the feed.
  explicit LogFeed(ControlServer& server);
  ~LogFeed();
  LogFeed(const LogFeed&) = delete;
  LogFeed& operator=(const LogFeed&) = delete;

  /// An instance exists (registered or adopted) / is gone.
  void track(int id, std::string name, std::string namespace_);
  void untrack(int id);

  /// session follows what selection picks, from now on (replacing what it followed before).
  void follow(const std::shared_ptr<Session>& session, LogSelection selection);

  /// Whether some live session follows instance id (any stream).
  bool followed(int id) const { return followed_.count(id) > 0; }

  /// The tap of one stream's LineWriter: publishes what is written while the instance is
  /// followed. An unterminated line written out because the app went quiet is sent as a line
  /// of its own; its end, when it comes, as another (the '\n' that only ends it is not sent).
  LineWriter::Tap tap(int id, std::string name, Stream stream);

  /// Sends complete lines (each ending in '\n', as the app wrote them) of instance id as one
  /// `log` notification to the sessions that follow it and its stream.
  void publish(int id, std::string_view name, Stream stream, std::string_view lines);

  std::size_t followers() const { return followers_.size(); }

 private:
  struct Follower {
    std::weak_ptr<Session> session;
    LogSelection selection;
  };
  struct Tracked {
    std::string name;
    std::string namespace_;
  };
  void forget(SessionId id);
  /// Recomputes followed_ (follow, forget, track, untrack: rare, never per line).
  void recount();

  ControlServer& server_;
  std::map<SessionId, Follower> followers_;
  std::map<int, Tracked> instances_;
  std::unordered_set<int> followed_;
};

/// The last n lines of the file open on fd (a last line without '\n' counts), read backwards
/// from its end in blocks; at most max_bytes are read (the oldest lines beyond are left out).
/// Lines are returned without their '\n', oldest first. Empty on a read error.
std::vector<std::string> tail_lines(int fd, std::size_t n, std::size_t max_bytes = 8 * 1024 * 1024);

}  // namespace pmx::daemon
