// LogFeed: followers by session, the followed set kept ready for the capture path, `log`
// notifications encoded once per batch of lines; tail_lines reads a file backwards.
#include "daemon/logs/log_feed.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <utility>

#include "daemon/control/control_server.hpp"
#include "daemon/logs/tail_reader.hpp"
#include "ipc/protocol.hpp"

namespace pmx::daemon {

bool LogSelection::wants(int id, std::string_view name, std::string_view namespace_) const {
  return all || ids.count(id) > 0 || names.count(name) > 0 || namespaces.count(namespace_) > 0;
}

LogFeed::LogFeed(ControlServer& server) : server_(server) {
  server_.on_session_closed([this](SessionId id) { forget(id); });
}

LogFeed::~LogFeed() { server_.on_session_closed(nullptr); }

void LogFeed::track(int id, std::string name, std::string namespace_) {
  instances_[id] = Tracked{std::move(name), std::move(namespace_)};
  if (!followers_.empty()) recount();
}

void LogFeed::untrack(int id) {
  instances_.erase(id);
  followed_.erase(id);
}

void LogFeed::follow(const std::shared_ptr<Session>& session, LogSelection selection) {
  if (!session) return;
  followers_[session->id()] = Follower{session, std::move(selection)};
  recount();
}

void LogFeed::forget(SessionId id) {
  if (followers_.erase(id) > 0) recount();
}

void LogFeed::recount() {
  followed_.clear();
  for (const auto& [id, in] : instances_) {
    for (const auto& [session, f] : followers_) {
      if ((f.selection.out || f.selection.err) && f.selection.wants(id, in.name, in.namespace_)) {
        followed_.insert(id);
        break;
      }
    }
  }
}

LineWriter::Tap LogFeed::tap(int id, std::string name, Stream stream) {
  return [this, id, name = std::move(name), stream, mid_line = false](std::string_view data, bool whole) mutable {
    const bool continued = std::exchange(mid_line, !whole);
    if (!followed(id)) return;
    if (continued && !data.empty() && data.front() == '\n') data.remove_prefix(1);
    if (data.empty()) return;
    if (whole) publish(id, name, stream, data);
    else publish(id, name, stream, std::string(data) + '\n');
  };
}

void LogFeed::publish(int id, std::string_view name, Stream stream, std::string_view lines) {
  if (!followed(id) || lines.empty()) return;
  auto in = instances_.find(id);
  if (in == instances_.end()) return;
  std::shared_ptr<const std::string> note;  // encoded once, for the first follower
  const auto count = static_cast<std::uint64_t>(std::count(lines.begin(), lines.end(), '\n'));
  for (const auto& [session_id, f] : followers_) {
    if (!f.selection.wants(stream) || !f.selection.wants(id, in->second.name, in->second.namespace_)) continue;
    auto session = f.session.lock();
    if (!session) continue;
    if (!note) {
      const auto at = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
      ipc::json params = {{"id", id},
                          {"name", name},
                          {"type", stream == Stream::Out ? "out" : "err"},
                          {"at", at},
                          {"data", lines}};
      ipc::json message = {{"jsonrpc", "2.0"}, {"method", "log"}, {"params", std::move(params)}};
      // An app's bytes need not be UTF-8: invalid sequences become U+FFFD rather than throw.
      note = std::make_shared<const std::string>(
          message.dump(-1, ' ', false, ipc::json::error_handler_t::replace) + "\n");
    }
    session->send_notification(note, count);
  }
}

std::vector<std::string> tail_lines(int fd, std::size_t n, std::size_t max_bytes) {
  std::vector<std::string> lines;
  struct stat st{};
  if (n == 0 || ::fstat(fd, &st) != 0 || st.st_size <= 0) return lines;
  TailReader reader(fd, st.st_size, n, max_bytes);
  while (!reader.locate_step()) {
  }
  if (!reader.has_lines()) return lines;
  std::string text;
  std::string block;
  while (reader.read_next(block)) text += block;
  if (static_cast<off_t>(text.size()) != reader.end() - reader.begin()) return lines;
  std::size_t from = 0;
  for (;;) {
    const auto nl = text.find('\n', from);
    if (nl == std::string::npos) {
      lines.emplace_back(text, from);
      break;
    }
    lines.emplace_back(text, from, nl - from);
    from = nl + 1;
  }
  return lines;
}

}  // namespace pmx::daemon
