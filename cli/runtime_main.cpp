// pmx-runtime: pmx in the foreground, for containers (see cli/runtime.hpp).
#include "cli/runtime.hpp"

int main(int argc, char** argv) { return pmx::cli::run_runtime(argc, argv); }
