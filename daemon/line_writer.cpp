// LineWriter: fans the lines of one stream out to its files and followers.
#include "daemon/line_writer.hpp"

namespace pmx::daemon {

LineWriter::LineWriter(std::shared_ptr<LogSink> file, std::shared_ptr<LogSink> combined)
    : file_(std::move(file)), combined_(std::move(combined)) {}

void LineWriter::put(std::string_view data) {
  if (file_) file_->write(data.data(), data.size(), this);
  if (combined_) combined_->write(data.data(), data.size(), this);
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
  mid_line_ = true;
  if (tap_) tap_(data, false);
}

void LineWriter::end_line() {
  if (mid_line_) write_lines("\n");
}

}  // namespace pmx::daemon
