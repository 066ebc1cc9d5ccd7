// LogsReply: the result of the `logs` verb, written as JSON text in parts of bounded size: the
// tails of the files are located a block per loop turn and read a block per part, so a request
// for a billion lines of a big log costs the daemon one part of memory and never a long turn.
#pragma once

#include <boost/asio/io_context.hpp>

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/control/session.hpp"
#include "daemon/logs/tail_reader.hpp"
#include "daemon/state/unique_fd.hpp"

namespace pmx::daemon {

/// One file of the reply: what it says about the file (path, ids, name, type) and the file, open,
/// with the size it had when the tail was asked for (lines written later are the follow's).
struct TailFile {
  nlohmann::json entry;
  UniqueFd fd;  ///< -1: no tail (unreadable, or none asked for)
  off_t size = 0;
};

/// The bounds of one reply's tails.
struct TailLimits {
  std::size_t lines = 15;
  std::size_t per_file = 8 * 1024 * 1024;     ///< bytes read back from the end of one file
  std::size_t per_request = 12 * 1024 * 1024; ///< ... and from all the files of the request
  std::size_t part = 64 * 1024;               ///< a part is sent once it holds this much text
};

class LogsReply : public std::enable_shared_from_this<LogsReply> {
 public:
  /// The result `{"ids": ids, "files": [entry + "lines": [...], ...]}`.
  LogsReply(boost::asio::io_context& io, nlohmann::json ids, std::vector<TailFile> files, TailLimits limits);

  /// The producer for Reply::ok_stream (holds the reply until its last part is emitted).
  Session::NextPart producer();

  /// Produces the next part; emits it now, or posts a step of the search for a tail's first
  /// line and emits later.
  void next(const Session::PartSink& emit);

 private:
  /// Appends the JSON text of block (part of the tail's text: '\n' separates two lines) to part_.
  void append_lines(std::string_view block, bool at_end);

  boost::asio::io_context& io_;
  std::vector<TailFile> files_;
  TailLimits limits_;
  std::size_t budget_;
  std::size_t file_ = 0;  ///< the file being written
  std::optional<TailReader> reader_;
  bool opened_ = false;  ///< the file's entry and its "lines" list are opened in the text
  std::string part_;
  std::string block_;
  std::string carry_;  ///< the start of a UTF-8 sequence cut at a block's end
};

/// Escapes text as the inside of a JSON string (no quotes), bytes that are not UTF-8 as U+FFFD.
std::string json_string_body(std::string_view text);

}  // namespace pmx::daemon
