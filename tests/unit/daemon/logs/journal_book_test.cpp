// Tests of daemon/logs/journal_book.hpp: the capture journals of many streams in one file, what
// a killed pmxd leaves in it, and what the next one finds and frees.
#include "daemon/logs/journal_book.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <fstream>
#include <string>

#include "tests/unit/temp_dir.hpp"

namespace pmx::daemon {
namespace {

off_t book_file_size(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

LineWriter::Positions at_byte(std::uint64_t size) {
  LineWriter::Positions p;
  p.file.ino = 1;
  p.file.size = size;
  return p;
}

}  // namespace

TEST_CASE("a hundred streams' journals share four pages of one file", "[logs]") {
  test::TempDir dir;
  const std::string path = dir.path + "/journals";
  auto book = JournalBook::at(path);
  std::vector<CaptureJournal> journals;
  for (int i = 0; i < 100; ++i) {
    journals.push_back(book->journal(std::to_string(i) + ".out"));
    REQUIRE(journals.back().valid());
  }
  CHECK(book->pages() == 4);  // 32 slots a page
  CHECK(book_file_size(path) == 4 * 4096);
  CHECK(book->used() == 100);
  // Each stream has a record of its own.
  journals[7].begin(70, 7, at_byte(700));
  CHECK(journals[8].record()->in_flight == 0);
  CHECK(journals[7].record()->length == 70);
}

TEST_CASE("the next pmxd finds each stream's journal as the killed one left it", "[logs][regression]") {
  test::TempDir dir;
  const std::string path = dir.path + "/journals";
  {
    auto killed = JournalBook::at(path);
    CaptureJournal a = killed->journal("3.out");
    CaptureJournal b = killed->journal("3.err");
    a.begin(4096, 42, at_byte(123));
    b.end(true);
  }  // dropped without remove(): what a SIGKILL or an exec leaves
  auto next = JournalBook::at(path);
  CaptureJournal err = next->journal("3.err");
  CaptureJournal out = next->journal("3.out");
  REQUIRE(out.valid());
  CHECK(out.record()->in_flight == 1);
  CHECK(out.record()->length == 4096);
  CHECK(out.record()->hash == 42);
  CHECK(out.record()->file.size == 123);
  CHECK(err.record()->in_flight == 0);
  CHECK(err.record()->mid_line == 1);
  CHECK(next->used() == 2);
}

TEST_CASE("a removed stream's slot is freed and taken by the next stream", "[logs]") {
  test::TempDir dir;
  auto book = JournalBook::at(dir.path + "/journals");
  CaptureJournal a = book->journal("0.out");
  a.begin(10, 1, at_byte(0));
  a.remove();
  CHECK_FALSE(a.valid());
  CHECK(book->used() == 0);
  CaptureJournal b = book->journal("1.out");
  REQUIRE(b.valid());
  CHECK(b.record()->in_flight == 0);  // cleared, not 0.out's leftovers
  CHECK(book->pages() == 1);
}

TEST_CASE("sweep frees the slots of streams no longer there, and the file goes once none is used", "[logs]") {
  test::TempDir dir;
  const std::string path = dir.path + "/journals";
  {
    auto killed = JournalBook::at(path);
    killed->journal("1.out").begin(1, 1, at_byte(0));
    killed->journal("2.out").begin(2, 2, at_byte(0));
  }
  auto next = JournalBook::at(path);
  CaptureJournal kept = next->journal("2.out");
  next->sweep();  // 1.out's instance was deleted while no pmxd ran
  CHECK(next->used() == 1);
  CHECK(kept.record()->length == 2);
  next->remove_if_unused();
  CHECK(book_file_size(path) == 4096);  // 2.out still uses it
  kept.remove();
  next->remove_if_unused();
  CHECK(book_file_size(path) == -1);
}

TEST_CASE("a journal kept in a file of its own by an earlier pmxd is carried into the book", "[logs][regression]") {
  test::TempDir dir;
  const std::string legacy = dir.path + "/5.out.journal";
  CaptureJournal::Record left{};
  left.magic = CaptureJournal::kMagic;
  left.in_flight = 1;
  left.length = 99;
  {
    std::ofstream out(legacy, std::ios::binary);
    out.write(reinterpret_cast<const char*>(&left), sizeof left);
    out << std::string(4096 - sizeof left, '\0');
  }
  auto book = JournalBook::at(dir.path + "/journals");
  CaptureJournal j = book->journal("5.out", legacy);
  REQUIRE(j.valid());
  CHECK(j.record()->in_flight == 1);
  CHECK(j.record()->length == 99);
  CHECK(::access(legacy.c_str(), F_OK) != 0);
}

TEST_CASE("a book file that is garbage, a link or not a file gives no journal or a cleared one, never a crash",
          "[logs]") {
  test::TempDir dir;
  SECTION("garbage of an odd size") {
    const std::string path = dir.path + "/journals";
    std::ofstream(path, std::ios::binary) << std::string(5000, '\x7f');
    auto book = JournalBook::at(path);
    CaptureJournal j = book->journal("0.out");
    REQUIRE(j.valid());
    CHECK(j.record()->in_flight == 0);
    CHECK(j.record()->magic == CaptureJournal::kMagic);
  }
  SECTION("a symbolic link") {
    const std::string decoy = dir.path + "/decoy";
    std::ofstream(decoy) << "keep";
    REQUIRE(::symlink(decoy.c_str(), (dir.path + "/journals").c_str()) == 0);
    CHECK_FALSE(JournalBook::at(dir.path + "/journals")->journal("0.out").valid());
    std::ifstream in(decoy);
    std::string text;
    in >> text;
    CHECK(text == "keep");
  }
  SECTION("a folder, and a name too long for a slot") {
    REQUIRE(::mkdir((dir.path + "/journals").c_str(), 0700) == 0);
    CHECK_FALSE(JournalBook::at(dir.path + "/journals")->journal("0.out").valid());
    CHECK_FALSE(JournalBook::at(dir.path + "/other")->journal(std::string(40, 'x')).valid());
  }
}

}  // namespace pmx::daemon
