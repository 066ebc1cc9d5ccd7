// OutgoingQueue: one client's queued replies and notifications, bounded in bytes. Pure: the
// Session carries out what it decides (pause reading, close, write, report dropped notifications).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pmx::daemon {

/// The bounds of one client's outgoing queue (docs/protocol.md, "Connections and limits").
struct QueueLimits {
  std::size_t pause_reading = 1024 * 1024;      ///< above this, the client's requests wait unread
  std::size_t close = 16 * 1024 * 1024;         ///< a reply that would pass this closes the client
  std::size_t notifications = 256 * 1024;       ///< a notification that would pass this is dropped
};

/// Lines waiting to be written to one client, in order. A message onto an empty queue is
/// always accepted, so one reply of any size (a jlist of a thousand apps) goes through.
class OutgoingQueue {
 public:
  struct Message {
    std::shared_ptr<const std::string> bytes;  ///< shared: a published line is encoded once
    std::function<void()> after;               ///< runs once written, or when the client is gone
  };
  enum class Push { queued, dropped, overflow };

  explicit OutgoingQueue(QueueLimits limits) : limits_(limits) {}

  /// Queues a reply; overflow when it would take the queue past limits.close: then nothing is
  /// queued and `after` is left to the caller, who closes the client.
  Push push_reply(std::shared_ptr<const std::string> bytes, std::function<void()>&& after);
  /// Queues a notification, or drops and counts it when it would pass limits.notifications.
  /// lines is what it carries in log lines (a `log` notification's line count, 0 for others):
  /// dropped ones are reported as lines skipped too.
  Push push_notification(std::shared_ptr<const std::string> bytes, std::uint64_t lines = 0);

  bool empty() const { return messages_.empty(); }
  const Message& front() const { return messages_.front(); }
  /// Queues one part of a streamed reply: it goes straight into the line being written, ahead
  /// of what is held (see hold); its size is bounded by whoever streams it.
  void push_part(std::shared_ptr<const std::string> bytes, std::function<void()>&& after);
  /// While a reply is streamed in parts, other replies and notifications are held back (within
  /// the same limits, counted in bytes()) so that nothing splits its line; release() queues them
  /// behind its last part.
  void hold() { holding_ = true; }
  void release();
  bool holding() const { return holding_; }

  /// Removes the front message (once written) and returns it, for its `after`.
  Message pop_front();
  /// Removes everything (the client is gone) and returns it, for the `after`s.
  std::vector<Message> clear();

  std::size_t bytes() const { return bytes_; }
  /// True while the client's requests must wait: too much is queued for it already.
  bool over_pause_limit() const { return bytes_ > limits_.pause_reading; }
  /// True once the queue has drained to half the pause limit: reading may resume.
  bool drained() const { return bytes_ <= limits_.pause_reading / 2; }

  /// Notifications dropped since the last report, when there is room to report them now
  /// (the count is then reset); nullopt otherwise.
  std::optional<std::uint64_t> take_drop_report();
  std::uint64_t dropped_total() const { return dropped_total_; }
  /// Log lines in the notifications of the last report taken (see push_notification).
  std::uint64_t reported_lines() const { return reported_lines_; }
  std::uint64_t dropped_lines_total() const { return dropped_lines_total_; }

 private:
  void push(std::shared_ptr<const std::string> bytes, std::function<void()> after);

  QueueLimits limits_;
  std::deque<Message> messages_;
  std::deque<Message> held_;  ///< while holding_: replies and notifications behind the stream
  bool holding_ = false;
  std::size_t bytes_ = 0;
  std::uint64_t dropped_unreported_ = 0;
  std::uint64_t dropped_total_ = 0;
  std::uint64_t dropped_lines_unreported_ = 0;
  std::uint64_t dropped_lines_total_ = 0;
  std::uint64_t reported_lines_ = 0;
};

}  // namespace pmx::daemon
