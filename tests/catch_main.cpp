// Catch2's main, compiled once for both test programs (pmx_unit_tests, pmx_integration_tests).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
