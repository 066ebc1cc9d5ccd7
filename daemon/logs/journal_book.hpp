// JournalBook: the capture journals of every output stream, as 128-byte slots of one shared
// file in the FIFOs' folder, each named by its stream ("12.out").
//
// A journal must be in shared memory backed by a file, so that what pmxd stores is there for
// the next pmxd the instant it is stored (daemon/logs/capture_journal.hpp). A page of its own
// per stream made that 4 KiB of resident memory for 88 bytes of record: 800 KiB at 100 apps, a
// sixth of pmxd. Here 32 streams share a page, mapped page by page as streams are added, and a
// page once mapped stays for the book's life, so a journal's record never moves.
//
// A slot is claimed by writing its name after clearing its record, and freed by clearing the
// name: a pmxd killed in between leaves a named slot with nothing in flight, or a free one.
// The next pmxd asks for each of its streams by name and gets the slot as it was left; then
// sweep() frees the slots no stream asked for (instances deleted while no pmxd ran).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/logs/capture_journal.hpp"

namespace pmx::daemon {

class JournalBook : public std::enable_shared_from_this<JournalBook> {
 public:
  static constexpr std::size_t kKeyBytes = 40;   ///< a stream's name, NUL-padded
  static constexpr std::size_t kPageBytes = 4096;
  static constexpr std::size_t kMaxPages = 8192;  ///< 262,144 streams; a larger file is cut here

  /// The book kept in the file at path, opened (created 0600) at the first journal().
  static std::shared_ptr<JournalBook> at(std::string path);
  explicit JournalBook(std::string path) : path_(std::move(path)) {}
  ~JournalBook();
  JournalBook(const JournalBook&) = delete;
  JournalBook& operator=(const JournalBook&) = delete;

  /// The journal of the stream named key: the slot a previous pmxd left under that name, as it
  /// left it; else a free slot, cleared. legacy_file: where an older pmxd kept this stream's
  /// journal in a file of its own, read into a new slot and removed. An invalid journal (the
  /// pipe then works without the crash guarantee) when the file cannot be made or grown, or
  /// the key does not fit.
  CaptureJournal journal(std::string_view key, const std::string& legacy_file = {});
  /// Frees the slots that no journal() of this book asked for.
  void sweep();
  /// Removes the file when no slot is in use (every stream closed).
  void remove_if_unused();
  /// Slots in use, and pages mapped (tests, and the memory they cost).
  std::size_t used() const;
  std::size_t pages() const { return pages_.size(); }

 private:
  friend class CaptureJournal;
  struct Slot {
    char key[kKeyBytes];
    CaptureJournal::Record record;
  };
  static_assert(sizeof(Slot) == 128 && kPageBytes % sizeof(Slot) == 0);
  static constexpr std::size_t kSlotsPerPage = kPageBytes / sizeof(Slot);

  int open_file() const;
  /// Maps what the file holds, at the first journal().
  bool load();
  bool map_page(int fd);
  bool add_page();
  Slot& slot(std::size_t i) { return pages_[i / kSlotsPerPage][i % kSlotsPerPage]; }
  const Slot& slot(std::size_t i) const { return pages_[i / kSlotsPerPage][i % kSlotsPerPage]; }
  /// Clears the slot holding record (its stream is gone).
  void release(CaptureJournal::Record* record);

  std::string path_;
  bool loaded_ = false;
  bool failed_ = false;
  std::vector<Slot*> pages_;
  std::vector<bool> asked_;  ///< per slot: a journal() of this book named it
};

}  // namespace pmx::daemon
