/* task_names.c -- who a task is: its creation number, its name (made
 * from the number when first asked) and, in debug mode, where it was
 * created; and the introspection that shows tasks by those. */
#include <inttypes.h>
#include <stdio.h>

#include "internal.h"

/* ---- identity ---- */

/* A task keeps its creation number until it is named, in one word. One
 * created with a site (debug mode) keeps number, name and site in a block
 * of its own, so that other tasks need no word for a site. */
typedef struct uvr_task_info {
  uint64_t id;
  char *name; /* NULL until named */
  const char *site;
} uvr_task_info;

int uvr_task_who_init_named(uvrun_task_t *task, const char *name, const char *site, uint64_t id) {
  char *copy = NULL;
  if (name != NULL && (copy = uvr_strdup(name)) == NULL) return UVRUN_E_NOMEM;
  if (site != NULL) {
    uvr_task_info *info = uvr_malloc(sizeof *info);
    if (info == NULL) {
      uvr_free(copy);
      return UVRUN_E_NOMEM;
    }
    info->id = id;
    info->name = copy;
    info->site = site;
    task->who.info = info;
    task->with_info = 1;
  } else {
    task->who.name = copy;
    task->named = 1;
  }
  return 0;
}

/* The task's name, or NULL while it has none. */
static char *name_of(const uvrun_task_t *task) {
  if (task->with_info) return task->who.info->name;
  return task->named ? task->who.name : NULL;
}

/* Names the task (name taken over). */
static void set_name(uvrun_task_t *task, char *name) {
  uvr_free(name_of(task));
  if (task->with_info) {
    task->who.info->name = name;
  } else {
    task->who.name = name;
    task->named = 1;
  }
}

void uvr_task_who_free(uvrun_task_t *task) {
  uvr_free(name_of(task));
  if (task->with_info) uvr_free(task->who.info);
}

const char *uvr_task_site(const uvrun_task_t *task) { return task->with_info ? task->who.info->site : NULL; }

/* ---- names and introspection ---- */

const char *uvrun_task_name(const uvrun_task_t *task) {
  uvrun_task_t *t = (uvrun_task_t *)task;
  char buf[32], *name;
  if (t == NULL) return "";
  if ((name = name_of(t)) != NULL) return name;
  /* Made on first use: most tasks are never asked their name. */
  snprintf(buf, sizeof buf, "Task-%" PRIu64, t->with_info ? t->who.info->id : t->who.id);
  if ((name = uvr_strdup(buf)) == NULL) return "Task"; /* the number stays */
  set_name(t, name);
  return name;
}

int uvrun_task_set_name(uvrun_task_t *task, const char *name) {
  char *copy;
  if (task == NULL || name == NULL) return uvr_fail(UVRUN_E_INVAL, "task and name must not be NULL");
  copy = uvr_strdup(name);
  if (copy == NULL) return uvr_fail(UVRUN_E_NOMEM, "out of memory");
  set_name(task, copy);
  return 0;
}

uvrun_context_t *uvrun_task_context(const uvrun_task_t *task) {
  return task != NULL ? uvr_task_ctx((uvrun_task_t *)task) : NULL;
}
uvrun_task_t *uvrun_current_task(const uvrun_loop_t *loop) { return loop != NULL ? loop->current_task : NULL; }

int uvrun_all_tasks(const uvrun_loop_t *loop, uvrun_task_visit_fn fn, void *ud) {
  uvrun_task_t *task, *next;
  if (loop == NULL || fn == NULL) return uvr_fail(UVRUN_E_INVAL, "loop and function must not be NULL");
  for (task = loop->tasks; task != NULL; task = next) {
    next = UVR_TASK_NEXT(task);
    fn(task, ud);
  }
  return 0;
}

void uvr_task_describe(const uvrun_task_t *task, char *buf, size_t len) {
  const uvrun_future_t *f = &task->fut;
  const char *site = f->loop->debug ? uvr_task_site(task) : NULL;
  char waiting[160] = "";
  int n;
  if (f->state == UVR_PENDING && task->waiter != NULL && !uvr_is_task(task->waiter)) {
    char w[128];
    uvr_future_describe(task->waiter, w, sizeof w);
    snprintf(waiting, sizeof waiting, " wait_for=%s", w);
  } else if (f->state == UVR_PENDING && task->waiter != NULL) {
    snprintf(waiting, sizeof waiting, " wait_for=<Task name='%s'>", uvrun_task_name((uvrun_task_t *)task->waiter));
  } else if (f->state == UVR_PENDING && task->sleeping) {
    snprintf(waiting, sizeof waiting, " sleeping");
  }
  n = snprintf(buf, len, "<Task %s name='%s' step=%p%s%s",
               f->state == UVR_PENDING     ? "pending"
               : f->state == UVR_CANCELLED ? "cancelled"
                                           : "finished",
               uvrun_task_name(task), (void *)(uintptr_t)task->step, site ? " created at " : "", site ? site : "");
  if (n < 0 || (size_t)n >= len) return;
  if (f->state == UVR_ERROR) {
    snprintf(buf + n, len - (size_t)n, " exception=%s('%s')>", uvrun_err_name(f->error->code), f->error->message);
  } else if (f->state == UVR_RESULT) {
    snprintf(buf + n, len - (size_t)n, " result=%p>", f->value);
  } else {
    snprintf(buf + n, len - (size_t)n, "%s>", waiting);
  }
}

void uvrun_loop_dump_tasks(const uvrun_loop_t *loop, int level) {
  const uvrun_task_t *task;
  char desc[512];
  if (loop == NULL) return;
  uvr_logf(level, "%zu pending task(s)", loop->ntasks);
  for (task = loop->tasks; task != NULL; task = UVR_TASK_NEXT(task)) {
    uvr_task_describe(task, desc, sizeof desc);
    uvr_logf(level, "  %s", desc);
  }
}
