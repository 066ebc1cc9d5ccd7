// LogsReply: the `logs` result's JSON text, part by part.
#include "daemon/logs/logs_reply.hpp"

#include <boost/asio/post.hpp>

#include <utility>

namespace pmx::daemon {

namespace {

using json = nlohmann::json;

/// How many bytes at the end of text start a UTF-8 sequence that continues past it.
std::size_t cut_sequence(std::string_view text) {
  for (std::size_t i = 1; i <= 3 && i <= text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[text.size() - i]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: look further back
    if ((c & 0xC0) != 0xC0) return 0;  // ASCII
    const std::size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    return i < len ? i : 0;
  }
  return 0;
}

}  // namespace

std::string json_string_body(std::string_view text) {
  std::string quoted = json(std::string(text)).dump(-1, ' ', false, json::error_handler_t::replace);
  return quoted.substr(1, quoted.size() - 2);
}

LogsReply::LogsReply(boost::asio::io_context& io, json ids, std::vector<TailFile> files, TailLimits limits)
    : io_(io), files_(std::move(files)), limits_(limits), budget_(limits.per_request) {
  part_ = R"({"ids":)" + ids.dump() + R"(,"files":[)";
}

Session::NextPart LogsReply::producer() {
  return [self = shared_from_this()](const Session::PartSink& emit) { self->next(emit); };
}

void LogsReply::append_lines(std::string_view block, bool at_end) {
  std::string text = std::exchange(carry_, std::string());
  text.append(block.data(), block.size());
  std::string_view rest = text;
  if (!at_end) {
    const std::size_t cut = cut_sequence(rest);
    carry_.assign(rest.substr(rest.size() - cut));
    rest.remove_suffix(cut);
  }
  for (;;) {
    const auto nl = rest.find('\n');
    part_ += json_string_body(rest.substr(0, nl));
    if (nl == std::string_view::npos) break;
    part_ += R"(",")";
    rest.remove_prefix(nl + 1);
  }
}

void LogsReply::next(const Session::PartSink& emit) {
  while (file_ < files_.size()) {
    TailFile& file = files_[file_];
    if (!opened_) {
      opened_ = true;
      std::string entry = file.entry.dump(-1, ' ', false, json::error_handler_t::replace);
      entry.pop_back();  // its '}': the lines come first
      if (file_ > 0) part_ += ',';
      part_ += entry;
      part_ += R"(,"lines":[)";
      if (file.fd && limits_.lines > 0 && budget_ > 0) {
        reader_.emplace(file.fd.get(), file.size, limits_.lines, std::min(limits_.per_file, budget_));
      }
    }
    if (reader_ && !reader_->located()) {
      if (!reader_->locate_step()) {
        // One block of the backward search per loop turn: other clients are served between.
        boost::asio::post(io_, [self = shared_from_this(), emit] { self->next(emit); });
        return;
      }
      if (reader_->has_lines()) {
        const auto size = static_cast<std::size_t>(reader_->end() - reader_->begin()) + 1;
        budget_ -= std::min(budget_, size);
        part_ += '"';
      }
    }
    if (reader_ && reader_->read_next(block_)) {
      append_lines(block_, false);
      if (part_.size() >= limits_.part) {
        emit(std::exchange(part_, std::string()), false);
        return;
      }
      continue;
    }
    if (reader_ && reader_->has_lines()) {
      append_lines({}, true);
      part_ += '"';
    }
    part_ += "]}";
    reader_.reset();
    file.fd.reset();
    opened_ = false;
    ++file_;
  }
  part_ += "]}";
  emit(std::exchange(part_, std::string()), true);
}

}  // namespace pmx::daemon
