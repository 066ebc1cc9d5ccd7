// CaptureJournal: a page of shared memory backed by a file in the FIFOs' folder.
#include "daemon/logs/capture_journal.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pmx::daemon {

namespace {
constexpr std::size_t kJournalBytes = 4096;
}  // namespace

CaptureJournal::~CaptureJournal() { unmap(); }

void CaptureJournal::unmap() {
  if (record_) ::munmap(record_, kJournalBytes);
  record_ = nullptr;
}

bool CaptureJournal::open(const std::string& path) {
  unmap();
  path_ = path;
  // A journal an earlier pmxd left is mapped now, to be read by recover(); a missing one is made
  // at the stream's first chunk (make()): an app that writes nothing costs no file, and starting
  // many apps creates two files fewer each.
  const int fd = ::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT;
  return map(fd);
}

bool CaptureJournal::make() {
  if (record_) return true;
  if (path_.empty()) return false;
  const int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  return fd >= 0 && map(fd);
}

bool CaptureJournal::map(int fd) {
  struct stat st {};
  bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  const bool fresh = ok && static_cast<std::size_t>(st.st_size) < sizeof(Record);
  // The whole page is allocated now, so that no later store meets a full disk (SIGBUS).
  if (ok && static_cast<std::size_t>(st.st_size) < kJournalBytes) ok = ::posix_fallocate(fd, 0, kJournalBytes) == 0;
  void* map = ok ? ::mmap(nullptr, kJournalBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
  ::close(fd);
  if (map == MAP_FAILED) return false;
  record_ = static_cast<Record*>(map);
  if (fresh || record_->magic != kMagic) {
    *record_ = Record{};
    record_->magic = kMagic;
  }
  return true;
}

void CaptureJournal::begin(std::uint64_t length, std::uint64_t hash, const LineWriter::Positions& at) {
  if (!make()) return;
  record_->length = length;
  record_->hash = hash;
  record_->file = at.file;
  record_->combined = at.combined;
  record_->in_flight = 1;  // last: a record in flight is complete
}

void CaptureJournal::end(bool mid_line) {
  // No file and nothing to say (no chunk in flight, no line left open): none is needed.
  if (!record_ && (!mid_line || !make())) return;
  record_->mid_line = mid_line ? 1 : 0;
  record_->in_flight = 0;
}

void CaptureJournal::remove() {
  unmap();
  if (!path_.empty()) ::unlink(path_.c_str());
  path_.clear();  // nothing makes it again
}

std::uint64_t CaptureJournal::hash_bytes(const char* data, std::size_t len) {
  // The chunk's first and last 4 KiB and its length: what tells it from the bytes that follow
  // it in the pipe, for a tenth of the cost of hashing 64 KiB.
  constexpr std::size_t kEdge = 4096;
  constexpr std::uint64_t kPrime = 0x100000001b3ULL;
  std::uint64_t h = 0xcbf29ce484222325ULL ^ len;
  auto mix = [&h](const char* from, std::size_t n) {
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      std::uint64_t word;
      std::memcpy(&word, from + i, 8);
      h = (h ^ word) * kPrime;
      h ^= h >> 29;  // FNV's multiply only carries upwards: fold the high bits back
    }
    for (; i < n; ++i) h = (h ^ static_cast<unsigned char>(from[i])) * kPrime;
  };
  if (len <= 2 * kEdge) {
    mix(data, len);
  } else {
    mix(data, kEdge);
    mix(data + len - kEdge, kEdge);
  }
  return h;
}

}  // namespace pmx::daemon
