/* uvrun.h -- asyncio's run() and Runner for C, on libuv.
 *
 * This header is the whole C API: what is not declared here is not API.
 *
 * ABI rules
 *  - Handles are opaque; every object is created and destroyed by a function.
 *    Destructors (`*_free`, `*_unref`) accept NULL.
 *  - Every fallible call returns int: 0 on success or a negative UVRUN_E_*
 *    code. uvrun_errmsg() gives the message of this thread's last failure.
 *  - Option structs start with `size`; fill them with the *_init function
 *    (or the *_INIT macro) and set only the fields you need. New fields are
 *    appended, so an old caller's smaller struct keeps working.
 *  - A function whose meaning changes gets a new name (`_v2`); a signature is
 *    never changed. Compare uvrun_version() with UVRUN_VERSION_HEX at start-up
 *    to check the library you loaded.
 *  - No libuv type appears here; uvrun_uv.h is the door to raw libuv.
 *  - For FFI: no struct is passed or returned by value; struct fields are
 *    fixed-width integers, doubles and pointers (no bool, no enum type);
 *    no function takes or returns an enum type (codes are int); nothing
 *    is variadic. Only `uvrun_*`
 *    symbols are exported (a linker version script enforces it).
 *  - Host hooks: uvrun_set_allocator(), uvrun_set_log_sink(), per-loop
 *    exception handlers, error payloads with their own destructor, arg_free
 *    and value_free callbacks, and uvrun_runner_free_v2() for finalizers.
 *
 * Threads: a loop and everything on it (tasks, futures, handles) belong to
 * the thread running the loop. Only uvrun_loop_call_soon_threadsafe() and
 * the executor may be used from other threads.
 */
#ifndef UVRUN_H
#define UVRUN_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#  define UVRUN_EXTERN __declspec(dllimport)
#elif defined(UVRUN_BUILDING) && defined(__GNUC__)
#  define UVRUN_EXTERN __attribute__((visibility("default")))
#else
#  define UVRUN_EXTERN
#endif

/* ---- Versions ---------------------------------------------------------- */

#define UVRUN_VERSION_MAJOR 0
#define UVRUN_VERSION_MINOR 1
#define UVRUN_VERSION_PATCH 0
#define UVRUN_VERSION_HEX                                     \
  ((UVRUN_VERSION_MAJOR << 16) | (UVRUN_VERSION_MINOR << 8) | \
   UVRUN_VERSION_PATCH)

UVRUN_EXTERN unsigned int uvrun_version(void);
UVRUN_EXTERN const char *uvrun_version_string(void);

/* ---- Errors -------------------------------------------------------------
 * Codes that mean what a libuv/errno code means reuse its value; the
 * runtime's own codes live in the reserved range -20000 .. -20099.
 * XX(name, value, message) -- messages keep asyncio's wording. */
#define UVRUN_ERRNO_MAP(XX)                                                    \
  XX(NOMEM, (-ENOMEM), "out of memory")                                        \
  XX(INVAL, (-EINVAL), "invalid argument")                                     \
  XX(TIMEDOUT, (-ETIMEDOUT), "timed out")                                      \
  XX(NOTFOUND, (-ENOENT), "no value set for the context variable")             \
  XX(CLOSED, (-20000), "Runner is closed")                                     \
  XX(LOOP_RUNNING, (-20001), "cannot be called from a running event loop")     \
  XX(LOOP_CLOSED, (-20002), "Event loop is closed")                            \
  XX(LOOP_ALREADY_RUNNING, (-20003), "This event loop is already running")     \
  XX(OTHER_LOOP_RUNNING, (-20004),                                             \
     "Cannot run the event loop while another loop is running")                \
  XX(LOOP_STOPPED, (-20005), "Event loop stopped before Future completed.")    \
  XX(INTERRUPTED, (-20006), "interrupted")                                     \
  XX(CANCELLED, (-20007), "cancelled")                                         \
  XX(WRONG_THREAD, (-20008),                                                   \
     "Non-thread-safe operation invoked on an event loop other than the "      \
     "current one")                                                            \
  XX(EXECUTOR_SHUTDOWN, (-20009), "Executor shutdown has been called")         \
  XX(TASK_FAILED, (-20010), "task failed")                                     \
  XX(INVALID_STATE, (-20011), "invalid state")                                 \
  XX(EXIT, (-20012), "exit requested")                                         \
  XX(CONTEXT_ENTERED, (-20013), "cannot enter context: it is already entered") \
  XX(TOKEN_USED, (-20014), "Token has already been used once")                 \
  XX(TOKEN_MISMATCH, (-20015),                                                 \
     "Token was created by a different ContextVar or in a different Context")  \
  XX(STREAM_CLOSED, (-20016), "the stream is closed")                          \
  XX(READ_BUSY, (-20017),                                                      \
     "read() called while another coroutine is already waiting for incoming "  \
     "data")                                                                   \
  XX(INCOMPLETE_READ, (-20018), "the stream ended before the expected bytes")  \
  XX(LIMIT_OVERRUN, (-20019),                                                  \
     "Separator is not found, and chunk exceed the limit")                     \
  XX(WOULD_DEADLOCK, (-20020),                                                 \
     "waiting would deadlock: this thread runs the loop that completes it")

typedef enum {
#define UVRUN_XX_(name, value, msg) UVRUN_E_##name = value,
  UVRUN_ERRNO_MAP(UVRUN_XX_)
#undef UVRUN_XX_
      UVRUN_E_MAX_ = -20099
} uvrun_errno_t;

/* Static name ("UVRUN_E_CANCELLED") and text of a code; libuv's codes
 * (-ECONNRESET, UV_EAI_NONAME) get libuv's name and text; unknown codes too.
 * A value both mean (-ENOENT is UVRUN_E_NOTFOUND, -ETIMEDOUT
 * UVRUN_E_TIMEDOUT...) gets uvrun's: the code alone cannot tell which it
 * was. An I/O call's error object carries the system's text instead
 * ("connect to /x.sock: no such file or directory"). */
UVRUN_EXTERN const char *uvrun_err_name(int code);
UVRUN_EXTERN const char *uvrun_strerror(int code);
/* The message of this thread's last failing call (exact asyncio wording
 * where there is one); "" if none. Valid until the next uvrun call. */
UVRUN_EXTERN const char *uvrun_errmsg(void);

typedef void (*uvrun_free_fn)(void *ptr);

/* An error object: a code, a message and an optional payload a host
 * language attaches (a C++ exception_ptr, a Python exception). Reference
 * counted; futures and tasks hold errors by reference. */
typedef struct uvrun_error_s uvrun_error_t;

/* Returns NULL when out of memory. `payload_free` runs when the last
 * reference goes. */
UVRUN_EXTERN uvrun_error_t *uvrun_error_new(int code, const char *message,
                                            void *payload,
                                            uvrun_free_fn payload_free);
UVRUN_EXTERN uvrun_error_t *uvrun_error_ref(uvrun_error_t *err);
UVRUN_EXTERN void uvrun_error_unref(uvrun_error_t *err);
UVRUN_EXTERN int uvrun_error_code(const uvrun_error_t *err);
UVRUN_EXTERN const char *uvrun_error_message(const uvrun_error_t *err);
UVRUN_EXTERN void *uvrun_error_payload(const uvrun_error_t *err);
/* The payload's destructor: tells a host its own payloads from others'. */
UVRUN_EXTERN uvrun_free_fn uvrun_error_payload_free(const uvrun_error_t *err);
/* The error `err` was raised while handling (Python's __context__), or
 * NULL; borrowed, it lives as long as err. uvrun_run() sets it when both the
 * main task and the shutdown fail: the error returned keeps the other. */
UVRUN_EXTERN uvrun_error_t *uvrun_error_context(const uvrun_error_t *err);
/* Takes this thread's last error object (the main task's error after
 * uvrun_run() returned UVRUN_E_TASK_FAILED, say); NULL if there is none.
 * The caller owns the reference. */
UVRUN_EXTERN uvrun_error_t *uvrun_take_error(void);
/* Makes err (reference taken over) this thread's last failure and returns
 * its code: an executor work function or a loop factory returns that code
 * to fail with err itself, payload included (a host language's exception).
 * NULL gives UVRUN_E_INVAL. */
UVRUN_EXTERN int uvrun_error_set_last(uvrun_error_t *err);

/* ---- Process-wide hooks ------------------------------------------------- */

/* Replace malloc/realloc/free. Call before any other uvrun call (returns
 * UVRUN_E_INVALID_STATE once an object exists). NULLs restore the C library. */
typedef struct uvrun_allocator_s {
  uint32_t size;
  void *(*malloc_fn)(size_t size, void *ud);
  void *(*realloc_fn)(void *ptr, size_t size, void *ud);
  void (*free_fn)(void *ptr, void *ud);
  void *ud;
} uvrun_allocator_t;
UVRUN_EXTERN int uvrun_set_allocator(const uvrun_allocator_t *allocator);

/* A closed loop leaves its libuv loop (an epoll instance, an eventfd, a
 * signal pipe: ~1 KB) to the next uvrun_loop_new() in any thread, which then
 * skips the syscalls that are most of a fresh run(); at most two wait.
 * This closes the waiting ones and returns how many it closed: call it
 * before counting live allocations or open descriptors. */
UVRUN_EXTERN int uvrun_release_memory(void);

enum {
  UVRUN_LOG_DEBUG = 10,
  UVRUN_LOG_INFO = 20,
  UVRUN_LOG_WARNING = 30,
  UVRUN_LOG_ERROR = 40
};
/* Where warnings and reports go; the default writes "uvrun: msg\n" to
 * stderr for messages at or above the log level. `fn == NULL` restores the
 * default. A sink of the host's own receives every level. */
typedef void (*uvrun_log_fn)(int level, const char *message, void *ud);
UVRUN_EXTERN void uvrun_set_log_sink(uvrun_log_fn fn, void *ud);
UVRUN_EXTERN void uvrun_log(int level, const char *message);
/* The default sink's threshold: UVRUN_LOG_WARNING unless the environment
 * variable UVRUN_LOG_LEVEL (DEBUG, INFO, WARNING, ERROR or a number) sets
 * another. Setting returns the previous level, or UVRUN_E_INVAL outside
 * 0..100. */
UVRUN_EXTERN int uvrun_set_log_level(int level);
UVRUN_EXTERN int uvrun_get_log_level(void);

/* ---- Objects ----------------------------------------------------------- */

typedef struct uvrun_loop_s uvrun_loop_t;
typedef struct uvrun_runner_s uvrun_runner_t;
typedef struct uvrun_future_s uvrun_future_t;
typedef struct uvrun_task_s uvrun_task_t;
typedef struct uvrun_handle_s uvrun_handle_t;
typedef struct uvrun_context_s uvrun_context_t;
typedef struct uvrun_contextvar_s uvrun_contextvar_t;
typedef struct uvrun_token_s uvrun_token_t;
typedef struct uvrun_asyncgen_s uvrun_asyncgen_t;

/* Debug tri-state. */
enum { UVRUN_DEBUG_DEFAULT = -1, UVRUN_DEBUG_OFF = 0, UVRUN_DEBUG_ON = 1 };

/* What a step function returns after uvrun_task_await()/uvrun_task_yield(). */
#define UVRUN_SUSPEND 1

/* ---- Exception handler -------------------------------------------------- */

typedef struct uvrun_exception_context_s {
  uint32_t size;
  const char *message;        /* always set */
  uvrun_error_t *error;       /* may be NULL */
  uvrun_task_t *task;         /* may be NULL */
  uvrun_future_t *future;     /* may be NULL */
  uvrun_asyncgen_t *asyncgen; /* may be NULL */
  const char *source;         /* creation site (debug mode), may be NULL */
} uvrun_exception_context_t;

typedef void (*uvrun_exception_handler_fn)(uvrun_loop_t *loop,
                                           const uvrun_exception_context_t *ctx,
                                           void *ud);

/* ---- Loops --------------------------------------------------------------- */

typedef void (*uvrun_callback_fn)(void *ud);
/* A loop factory: store a new loop in *out and return 0, or return a
 * negative code. The runner owns the loop it gets. */
typedef int (*uvrun_loop_factory_fn)(void *ud, uvrun_loop_t **out);

UVRUN_EXTERN int uvrun_loop_new(uvrun_loop_t **out);
/* Closes (if needed) and frees. Returns UVRUN_E_LOOP_RUNNING on a running
 * loop, leaving it untouched. */
UVRUN_EXTERN int uvrun_loop_free(uvrun_loop_t *loop);
/* Discards queued callbacks, closes every handle. Idempotent. */
UVRUN_EXTERN int uvrun_loop_close(uvrun_loop_t *loop);
UVRUN_EXTERN int uvrun_loop_is_closed(const uvrun_loop_t *loop);
UVRUN_EXTERN int uvrun_loop_is_running(const uvrun_loop_t *loop);
/* Runs the loop until `fut` is done; 0 and its value, or its error. */
UVRUN_EXTERN int uvrun_loop_run_until_complete(uvrun_loop_t *loop,
                                               uvrun_future_t *fut,
                                               void **result);
/* uvrun_shutdown_asyncgens() / uvrun_shutdown_default_executor() (see
 * "Shutdown steps"), run to the end. They run the loop: on a running one
 * they fail (UVRUN_E_LOOP_ALREADY_RUNNING) with nothing started -- await
 * those from a task instead. */
UVRUN_EXTERN int uvrun_loop_shutdown_asyncgens(uvrun_loop_t *loop);
UVRUN_EXTERN int uvrun_loop_shutdown_default_executor(uvrun_loop_t *loop,
                                                      double timeout);
/* Stop at the end of the current iteration. */
UVRUN_EXTERN void uvrun_loop_stop(uvrun_loop_t *loop);
/* Monotonic seconds. */
UVRUN_EXTERN double uvrun_loop_time(const uvrun_loop_t *loop);

/* What a loop holds now, for monitoring. Set `size` to sizeof the struct
 * before the call: fields a newer library adds are left out for older
 * callers. Loop thread (or while the loop is not running). */
typedef struct uvrun_loop_stats_s {
  uint32_t size;
  size_t tasks;  /* pending tasks */
  size_t ready;  /* callbacks and steps queued to run */
  size_t timers; /* scheduled timers, cancelled ones not yet dropped included */
  size_t cached_tasks; /* finished tasks' memory kept for reuse; what stays
                          unused for a second above 1024 is freed */
} uvrun_loop_stats_t;
UVRUN_EXTERN int uvrun_loop_stats(const uvrun_loop_t *loop,
                                  uvrun_loop_stats_t *stats);

UVRUN_EXTERN int uvrun_loop_get_debug(const uvrun_loop_t *loop);
UVRUN_EXTERN void uvrun_loop_set_debug(uvrun_loop_t *loop, int enabled);
/* Debug mode logs callbacks that run this long or longer (default 0.1 s). */
UVRUN_EXTERN void uvrun_loop_set_slow_callback_duration(uvrun_loop_t *loop,
                                                        double seconds);

/* Callbacks. When `handle` is non-NULL it receives a reference the caller
 * releases with uvrun_handle_unref(); with NULL nothing is allocated. */
UVRUN_EXTERN int uvrun_loop_call_soon(uvrun_loop_t *loop, uvrun_callback_fn cb,
                                      void *ud, uvrun_handle_t **handle);
UVRUN_EXTERN int uvrun_loop_call_later(uvrun_loop_t *loop, double delay,
                                       uvrun_callback_fn cb, void *ud,
                                       uvrun_handle_t **handle);
UVRUN_EXTERN int uvrun_loop_call_at(uvrun_loop_t *loop, double when,
                                    uvrun_callback_fn cb, void *ud,
                                    uvrun_handle_t **handle);
/* Any thread. Wake-ups are coalesced; callbacks run in posting order. */
UVRUN_EXTERN int uvrun_loop_call_soon_threadsafe(uvrun_loop_t *loop,
                                                 uvrun_callback_fn cb,
                                                 void *ud);
UVRUN_EXTERN void uvrun_handle_cancel(uvrun_handle_t *handle);
UVRUN_EXTERN int uvrun_handle_cancelled(const uvrun_handle_t *handle);
UVRUN_EXTERN void uvrun_handle_unref(uvrun_handle_t *handle);

UVRUN_EXTERN void uvrun_loop_set_exception_handler(
    uvrun_loop_t *loop, uvrun_exception_handler_fn fn, void *ud);
UVRUN_EXTERN void uvrun_loop_call_exception_handler(
    uvrun_loop_t *loop, const uvrun_exception_context_t *ctx);
/* Formats ctx as asyncio's default handler does and logs it at ERROR. */
UVRUN_EXTERN void uvrun_loop_default_exception_handler(
    uvrun_loop_t *loop, const uvrun_exception_context_t *ctx);

/* The loop running in this thread, or NULL. */
UVRUN_EXTERN uvrun_loop_t *uvrun_get_running_loop(void);
/* The loop a default-path runner set for this thread, or NULL. */
UVRUN_EXTERN uvrun_loop_t *uvrun_get_current_loop(void);

/* ---- Futures ------------------------------------------------------------ */

UVRUN_EXTERN int uvrun_future_new(uvrun_loop_t *loop, uvrun_future_t **out);
UVRUN_EXTERN uvrun_future_t *uvrun_future_ref(uvrun_future_t *fut);
UVRUN_EXTERN void uvrun_future_unref(uvrun_future_t *fut);
UVRUN_EXTERN uvrun_loop_t *uvrun_future_loop(const uvrun_future_t *fut);

/* `value_free`, if set, runs on the value when the future is freed, unless
 * the value was moved out (uvrun_run hands the main result over). These
 * return UVRUN_E_INVALID_STATE on a done future. */
UVRUN_EXTERN int uvrun_future_set_result(uvrun_future_t *fut, void *value,
                                         uvrun_free_fn value_free);
/* Takes over the caller's reference to err. */
UVRUN_EXTERN int uvrun_future_set_error(uvrun_future_t *fut,
                                        uvrun_error_t *err);
UVRUN_EXTERN int uvrun_future_set_error_code(uvrun_future_t *fut, int code,
                                             const char *message);
/* 1 if the future was pending and is now cancelled, else 0. */
UVRUN_EXTERN int uvrun_future_cancel(uvrun_future_t *fut, const char *msg);

UVRUN_EXTERN int uvrun_future_done(const uvrun_future_t *fut);
UVRUN_EXTERN int uvrun_future_cancelled(const uvrun_future_t *fut);
/* 0 and the (borrowed) value; UVRUN_E_CANCELLED; the error's code; or
 * UVRUN_E_INVALID_STATE while pending. Marks an error as retrieved. */
UVRUN_EXTERN int uvrun_future_result(uvrun_future_t *fut, void **value);
/* The error (borrowed) or NULL; a cancelled future has a CANCELLED error
 * carrying the cancel message. Marks it retrieved. */
UVRUN_EXTERN uvrun_error_t *uvrun_future_error(uvrun_future_t *fut);

/* Done callbacks run through the ready queue, in the context current when
 * they were added, once the future is done. */
typedef void (*uvrun_done_fn)(uvrun_future_t *fut, void *ud);
UVRUN_EXTERN int uvrun_future_add_done_callback(uvrun_future_t *fut,
                                                uvrun_done_fn cb, void *ud);
/* As uvrun_future_add_done_callback, for a callback that owns ud (holds a
 * reference through it, say): when it can never run -- its future is freed
 * pending, or the loop closes first -- drop(ud) runs instead, so cycles of
 * futures waiting on each other are freed with the loop. */
UVRUN_EXTERN int uvrun_future_add_done_callback_owned(uvrun_future_t *fut,
                                                      uvrun_done_fn cb,
                                                      void *ud,
                                                      uvrun_free_fn drop);
/* Returns how many registrations of (cb, ud) were removed (a removed owned
 * callback's drop does not run: ud is the caller's again). */
UVRUN_EXTERN int uvrun_future_remove_done_callback(uvrun_future_t *fut,
                                                   uvrun_done_fn cb, void *ud);

/* ---- Tasks --------------------------------------------------------------
 * A task is a future driven by a step function: each call resumes after the
 * previous await, like a hand-written state machine. A step returns
 *   UVRUN_SUSPEND  after uvrun_task_await() or uvrun_task_yield();
 *   0              when finished (uvrun_task_return() returns 0);
 *   a negative code to fail. Returning the code that uvrun_task_resume()
 *                  reported re-raises that same error object, so errors and
 *                  cancellation propagate unchanged.
 * A step is never called from inside a libuv callback: tasks are resumed
 * from the ready queue. */
typedef int (*uvrun_step_fn)(uvrun_task_t *task, void *arg);

typedef struct uvrun_task_opts_s {
  uint32_t size;
  const char *name;         /* copied; NULL gives "Task-N" */
  uvrun_context_t *context; /* run in this context; NULL: copy current */
  uvrun_free_fn arg_free;   /* runs on arg when the task is freed */
  const char *site;         /* creation site shown in debug reports */
} uvrun_task_opts_t;
#define UVRUN_STRINGIFY_(x) #x
#define UVRUN_STRINGIFY(x) UVRUN_STRINGIFY_(x)
#define UVRUN_SITE __FILE__ ":" UVRUN_STRINGIFY(__LINE__)
#define UVRUN_TASK_OPTS_INIT \
  { sizeof(uvrun_task_opts_t), NULL, NULL, NULL, UVRUN_SITE }
UVRUN_EXTERN void uvrun_task_opts_init(uvrun_task_opts_t *opts);

/* Schedules the first step (the task never runs inline). *out gets a
 * reference; the loop holds its own while the task is pending. On error
 * the step never runs and arg_free (if any) has run. */
UVRUN_EXTERN int uvrun_task_new(uvrun_loop_t *loop, uvrun_step_fn step,
                                void *arg, const uvrun_task_opts_t *opts,
                                uvrun_task_t **out);
UVRUN_EXTERN uvrun_task_t *uvrun_task_ref(uvrun_task_t *task);
UVRUN_EXTERN void uvrun_task_unref(uvrun_task_t *task);
/* The task seen as a future (same object, no new reference). */
UVRUN_EXTERN uvrun_future_t *uvrun_task_future(uvrun_task_t *task);
UVRUN_EXTERN uvrun_loop_t *uvrun_task_loop(const uvrun_task_t *task);

/* Inside a step. Await takes over the caller's reference to fut: pass a
 * fresh future (uvrun_sleep) or uvrun_future_ref() one you keep. A NULL fut
 * returns the error that produced it (uvrun_errmsg() tells). */
UVRUN_EXTERN int uvrun_task_await(uvrun_task_t *task, uvrun_future_t *fut);
/* Give way for one loop iteration (asyncio.sleep(0)). */
UVRUN_EXTERN int uvrun_task_yield(uvrun_task_t *task);
/* Sleeps for `seconds` (0 or less: yields), as awaiting uvrun_sleep() but
 * on the task's own timer: no future, no allocation. Return it from the
 * step; the next step's uvrun_task_resume() gives 0, or UVRUN_E_CANCELLED
 * when the task was cancelled meanwhile (at once, not at the deadline). */
UVRUN_EXTERN int uvrun_task_sleep(uvrun_task_t *task, double seconds);
/* What the last await produced: 0 and its value (borrowed, valid until the
 * step returns), or a negative code (UVRUN_E_CANCELLED when the task is
 * being cancelled). On the first step, and outside the task's step: 0 and
 * NULL. */
UVRUN_EXTERN int uvrun_task_resume(uvrun_task_t *task, void **value);
/* The error uvrun_task_resume() reported (borrowed, valid until the step
 * returns), or NULL. */
UVRUN_EXTERN uvrun_error_t *uvrun_task_resume_error(uvrun_task_t *task);
UVRUN_EXTERN int uvrun_task_return(uvrun_task_t *task, void *value);
UVRUN_EXTERN int uvrun_task_return_owned(uvrun_task_t *task, void *value,
                                         uvrun_free_fn value_free);
/* Fails the task with err (reference taken over); returns its code. From
 * then on in this step, uvrun_task_resume_error() reports err. Outside the
 * task's step there is no step to fail: err is released. */
UVRUN_EXTERN int uvrun_task_raise(uvrun_task_t *task, uvrun_error_t *err);

/* 1 if a cancellation was requested, 0 if the task is done. */
UVRUN_EXTERN int uvrun_task_cancel(uvrun_task_t *task, const char *msg);
UVRUN_EXTERN int uvrun_task_cancelling(const uvrun_task_t *task);
UVRUN_EXTERN int uvrun_task_uncancel(uvrun_task_t *task);
UVRUN_EXTERN const char *uvrun_task_name(const uvrun_task_t *task);
UVRUN_EXTERN int uvrun_task_set_name(uvrun_task_t *task, const char *name);
UVRUN_EXTERN uvrun_context_t *uvrun_task_context(const uvrun_task_t *task);
/* The task whose step is running on loop, or NULL. */
UVRUN_EXTERN uvrun_task_t *uvrun_current_task(const uvrun_loop_t *loop);
/* Calls fn for every task of loop that is not done. */
typedef void (*uvrun_task_visit_fn)(uvrun_task_t *task, void *ud);
UVRUN_EXTERN int uvrun_all_tasks(const uvrun_loop_t *loop,
                                 uvrun_task_visit_fn fn, void *ud);
/* Writes one line a live task (name, state, site, what it awaits). */
UVRUN_EXTERN void uvrun_loop_dump_tasks(const uvrun_loop_t *loop, int level);

/* ---- Helpers every C task needs ------------------------------------------
 * Each returns a new future (a reference for the caller, ready to hand to
 * uvrun_task_await) or NULL with the reason in uvrun_errmsg(). */

/* A sleep's timer runs from the call on, and the loop holds the future
 * until it fires (as asyncio's timer holds the future it sets): cancel a
 * sleep you drop early, or its memory waits for the deadline. */
UVRUN_EXTERN uvrun_future_t *uvrun_sleep(uvrun_task_t *task, double seconds);
UVRUN_EXTERN uvrun_future_t *uvrun_sleep_value(uvrun_loop_t *loop,
                                               double seconds, void *value);
/* Done when every future is done. return_exceptions = 0: fails with the
 * first error (the others keep running). 1: never fails; read each child.
 * Cancelling the gather cancels the children. Children are borrowed
 * (referenced inside) -- keep your own references to read them. */
UVRUN_EXTERN uvrun_future_t *uvrun_gather(uvrun_loop_t *loop,
                                          uvrun_future_t *const *futs, size_t n,
                                          int return_exceptions);
/* fut's outcome, or UVRUN_E_TIMEDOUT after `timeout` seconds, in which case
 * fut is cancelled and waited for first (asyncio.wait_for). Takes over the
 * caller's reference to fut. */
UVRUN_EXTERN uvrun_future_t *uvrun_wait_for(uvrun_future_t *fut,
                                            double timeout);
/* Done when any of futs is done; its value is the index (as uintptr_t) of
 * the first one done. Children are borrowed. */
UVRUN_EXTERN uvrun_future_t *uvrun_wait_any(uvrun_loop_t *loop,
                                            uvrun_future_t *const *futs,
                                            size_t n);

/* ---- Executor ------------------------------------------------------------
 * The loop's own thread pool. fn runs on a worker with a copy of the
 * caller's context; its return code and *result complete the future. */
typedef int (*uvrun_work_fn)(void *ud, void **result);
UVRUN_EXTERN uvrun_future_t *uvrun_run_in_executor(uvrun_loop_t *loop,
                                                   uvrun_work_fn fn, void *ud);

/* ---- Shutdown steps -------------------------------------------------------
 * asyncio's awaitable loop.shutdown_asyncgens() and
 * loop.shutdown_default_executor(timeout). Each starts at the call and
 * returns a future to await (a task, as asyncio's runner wraps them), or
 * NULL with the reason in uvrun_errmsg(). Cancelling it cancels only what
 * this call waits for. Calling again is harmless. */

/* Takes every live async finalizer (see "Async finalizers") and closes them
 * all at once; done when every close is, the failures reported. Objects
 * registered from now on warn; a later call closes them. */
UVRUN_EXTERN uvrun_future_t *uvrun_shutdown_asyncgens(uvrun_loop_t *loop);
/* From now on run_in_executor fails. Done when the workers have finished
 * every job already queued, or after `timeout` seconds (>= 0; INFINITY: no
 * limit), which warns and leaves the jobs still running to finish on their
 * own. Each call waits with its own timeout. */
UVRUN_EXTERN uvrun_future_t *uvrun_shutdown_default_executor(uvrun_loop_t *loop,
                                                             double timeout);

/* ---- Context variables ----------------------------------------------------
 * Values are borrowed pointers: the caller keeps them alive -- unless the
 * variable was made with uvrun_contextvar_new_owned(). Copying a context is
 * O(1). */

UVRUN_EXTERN int uvrun_context_new(uvrun_context_t **out);
UVRUN_EXTERN int uvrun_context_copy_current(uvrun_context_t **out);
UVRUN_EXTERN int uvrun_context_copy(const uvrun_context_t *ctx,
                                    uvrun_context_t **out);
UVRUN_EXTERN void uvrun_context_free(uvrun_context_t *ctx);
/* Runs fn inside ctx; UVRUN_E_CONTEXT_ENTERED if ctx is entered already. */
UVRUN_EXTERN int uvrun_context_run(uvrun_context_t *ctx, uvrun_callback_fn fn,
                                   void *ud);
/* Value of var in ctx without entering it. */
UVRUN_EXTERN int uvrun_context_get(const uvrun_context_t *ctx,
                                   const uvrun_contextvar_t *var, void **value);

/* `has_default` = 0: get() fails with UVRUN_E_NOTFOUND until set. */
UVRUN_EXTERN int uvrun_contextvar_new(const char *name, int has_default,
                                      void *default_value,
                                      uvrun_contextvar_t **out);
/* For reference-counted values (a host's boxes): every context, copy and
 * token that holds a value owns a reference. `ref` runs when one takes the
 * value (uvrun_contextvar_set included: the caller keeps its own), `unref`
 * when it lets go -- possibly on another thread (executor jobs carry
 * contexts), possibly after the variable is freed. The default value stays
 * the caller's. So a value lives exactly as long as something can read it. */
typedef void (*uvrun_ref_fn)(void *ptr);
UVRUN_EXTERN int uvrun_contextvar_new_owned(const char *name, int has_default,
                                            void *default_value,
                                            uvrun_ref_fn ref,
                                            uvrun_free_fn unref,
                                            uvrun_contextvar_t **out);
/* Frees the variable. Contexts that still hold a value for it keep it
 * (released with them), unseen: a new variable never inherits it. */
UVRUN_EXTERN void uvrun_contextvar_free(uvrun_contextvar_t *var);
UVRUN_EXTERN const char *uvrun_contextvar_name(const uvrun_contextvar_t *var);
UVRUN_EXTERN int uvrun_contextvar_get(const uvrun_contextvar_t *var,
                                      void **value);
/* Sets in the current context; *token (optional) restores the old value. */
UVRUN_EXTERN int uvrun_contextvar_set(uvrun_contextvar_t *var, void *value,
                                      uvrun_token_t **token);
/* Restores and frees the token (also on error). */
UVRUN_EXTERN int uvrun_contextvar_reset(uvrun_contextvar_t *var,
                                        uvrun_token_t *token);
UVRUN_EXTERN void uvrun_token_free(uvrun_token_t *token);

/* ---- Async finalizers -------------------------------------------------------
 * Objects (async generators) that must be closed asynchronously at shutdown.
 * aclose starts the close and gives a future that completes when it is done. */
typedef int (*uvrun_aclose_fn)(void *obj, uvrun_loop_t *loop,
                               uvrun_future_t **out);
/* Registers obj with the loop (first iteration). `name` is copied and
 * used in reports. Registering after shutdown warns and still
 * registers. *out is owned by the loop: it stays valid until unregistered
 * or closed at shutdown. */
UVRUN_EXTERN int uvrun_asyncgen_register(uvrun_loop_t *loop, void *obj,
                                         const char *name,
                                         uvrun_aclose_fn aclose,
                                         uvrun_asyncgen_t **out);
/* The object finished on its own: forget it. */
UVRUN_EXTERN void uvrun_asyncgen_unregister(uvrun_asyncgen_t *gen);
/* The object is being destroyed while alive: schedule its aclose on the
 * loop (thread-safe), unless the loop is closed. */
UVRUN_EXTERN void uvrun_asyncgen_finalize(uvrun_asyncgen_t *gen);
UVRUN_EXTERN void *uvrun_asyncgen_object(const uvrun_asyncgen_t *gen);
UVRUN_EXTERN const char *uvrun_asyncgen_name(const uvrun_asyncgen_t *gen);

/* ---- Runner --------------------------------------------------------------- */

/* A runner closes in four steps, in this order; a step that fails ends the
 * shutdown there, and the loop is closed whatever happened. */
enum {
  UVRUN_SHUTDOWN_CANCEL_TASKS = 1, /* cancel what is left and wait for it */
  UVRUN_SHUTDOWN_ASYNCGENS = 2,    /* finalize the live async generators */
  UVRUN_SHUTDOWN_EXECUTOR = 3,     /* shut the default executor down */
  UVRUN_SHUTDOWN_CLOSE_LOOP = 4    /* close the loop */
};
/* One step beginning (end == 0) or ending (end == 1), on the runner's
 * thread, outside the loop. `count`: at the beginning, the tasks to cancel,
 * the live async generators, or the executor's jobs queued or running; at
 * the end, those still left (abandoned tasks, jobs still running past the
 * timeout). `timeout`: the step's bound in seconds (0: none). `status`: at
 * the end, 0 or the step's error code. `time`: the loop's clock (0 once the
 * loop is closed). The hook must not call back into the runner. */
typedef struct uvrun_shutdown_event_s {
  uint32_t size;
  int32_t step;
  int32_t end;
  int32_t status;
  uint64_t count;
  double timeout;
  double time;
} uvrun_shutdown_event_t;
typedef void (*uvrun_shutdown_hook_fn)(const uvrun_shutdown_event_t *event,
                                       void *ud);
/* "cancel_tasks", "shutdown_asyncgens", "shutdown_default_executor",
 * "close_loop", or "unknown". */
UVRUN_EXTERN const char *uvrun_shutdown_step_name(int step);

typedef struct uvrun_options_s {
  uint32_t size;
  int32_t debug;                      /* UVRUN_DEBUG_DEFAULT/OFF/ON */
  uvrun_loop_factory_fn loop_factory; /* NULL: a fresh private loop */
  void *loop_factory_data;
  double executor_shutdown_timeout; /* seconds; default 300 */
  int32_t executor_max_workers;     /* 0: min(32, cores + 4) */
  int32_t handle_sigint;            /* 1 (default): Ctrl-C cancels main */
  uvrun_exception_handler_fn exception_handler; /* NULL: default handler */
  void *exception_handler_data;
  double cancel_timeout; /* <= 0 (default) waits forever */
  /* Host mode: with handle_sigint, a run on the main thread takes SIGINT
   * over even from a host's own handler (Python's, say) -- not from SIG_IGN
   * -- and puts the host's sigaction back exactly when it ends. 0: default. */
  int32_t host_sigint;
  /* Sees each step of a runner's close begin and end; NULL: none. */
  uvrun_shutdown_hook_fn shutdown_hook;
  void *shutdown_hook_data;
} uvrun_options_t;
#define UVRUN_OPTIONS_INIT                                                 \
  {                                                                        \
    sizeof(uvrun_options_t), UVRUN_DEBUG_DEFAULT, NULL, NULL, 300.0, 0, 1, \
        NULL, NULL, 0.0, 0, NULL, NULL                                     \
  }
UVRUN_EXTERN void uvrun_options_init(uvrun_options_t *opts);

/* asyncio.run(): a fresh loop runs step(task, arg) as the main task, then
 * shuts everything down and closes the loop before returning.
 * Returns 0 (the main result moved into *result if result is non-NULL),
 * UVRUN_E_TASK_FAILED (uvrun_take_error() gives the error), UVRUN_E_CANCELLED,
 * UVRUN_E_INTERRUPTED (Ctrl-C), or an error of the call itself. */
UVRUN_EXTERN int uvrun_run(uvrun_step_fn step, void *arg,
                           const uvrun_options_t *opts, void **result);

/* Allocates only. */
UVRUN_EXTERN int uvrun_runner_new(const uvrun_options_t *opts,
                                  uvrun_runner_t **out);
/* Runs one main task on the runner's loop, in `context` or the runner's own.
 * Returns as uvrun_run. */
UVRUN_EXTERN int uvrun_runner_run(uvrun_runner_t *runner, uvrun_step_fn step,
                                  void *arg, uvrun_context_t *context,
                                  void **result);
/* As uvrun_runner_run, with task options: name, context (NULL: the
 * runner's), site, and arg_free, which runs once the main task is freed --
 * possibly after this call returns (a main task left pending by a second
 * Ctrl-C is cancelled by close) -- or at once if the call is rejected. */
UVRUN_EXTERN int uvrun_runner_run_task(uvrun_runner_t *runner,
                                       uvrun_step_fn step, void *arg,
                                       const uvrun_task_opts_t *opts,
                                       void **result);
/* Runs until fut (reference taken over) is done and returns its value. */
UVRUN_EXTERN int uvrun_runner_run_future(uvrun_runner_t *runner,
                                         uvrun_future_t *fut, void **result);
UVRUN_EXTERN int uvrun_runner_get_loop(uvrun_runner_t *runner,
                                       uvrun_loop_t **out);
/* Idempotent; returns the first shutdown error, the loop closed anyway. */
UVRUN_EXTERN int uvrun_runner_close(uvrun_runner_t *runner);
/* Closes (reporting a close error through the log) and frees. NULL-safe. */
UVRUN_EXTERN void uvrun_runner_free(uvrun_runner_t *runner);
/* For garbage-collected hosts (SQLite's close_v2): a finalizer may call this
 * from any thread at any time once the host holds no other reference. It
 * never fails and never blocks. Where uvrun_runner_free would refuse --
 * another thread, or a loop running on the runner's thread (a finalizer
 * inside a step) -- the runner becomes a zombie instead: its own thread
 * closes and frees it at its next runner call made with no loop running
 * (uvrun_run, uvrun_runner_new, _run, _run_task, _run_future, _free,
 * _free_v2; a run frees them as it returns). Until then its loop, tasks and
 * executor stay as they were. */
UVRUN_EXTERN void uvrun_runner_free_v2(uvrun_runner_t *runner);

#ifdef __cplusplus
}
#endif

/* Threads; then the I/O headers (uvrun_io.h includes the ones built on its
 * streams). */
#include "uvrun_thread.h"
#include "uvrun_io.h"
#endif /* UVRUN_H */
