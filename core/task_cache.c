/* task_cache.c -- a loop's memory of finished tasks, for its next ones.
 *
 * Creating and finishing tasks is a hot path: a loop keeps the memory of its
 * finished tasks for the next ones instead of a malloc/free pair each (and
 * the page faults of memory the C library gave back meanwhile). A burst of
 * tasks leaves a large cache: what of it stays unused for a whole second
 * above a floor of 1024 tasks is freed, while the loop sleeps too, so memory
 * follows the load a second late (jemalloc's decay). Off under
 * AddressSanitizer, which must see every free. */
#include "internal.h"

#if defined(__SANITIZE_ADDRESS__)
#  define TASK_CACHE_ON 0
#else
#  define TASK_CACHE_ON 1
#endif
#define TASK_CACHE_FLOOR 1024
#define TASK_CACHE_DECAY_NS UINT64_C(1000000000)

uvrun_task_t *uvr_task_cache_take(uvrun_loop_t *loop) {
  uvrun_task_t *task = loop->task_cache;
  if (task == NULL) return NULL;
  loop->task_cache = UVR_TASK_NEXT(task);
  if (--loop->ncached < loop->cache_low) loop->cache_low = loop->ncached;
  return task;
}

int uvr_task_recycle(uvrun_task_t *task) {
  uvrun_loop_t *loop = task->fut.loop;
  if (!TASK_CACHE_ON || loop->closed) return 0;
  task->fut.link_next = (uvrun_future_t *)loop->task_cache; /* fut is first */
  loop->task_cache = task;
  loop->ncached++;
  return 1;
}

static void cache_free_top(uvrun_loop_t *loop, size_t n) {
  for (; n > 0 && loop->task_cache != NULL; n--) {
    uvrun_task_t *task = loop->task_cache;
    loop->task_cache = UVR_TASK_NEXT(task);
    loop->ncached--;
    uvr_free(task);
  }
}

uint64_t uvr_task_cache_decay(uvrun_loop_t *loop, uint64_t now) {
  if (now >= loop->cache_decay_at) {
    /* cache_low tasks sat unused for the whole period. */
    if (loop->cache_low > TASK_CACHE_FLOOR) cache_free_top(loop, loop->cache_low - TASK_CACHE_FLOOR);
    loop->cache_low = loop->ncached;
    loop->cache_decay_at = now + TASK_CACHE_DECAY_NS;
  }
  return loop->ncached > TASK_CACHE_FLOOR ? loop->cache_decay_at : UINT64_MAX;
}

void uvr_task_cache_free(uvrun_loop_t *loop) { cache_free_top(loop, loop->ncached); }
