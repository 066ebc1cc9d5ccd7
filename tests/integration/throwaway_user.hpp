// ThrowawayUser: a real user account made for one test with useradd (its own group, a home
// folder under /home), and removed with its home by userdel when the test ends.
//
// The suite runs most of its attacks as uid 4242, which has no passwd entry. A real user also
// has a name, a group, a home folder and the environment pmxd builds from its passwd entry
// (HOME, USER, supplementary groups): an attack that works only for such a user shows here.
#pragma once

#include <sys/types.h>

#include <string>

namespace pmx::itest {

class ThrowawayUser {
 public:
  /// Makes the user (useradd -m -U), retrying while another useradd holds the password files'
  /// lock (30 s deadline). Where the test is not root or useradd is missing or fails, ready()
  /// is false after a WARN saying why: the test should then skip.
  ThrowawayUser();
  /// userdel -r -f: the user, its group and its home go, even if a process of it is left.
  ~ThrowawayUser();
  ThrowawayUser(const ThrowawayUser&) = delete;
  ThrowawayUser& operator=(const ThrowawayUser&) = delete;

  bool ready() const { return ready_; }
  /// "pmxt<pid>u<n>": unique to this process, short enough for every tool.
  const std::string& name() const { return name_; }
  uid_t uid() const { return uid_; }
  gid_t gid() const { return gid_; }
  /// Its home folder, as useradd made it (the user's, mode 0755 from UMASK 022 on Debian).
  const std::string& home() const { return home_; }
  /// A folder in its home, made and given to it (mode 0755).
  std::string own_folder(const std::string& name) const;

 private:
  bool ready_ = false;
  bool made_ = false;
  std::string name_;
  std::string home_;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
};

}  // namespace pmx::itest
