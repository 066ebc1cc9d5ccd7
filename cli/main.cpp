// pmx: the command-line client of pmxd.
#include "cli/commands.hpp"

int main(int argc, char** argv) { return pmx::cli::run(argc, argv); }
