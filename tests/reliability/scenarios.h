// The main scenarios of the C API, each written so that it checks its own
// values and passes any failure code up unchanged: run under allocation
// failure injection (test_oom.cpp) and as a plain smoke test.
#pragma once
#include <utility>
#include <vector>

#include "oom.h"

namespace scn {

using Scenario = std::pair<const char *, oom::Outcome (*)()>;
const std::vector<Scenario> &all();

}  // namespace scn
