// Counts the test binary's heap allocations (operator new is replaced in
// allocation_counter.cpp), so a test can prove that a warm code path allocates nothing.
#pragma once

#include <cstdint>

std::uint64_t allocations_so_far();
