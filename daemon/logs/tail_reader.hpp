// TailReader: finds the last lines of a log file a bounded step at a time (backwards, from the
// size the file had when they were asked for), then reads them forwards a block at a time, so
// that a tail of megabytes never holds the daemon's loop or its memory for long.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>

namespace pmx::daemon {

class TailReader {
 public:
  /// The most one step reads.
  static constexpr std::size_t kBlock = 64 * 1024;

  /// The last n lines of the first size bytes of the file open on fd (not owned; read with
  /// pread, so its offset is left alone); at most max_bytes are read back from size.
  TailReader(int fd, off_t size, std::size_t n, std::size_t max_bytes);

  /// One step of the backward search for the first line of the tail (at most kBlock bytes
  /// read). Returns true once the tail is located (then has_lines, begin, end say what it is).
  bool locate_step();
  bool located() const { return located_; }

  /// Whether the tail has any line (none: n == 0, an empty file, a read error, or a cap that
  /// cut into the only line).
  bool has_lines() const { return located_ && has_lines_; }
  /// The tail's text is [begin, end): its lines separated by '\n', the last one's '\n' left
  /// out. begin == end with has_lines() is one empty line.
  off_t begin() const { return begin_; }
  off_t end() const { return end_; }

  /// After located(): replaces out with the next at most kBlock bytes of the tail's text;
  /// false once it has all been read, or on a read error (out is then empty).
  bool read_next(std::string& out);

 private:
  bool read_at(char* to, std::size_t len, off_t at) const;

  int fd_;
  off_t size_;
  std::size_t n_;
  off_t floor_ = 0;
  off_t pos_ = 0;         ///< the backward search has read [pos_, end_)
  off_t lowest_nl_ = -1;  ///< the first '\n' seen in [pos_, end_)
  std::size_t seen_ = 0;
  off_t begin_ = 0;
  off_t end_ = 0;
  off_t next_ = 0;        ///< where read_next goes on
  bool started_ = false;
  bool located_ = false;
  bool has_lines_ = false;
  std::string block_;
};

}  // namespace pmx::daemon
