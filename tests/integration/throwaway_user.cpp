// ThrowawayUser: useradd at the start of a test, userdel at its end.
#include "tests/integration/throwaway_user.hpp"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <stdexcept>

#include "tests/integration/harness.hpp"

namespace pmx::itest {

namespace {

/// useradd/userdel from Debian's passwd package, "" when missing.
std::string account_tool(const std::string& name) {
  for (const std::string dir : {"/usr/sbin/", "/sbin/"}) {
    if (::access((dir + name).c_str(), X_OK) == 0) return dir + name;
  }
  return "";
}

/// Whether a useradd/userdel failed only because another one held the lock on /etc/passwd
/// (exit 1 "cannot lock", 10 "cannot update password file"): worth trying again.
bool lock_busy(const RunResult& r) {
  return r.exit_code == 10 || (r.exit_code == 1 && mentions(lower(r.err), "lock"));
}

}  // namespace

ThrowawayUser::ThrowawayUser() {
  static std::atomic<int> made{0};
  name_ = "pmxt" + std::to_string(::getpid()) + "u" + std::to_string(++made);
  if (::geteuid() != 0) {
    WARN("not root: cannot make a throwaway user with useradd, skipped");
    return;
  }
  const std::string useradd = account_tool("useradd");
  if (useradd.empty() || account_tool("userdel").empty()) {
    WARN("no useradd/userdel on this machine (Debian's passwd package): the real-user variant is skipped");
    return;
  }
  RunResult r;
  const bool done = wait_until([&] {
    r = run_process({useradd, "--create-home", "--user-group", "--shell", "/bin/sh", "--comment", "pmx test user",
                     name_});
    return !lock_busy(r);
  }, 30s);
  if (!done || r.exit_code != 0) {
    WARN("useradd " << name_ << " failed, the real-user variant is skipped: " << r);
    return;
  }
  made_ = true;
  const passwd* pw = ::getpwnam(name_.c_str());
  if (!pw || !pw->pw_dir) {
    WARN("useradd made " << name_ << " but getpwnam does not find it: skipped");
    return;
  }
  uid_ = pw->pw_uid;
  gid_ = pw->pw_gid;
  home_ = pw->pw_dir;
  struct stat st {};
  if (::stat(home_.c_str(), &st) != 0 || st.st_uid != uid_) {
    WARN("useradd made no home folder of " << name_ << " at " << home_ << ": skipped");
    return;
  }
  ready_ = true;
}

ThrowawayUser::~ThrowawayUser() {
  if (!made_) return;
  const std::string userdel = account_tool("userdel");
  RunResult r;
  wait_until([&] {
    r = run_process({userdel, "--remove", "--force", name_});
    return !lock_busy(r);
  }, 30s);
  if (r.exit_code != 0) WARN("userdel " << name_ << " failed: " << r);
}

std::string ThrowawayUser::own_folder(const std::string& name) const {
  const std::string dir = home_ + "/" + name;
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) throw std::runtime_error("mkdir " + dir);
  if (::chown(dir.c_str(), uid_, gid_) != 0 || ::chmod(dir.c_str(), 0755) != 0) throw std::runtime_error("chown " + dir);
  return dir;
}

}  // namespace pmx::itest
