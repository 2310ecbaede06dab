// uvrun/uvrun.hpp -- the C++20 layer over uvrun.h: include this one.
#pragma once

#include "errors.hpp"
#include "future.hpp"
#include "gather.hpp"
#include "queue.hpp"
#include "runner.hpp"
#include "shield.hpp"
#include "sync.hpp"
#include "task.hpp"
#include "taskgroup.hpp"
#include "timeout.hpp"
#include "typed_future.hpp"
