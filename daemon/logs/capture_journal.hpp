// CaptureJournal: the record, kept in a small memory-mapped file beside an instance's output
// FIFO, of the chunk of output pmxd is moving from the FIFO to the log files, so that a pmxd
// killed at any instant loses nothing and repeats nothing.
//
// A LogPipe takes bytes out of the FIFO only once they are in the files (it looks at the FIFO
// with tee(2), writes, then consumes). Between the write and the consume a SIGKILL may land,
// and the write itself may be cut short (a regular file's write stops at a page boundary when
// a fatal signal is pending): the files then hold all or part of a chunk that is still in the
// FIFO. The journal says so to the next pmxd: before the write, the chunk's length and hash
// and where it starts in each file; after the consume, that nothing is in flight. A journal
// found in flight whose chunk still heads the FIFO means the chunk was not consumed: the files
// are cut back to where it started and it is written again, whole. A chunk no longer at the
// FIFO's head was consumed after its write completed: nothing to do.
//
// The mapping is shared with the file, so a store is in the page cache the moment it is made:
// it survives the process's death (not the machine's; neither do the log lines). Stores are
// plain: each is followed by a system call, which the compiler cannot move it across.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "daemon/logs/line_writer.hpp"

namespace pmx::daemon {

class CaptureJournal {
 public:
  /// The journal's layout in its file (host byte order: read back by the same machine).
  struct Record {
    std::uint64_t magic;
    std::uint64_t in_flight;  ///< 1 from before a chunk's write until after its consume
    std::uint64_t mid_line;   ///< the stream's files end inside one of its lines
    std::uint64_t length;     ///< the chunk's bytes as the app wrote them
    std::uint64_t hash;       ///< hash_bytes of them
    LogSink::Position file;   ///< where the chunk starts in the stream's file
    LogSink::Position combined;  ///< and in the combined log_file
  };
  static constexpr std::uint64_t kMagic = 0x31'4c'4e'52'55'4f'4a'58;  // "XJOURNL1"

  CaptureJournal() = default;
  ~CaptureJournal();
  CaptureJournal(const CaptureJournal&) = delete;
  CaptureJournal& operator=(const CaptureJournal&) = delete;

  /// Maps the journal at path when it exists (what an earlier pmxd left); a missing one is
  /// created (0600) only when there is something to record: at the stream's first chunk, or
  /// when its files end inside a line. A file that is not a journal starts empty. Without a
  /// journal (it cannot be opened or made) the pipe still works, without the crash guarantee:
  /// false.
  bool open(const std::string& path);
  /// Whether a journal file is mapped (none yet: nothing was ever in flight).
  bool valid() const { return record_ != nullptr; }
  /// Whether a chunk is journalled: mapped, or a file to make at the first one.
  bool enabled() const { return record_ != nullptr || !path_.empty(); }
  /// What the previous pmxd left: meaningful right after open(); null when it left no journal.
  const Record* record() const { return record_; }

  /// Before a chunk's write; makes the journal file at the stream's first chunk.
  void begin(std::uint64_t length, std::uint64_t hash, const LineWriter::Positions& at);
  /// After the chunk's consume: nothing in flight; whether the files now end inside a line.
  void end(bool mid_line);
  /// Unmaps and removes the file (the instance is gone).
  void remove();

  /// The chunk's fingerprint: a 64-bit hash (FNV-1a over 8-byte words) of its length and of
  /// its first and last 4 KiB.
  static std::uint64_t hash_bytes(const char* data, std::size_t len);

 private:
  void unmap();
  /// Creates and maps the file at path_ if it is not mapped yet; false when that fails.
  bool make();
  /// Maps the open file fd (closed here), a page allocated, a fresh record in a new file.
  bool map(int fd);

  Record* record_ = nullptr;
  std::string path_;
};

}  // namespace pmx::daemon
