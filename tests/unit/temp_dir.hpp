// TempDir: a fresh folder under the system's temporary directory for the few unit tests that need
// real files (inotify, a datagram socket's path, rotated names), removed with what it holds.
#pragma once

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>

#include <catch2/catch.hpp>

namespace pmx::test {

struct TempDir {
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "pmx-unit-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  /// Creates an empty file of this name in the folder.
  void touch(const std::string& name) const {
    const int fd = ::open((path + "/" + name).c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    REQUIRE(fd >= 0);
    ::close(fd);
  }
  std::string path;
};

}  // namespace pmx::test
