/* hooks.c -- how the layers above the engine plug into it: tasks (their
 * steps, their own sleeps, their memory cache), sleep futures, the
 * executor, async generators, futures that hold references, streams and
 * child processes.
 * The engine (loop.c, timers.c) calls them through uvr_hooks only, so its
 * files name nothing of these layers. */
#include "process.h"

/* Executor completions arrive from other threads until it is detached. */
static void detach_executor(uvrun_loop_t *loop) { uvr_executor_detach(loop); }

/* Nothing can run now: servers stop listening, streams still open are
 * aborted, files closed and children still running are killed and reaped (L1), and what holds references through callbacks (a gather
 * awaiting a task, a task awaiting itself through a gather) lets go. */
static void drop_references(uvrun_loop_t *loop) {
  uvr_servers_drop_all(loop);
  uvr_streams_abort_all(loop);
  uvr_files_close_all(loop);
  uvr_processes_drop_all(loop);
  uvr_asyncgen_detach_all(loop);
  uvr_task_drop_all(loop);
  uvr_future_drop_all_held(loop);
}

static void free_kept_memory(uvrun_loop_t *loop) {
  uvr_task_cache_free(loop);
  uvr_streams_free_scratch(loop);
}

static int describe_layer_item(const uvr_item *it, char *buf, size_t len) {
  const uvrun_task_t *task = uvr_item_task(it);
  if (task == NULL) return uvr_sleep_describe_item(it, buf, len);
  uvr_task_describe(task, buf, len);
  return 1;
}

static void clear_step_in_child(void) { uvr_running_step = NULL; }

const uvr_loop_hooks uvr_hooks = {
    .step = uvr_task_run_step,
    .timer_kinds =
        {
            [UVR_TIMER_HANDLE] = &uvr_handle_timer_ops,
            [UVR_TIMER_SLEEP] = &uvr_sleep_timer_ops,
            [UVR_TIMER_TASK] = &uvr_task_timer_ops,
        },
    .busy = uvr_executor_busy,
    .idle = uvr_task_cache_decay,
    .close_detach = detach_executor,
    .close_drop = drop_references,
    .close_free = free_kept_memory,
    .describe_item = describe_layer_item,
    .forked_child = clear_step_in_child,
};
