// uvrun/interop.hpp -- C and C++ tasks awaiting each other.
//
// C++ awaiting C: `void *v = co_await uvrun::from_c(fut)` (or a uvrun_task_t*)
// gives the C value as is; a C error arrives as the exception its code
// stands for (the original object when C++ threw it).
//
// C awaiting C++: a TaskHandle<T>'s future() is a plain uvrun_future_t*; C
// passes uvrun_future_ref(handle.future()) to uvrun_task_await(), and the
// value it gets is a T* owned by the future (nullptr for void).
#pragma once

#include <uvrun.h>

#include "future.hpp"

namespace uvrun {

// An awaitable for a C future (the caller keeps its own reference).
inline detail::FutureAwaiter from_c(uvrun_future_t *fut) { return detail::FutureAwaiter(uvrun_future_ref(fut)); }
// An awaitable for a C task's outcome.
inline detail::FutureAwaiter from_c(uvrun_task_t *task) { return from_c(uvrun_task_future(task)); }

}  // namespace uvrun
