// LineWriter: where one output stream of an instance goes once it is cut into lines: its log
// file, the app's combined log file (log_file), and the followers of `pmx logs`.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "config/log_format.hpp"
#include "daemon/logs/log_sink.hpp"

namespace pmx::daemon {

/// How lines are written to the files: as the app printed them, each prefixed with a time
/// stamp (`time`, `log_date_format`: "<stamp>: <line>"), or each as a JSON object
/// (`log_type: json`: message, timestamp, type, process_id, app_name). Every line of a chunk
/// read at once gets the stamp of the moment it was read.
struct LineStyle {
  enum class Kind { Raw, Stamped, Json };
  Kind kind = Kind::Raw;
  std::optional<config::DateFormat> date;  ///< Stamped: the prefix; Json: the timestamp
  std::string app_name;
  int process_id = 0;
  std::string type;  ///< "out" or "err"
};

class LineWriter {
 public:
  /// Called with what was written (unformatted), for live followers; `whole` is false for an
  /// unterminated line written out because the app went quiet.
  using Tap = std::function<void(std::string_view data, bool whole)>;

  /// file: the stream's own file (null: none, as for /dev/null); combined: log_file or null.
  LineWriter(std::shared_ptr<LogSink> file, std::shared_ptr<LogSink> combined, LineStyle style = {});

  /// Writes complete lines (data ends with '\n').
  void write_lines(std::string_view data);
  /// Writes the start of a line the app has not finished: the rest follows in a later call
  /// without being cut into a separate line, unless another writer of the same file comes
  /// between (LogSink then ends the dangling line first).
  void write_partial(std::string_view data);
  /// The stream ended inside a line: ends it.
  void end_line();

  /// Where the next write lands in each file, for the capture journal (daemon/logs/capture_journal).
  struct Positions {
    LogSink::Position file;
    LogSink::Position combined;
  };
  Positions positions();
  /// Takes back what a killed pmxd wrote after positions p (its bytes are written again).
  void roll_back(const Positions& p);
  /// A previous pmxd left this stream's last line unterminated in its files: what comes next
  /// continues it (unstamped), unless the files end with '\n' after all.
  void continue_line();
  /// The last write ended inside a line.
  bool mid_line() const { return mid_line_; }

  void set_tap(Tap tap) { tap_ = std::move(tap); }
  LogSink* file() const { return file_.get(); }
  LogSink* combined() const { return combined_.get(); }

 private:
  /// Writes data (from the start of a line unless mid_line_) in the style.
  void put(std::string_view data);
  void put_styled(std::string_view data);
  /// Appends bytes as they are to the stream's file and the combined one.
  void to_files(std::string_view bytes);

  std::shared_ptr<LogSink> file_;
  std::shared_ptr<LogSink> combined_;
  LineStyle style_;
  Tap tap_;
  bool mid_line_ = false;  ///< the last write ended inside a line
};

}  // namespace pmx::daemon
