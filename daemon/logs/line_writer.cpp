// LineWriter: styles the lines of one stream and fans them out to its files and followers.
#include "daemon/logs/line_writer.hpp"

#include <chrono>

namespace pmx::daemon {

LineWriter::LineWriter(std::shared_ptr<LogSink> file, std::shared_ptr<LogSink> combined, LineStyle style)
    : file_(std::move(file)), combined_(std::move(combined)), style_(std::move(style)) {}

void LineWriter::put(std::string_view data) {
  if (!file_ && !combined_) return;
  if (style_.kind != LineStyle::Kind::Raw) return put_styled(data);
  to_files(data);
}

void LineWriter::to_files(std::string_view bytes) {
  if (file_) file_->write(bytes.data(), bytes.size(), this);
  if (combined_) combined_->write(bytes.data(), bytes.size(), this);
}

void LineWriter::put_styled(std::string_view data) {
  // One buffer for every writer: the daemon has one thread, and a write completes before the
  // next chunk is styled.
  static std::string styled;
  static std::string stamp;
  styled.clear();
  stamp.clear();
  if (style_.date) style_.date->append(stamp, std::chrono::system_clock::now());
  const bool json = style_.kind == LineStyle::Kind::Json;
  bool line_start = !mid_line_ || json;  // a JSON object never continues
  std::size_t at = 0;
  while (at < data.size()) {
    std::size_t nl = data.find('\n', at);
    const bool terminated = nl != std::string_view::npos;
    const std::size_t end = terminated ? nl : data.size();
    const std::string_view line = data.substr(at, end - at);
    if (json) {
      styled += "{\"message\":";
      config::append_json_string(styled, line);
      styled += ",\"timestamp\":";
      config::append_json_string(styled, stamp);
      styled += ",\"type\":\"";
      styled += style_.type;
      styled += "\",\"process_id\":";
      styled += std::to_string(style_.process_id);
      styled += ",\"app_name\":";
      config::append_json_string(styled, style_.app_name);
      styled += "}\n";
    } else {
      if (line_start) {
        styled += stamp;
        styled += ": ";
      }
      styled += line;
      if (terminated) styled += '\n';
    }
    line_start = true;
    at = terminated ? nl + 1 : data.size();
  }
  to_files(styled);
}

void LineWriter::write_lines(std::string_view data) {
  if (data.empty()) return;
  put(data);
  mid_line_ = false;
  if (tap_) tap_(data, true);
}

void LineWriter::write_partial(std::string_view data) {
  if (data.empty()) return;
  put(data);
  // A JSON line is whole once written: what follows is a new object.
  mid_line_ = style_.kind != LineStyle::Kind::Json;
  if (tap_) tap_(data, false);
}

LineWriter::Positions LineWriter::positions() {
  Positions p;
  if (file_) p.file = file_->position();
  if (combined_) p.combined = combined_->position();
  return p;
}

void LineWriter::roll_back(const Positions& p) {
  if (file_) file_->roll_back(p.file);
  if (combined_) combined_->roll_back(p.combined);
}

void LineWriter::continue_line() {
  const bool in_file = file_ && file_->continue_line(this);
  const bool in_combined = combined_ && combined_->continue_line(this);
  mid_line_ = style_.kind != LineStyle::Kind::Json && (in_file || in_combined);
}

void LineWriter::end_line() {
  if (mid_line_) {
    // Only the newline: no stamp for the end of a line already stamped.
    to_files("\n");
    mid_line_ = false;
    if (tap_) tap_("\n", true);
  }
}

}  // namespace pmx::daemon
