// CaptureJournal: stores into a JournalBook's slot.
#include "daemon/logs/capture_journal.hpp"

#include <cstring>
#include <utility>

#include "daemon/logs/journal_book.hpp"

namespace pmx::daemon {

CaptureJournal::CaptureJournal(CaptureJournal&& other) noexcept
    : book_(std::move(other.book_)), record_(std::exchange(other.record_, nullptr)) {}

CaptureJournal& CaptureJournal::operator=(CaptureJournal&& other) noexcept {
  book_ = std::move(other.book_);
  record_ = std::exchange(other.record_, nullptr);
  return *this;
}

void CaptureJournal::begin(std::uint64_t length, std::uint64_t hash, const LineWriter::Positions& at) {
  if (!record_) return;
  record_->length = length;
  record_->hash = hash;
  record_->file = at.file;
  record_->combined = at.combined;
  record_->in_flight = 1;  // last: a record in flight is complete
}

void CaptureJournal::end(bool mid_line) {
  if (!record_) return;
  record_->mid_line = mid_line ? 1 : 0;
  record_->in_flight = 0;
}

void CaptureJournal::remove() {
  if (record_ && book_) book_->release(record_);
  record_ = nullptr;
  book_.reset();
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
