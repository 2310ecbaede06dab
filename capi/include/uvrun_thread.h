/* uvrun_thread.h -- handing work to a loop that runs in another thread
 * (included by uvrun.h).
 *
 * uvrun_submit_threadsafe() starts a task on a loop from any thread, as
 * asyncio's run_coroutine_threadsafe() does, and gives a thread-safe future
 * (uvrun_cfuture_t) for its outcome: a thread may block on it with a
 * timeout, cancel it, attach a callback, or a task on another loop may await
 * it (uvrun_wrap_cfuture) without blocking that loop.
 *
 * The task runs in a copy of the submitting thread's context. Nothing is
 * lost and nothing waits forever: a submission to a loop that closes before
 * its task starts ends with UVRUN_E_LOOP_CLOSED; a task still pending when
 * its loop closes ends cancelled. The caller keeps the loop's memory alive
 * while it submits (as for uvrun_loop_call_soon_threadsafe); a background
 * runner (uvrun_background_t) does that itself. */
#ifndef UVRUN_THREAD_H
#define UVRUN_THREAD_H

#include "uvrun.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct uvrun_cfuture_s uvrun_cfuture_t;

/* Starts step(arg) as a task on loop, from any thread; *out gets a reference
 * to its future. opts as for uvrun_task_new (NULL: defaults; the name is
 * copied now; a context given must stay valid until the task starts). On
 * error (NULL arguments, a closed loop: UVRUN_E_LOOP_CLOSED) nothing is
 * started and arg_free, if any, has run. */
UVRUN_EXTERN int uvrun_submit_threadsafe(uvrun_loop_t *loop, uvrun_step_fn step,
                                         void *arg,
                                         const uvrun_task_opts_t *opts,
                                         uvrun_cfuture_t **out);

/* References are counted atomically: any thread may take and drop them.
 * The task's result value belongs to its cfuture and goes with it. */
UVRUN_EXTERN uvrun_cfuture_t *uvrun_cfuture_ref(uvrun_cfuture_t *cf);
UVRUN_EXTERN void uvrun_cfuture_unref(uvrun_cfuture_t *cf);

/* Blocks the calling thread until the future is done or `timeout` seconds
 * pass (a negative timeout, or one too long to count, INFINITY included,
 * waits without limit): 0 when done,
 * UVRUN_E_TIMEDOUT when not. On the thread running the task's loop it
 * returns UVRUN_E_WOULD_DEADLOCK at once instead of hanging. */
UVRUN_EXTERN int uvrun_cfuture_wait(uvrun_cfuture_t *cf, double timeout);
UVRUN_EXTERN int uvrun_cfuture_done(uvrun_cfuture_t *cf);
UVRUN_EXTERN int uvrun_cfuture_cancelled(uvrun_cfuture_t *cf);

/* As uvrun_future_result: 0 and the task's value (valid while cf is held),
 * UVRUN_E_CANCELLED, the task's error code (its error is then the thread's
 * last one), or UVRUN_E_INVALID_STATE while pending. */
UVRUN_EXTERN int uvrun_cfuture_result(uvrun_cfuture_t *cf, void **value);
/* The error (a new reference) or NULL: a cancelled future gives a CANCELLED
 * error, a loop that closed first a LOOP_CLOSED one. */
UVRUN_EXTERN uvrun_error_t *uvrun_cfuture_error(uvrun_cfuture_t *cf);

/* From any thread. A future not yet done becomes cancelled at once and its
 * task is cancelled on its loop; a task that has not started never runs.
 * Returns 1 if it cancelled the future, 0 if it was already done. */
UVRUN_EXTERN int uvrun_cfuture_cancel(uvrun_cfuture_t *cf);

/* cb(cf, ud) runs once the future is done, on the thread that completes it
 * (the loop's, or the one that cancels), or at once in this thread if it is
 * done already. */
typedef void (*uvrun_cfuture_done_fn)(uvrun_cfuture_t *cf, void *ud);
UVRUN_EXTERN int uvrun_cfuture_add_done_callback(uvrun_cfuture_t *cf,
                                                 uvrun_cfuture_done_fn cb,
                                                 void *ud);

/* A future on `loop` (this thread's, running or not) that completes with
 * cf's outcome, so a task awaits a task of another loop without blocking
 * its own (asyncio.wrap_future). Its value is borrowed from cf, which it
 * holds. Cancelling it cancels cf. NULL on failure (uvrun_errmsg()). */
UVRUN_EXTERN uvrun_future_t *uvrun_wrap_cfuture(uvrun_loop_t *loop,
                                                uvrun_cfuture_t *cf);

/* ---- A runner on a thread of its own ------------------------------------
 * start creates the thread, a runner on it (opts as for uvrun_runner_new;
 * its Ctrl-C handling is always off: signals belong to the main thread) and
 * runs the loop until stop. Submit work with uvrun_submit_threadsafe on
 * uvrun_background_loop(). stop runs the runner's full shutdown on its own
 * thread (leftover tasks cancelled, async generators, executor), joins the
 * thread and returns the shutdown's status; it is idempotent. free stops it
 * first. Calling stop or free on the runner's own thread fails with
 * UVRUN_E_WOULD_DEADLOCK. */
typedef struct uvrun_background_s uvrun_background_t;
UVRUN_EXTERN int uvrun_background_start(const uvrun_options_t *opts,
                                        uvrun_background_t **out);
UVRUN_EXTERN uvrun_loop_t *uvrun_background_loop(uvrun_background_t *bg);
UVRUN_EXTERN int uvrun_background_stop(uvrun_background_t *bg);
UVRUN_EXTERN int uvrun_background_free(uvrun_background_t *bg);

#ifdef __cplusplus
}
#endif

#endif /* UVRUN_THREAD_H */
