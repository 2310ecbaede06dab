// The main scenarios of the C API and of the C++ layer, each written so that
// it checks its own values and passes any failure up unchanged: run under
// allocation failure injection (test_oom.cpp) and as a plain smoke test.
#pragma once
#include <utility>
#include <vector>

#include "oom.h"

namespace scn {

using Scenario = std::pair<const char *, oom::Outcome (*)()>;
// scenarios.cpp: uvrun's allocations are counted.
const std::vector<Scenario> &c_api();
// scenarios_cpp.cpp: C++'s operator new is counted too (oom::install).
const std::vector<Scenario> &cpp();

}  // namespace scn
