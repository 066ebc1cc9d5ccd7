// JournalBook: slots of one file, mapped a page at a time.
#include "daemon/logs/journal_book.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace pmx::daemon {

namespace {

bool names(const char (&key)[JournalBook::kKeyBytes], std::string_view name) {
  return name.size() < JournalBook::kKeyBytes && std::memcmp(key, name.data(), name.size()) == 0 &&
         key[name.size()] == '\0';
}

/// The record an older pmxd kept in a file of its own, when it is one.
bool read_legacy(const std::string& path, CaptureJournal::Record& out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  const bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
                  ::pread(fd, &out, sizeof out, 0) == static_cast<ssize_t>(sizeof out) &&
                  out.magic == CaptureJournal::kMagic;
  ::close(fd);
  return ok;
}

}  // namespace

std::shared_ptr<JournalBook> JournalBook::at(std::string path) { return std::make_shared<JournalBook>(std::move(path)); }

JournalBook::~JournalBook() {
  for (Slot* page : pages_) ::munmap(page, kPageBytes);
}

int JournalBook::open_file() const {
  const int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  struct stat st {};
  if (fd >= 0 && (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool JournalBook::load() {
  if (loaded_) return true;
  if (failed_) return false;
  const int fd = open_file();
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0) {
    if (fd >= 0) ::close(fd);
    failed_ = true;
    return false;
  }
  // What a previous pmxd left: every whole page of it, up to the cap.
  const std::size_t left = std::min<std::size_t>(static_cast<std::size_t>(st.st_size) / kPageBytes, kMaxPages);
  while (pages_.size() < left && map_page(fd)) {
  }
  ::close(fd);
  loaded_ = true;
  return true;
}

bool JournalBook::map_page(int fd) {
  if (pages_.size() >= kMaxPages) return false;
  const off_t offset = static_cast<off_t>(pages_.size() * kPageBytes);
  // Allocated now, so that no later store meets a full disk (SIGBUS).
  if (::posix_fallocate(fd, offset, kPageBytes) != 0) return false;
  void* map = ::mmap(nullptr, kPageBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, offset);
  if (map == MAP_FAILED) return false;
  pages_.push_back(static_cast<Slot*>(map));
  asked_.resize(pages_.size() * kSlotsPerPage, false);
  return true;
}

bool JournalBook::add_page() {
  // The file is open only while a page is added: pmxd holds no descriptor for it.
  const int fd = open_file();
  if (fd < 0) return false;
  const bool added = map_page(fd);
  ::close(fd);
  return added;
}

CaptureJournal JournalBook::journal(std::string_view key, const std::string& legacy_file) {
  CaptureJournal::Record legacy{};
  const bool has_legacy = !legacy_file.empty() && read_legacy(legacy_file, legacy);
  if (!legacy_file.empty()) ::unlink(legacy_file.c_str());
  if (key.empty() || key.size() >= kKeyBytes || key.find('\0') != std::string_view::npos || !load()) return {};

  const std::size_t count = pages_.size() * kSlotsPerPage;
  std::size_t free_slot = count;
  for (std::size_t i = 0; i < count; ++i) {
    Slot& s = slot(i);
    if (names(s.key, key)) {
      asked_[i] = true;
      if (s.record.magic != CaptureJournal::kMagic) {
        s.record = CaptureJournal::Record{};
        s.record.magic = CaptureJournal::kMagic;
      }
      return CaptureJournal(shared_from_this(), &s.record);
    }
    if (free_slot == count && s.key[0] == '\0') free_slot = i;
  }
  if (free_slot == count && !add_page()) return {};
  Slot& s = slot(free_slot);
  asked_[free_slot] = true;
  // The record first, then the name: a slot named is one whose record can be trusted.
  s.record = has_legacy ? legacy : CaptureJournal::Record{};
  s.record.magic = CaptureJournal::kMagic;
  std::memset(s.key, 0, kKeyBytes);
  std::memcpy(s.key, key.data(), key.size());
  return CaptureJournal(shared_from_this(), &s.record);
}

void JournalBook::release(CaptureJournal::Record* record) {
  for (std::size_t i = 0; i < asked_.size(); ++i) {
    Slot& s = slot(i);
    if (&s.record != record) continue;
    std::memset(s.key, 0, kKeyBytes);
    s.record = CaptureJournal::Record{};
    asked_[i] = false;
    return;
  }
}

void JournalBook::sweep() {
  for (std::size_t i = 0; i < asked_.size(); ++i) {
    Slot& s = slot(i);
    if (asked_[i] || s.key[0] == '\0') continue;
    std::memset(s.key, 0, kKeyBytes);
    s.record = CaptureJournal::Record{};
  }
}

std::size_t JournalBook::used() const {
  std::size_t n = 0;
  for (std::size_t i = 0; i < asked_.size(); ++i) n += slot(i).key[0] != '\0' ? 1 : 0;
  return n;
}

void JournalBook::remove_if_unused() {
  if (!loaded_ || used() != 0) return;
  ::unlink(path_.c_str());
  for (Slot* page : pages_) ::munmap(page, kPageBytes);
  pages_.clear();
  asked_.clear();
  loaded_ = false;
}

}  // namespace pmx::daemon
