// The integration test runner's main (Catch2's).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
