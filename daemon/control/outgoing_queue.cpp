// OutgoingQueue: byte accounting and the three limits.
#include "daemon/control/outgoing_queue.hpp"

namespace pmx::daemon {

void OutgoingQueue::push(std::shared_ptr<const std::string> bytes, std::function<void()> after) {
  bytes_ += bytes->size();
  (holding_ ? held_ : messages_).push_back({std::move(bytes), std::move(after)});
}

void OutgoingQueue::push_part(std::shared_ptr<const std::string> bytes, std::function<void()>&& after) {
  bytes_ += bytes->size();
  messages_.push_back({std::move(bytes), std::move(after)});
}

void OutgoingQueue::release() {
  holding_ = false;
  for (auto& m : held_) messages_.push_back(std::move(m));
  held_.clear();
}

OutgoingQueue::Push OutgoingQueue::push_reply(std::shared_ptr<const std::string> bytes,
                                              std::function<void()>&& after) {
  if (bytes_ > 0 && bytes_ + bytes->size() > limits_.close) return Push::overflow;
  push(std::move(bytes), std::move(after));
  return Push::queued;
}

OutgoingQueue::Push OutgoingQueue::push_notification(std::shared_ptr<const std::string> bytes,
                                                     std::uint64_t lines) {
  // A drop not yet reported keeps later notifications out too, so that the client sees the
  // gap where it is, reported before anything that came after it.
  if (bytes_ > 0 &&
      (dropped_unreported_ > 0 || bytes_ + bytes->size() > limits_.notifications)) {
    ++dropped_unreported_;
    ++dropped_total_;
    dropped_lines_unreported_ += lines;
    dropped_lines_total_ += lines;
    return Push::dropped;
  }
  push(std::move(bytes), nullptr);
  return Push::queued;
}

OutgoingQueue::Message OutgoingQueue::pop_front() {
  Message m = std::move(messages_.front());
  messages_.pop_front();
  bytes_ -= m.bytes->size();
  return m;
}

std::vector<OutgoingQueue::Message> OutgoingQueue::clear() {
  std::vector<Message> all(std::make_move_iterator(messages_.begin()),
                           std::make_move_iterator(messages_.end()));
  for (auto& m : held_) all.push_back(std::move(m));
  messages_.clear();
  held_.clear();
  holding_ = false;
  bytes_ = 0;
  return all;
}

std::optional<std::uint64_t> OutgoingQueue::take_drop_report() {
  if (dropped_unreported_ == 0 || bytes_ > limits_.notifications / 2) return std::nullopt;
  auto n = dropped_unreported_;
  dropped_unreported_ = 0;
  reported_lines_ = dropped_lines_unreported_;
  dropped_lines_unreported_ = 0;
  return n;
}

}  // namespace pmx::daemon
