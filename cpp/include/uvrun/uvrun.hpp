// uvrun/uvrun.hpp -- the C++20 layer over uvrun.h: include this one.
#pragma once

#include "errors.hpp"
#include "future.hpp"
#include "runner.hpp"
#include "task.hpp"
