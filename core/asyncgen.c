/* asyncgen.c -- objects closed asynchronously at shutdown (D9, R55-R57):
 * the C side of async generators, usable by any host. */
#include <string.h>

#include "internal.h"

struct uvrun_asyncgen_s {
  uvrun_loop_t *loop;
  void *obj;
  char *name;
  uvrun_aclose_fn aclose;
  atomic_int claimed; /* 1: finalize, 2: shutdown closes it -- never both */
  uvrun_asyncgen_t *prev, *next;
};

static void unlink_gen(uvrun_asyncgen_t *gen) {
  uvrun_loop_t *loop = gen->loop;
  if (gen->prev != NULL) gen->prev->next = gen->next;
  else if (loop->asyncgens == gen) loop->asyncgens = gen->next;
  if (gen->next != NULL) gen->next->prev = gen->prev;
  gen->prev = gen->next = NULL;
}

static void free_gen(uvrun_asyncgen_t *gen) {
  uvr_free(gen->name);
  uvr_free(gen);
}

int uvrun_asyncgen_register(uvrun_loop_t *loop, void *obj, const char *name, uvrun_aclose_fn aclose,
                            uvrun_asyncgen_t **out) {
  uvrun_asyncgen_t *gen;
  if (out != NULL) *out = NULL;
  if (loop == NULL || aclose == NULL || out == NULL)
    return uvr_fail(UVRUN_E_INVAL, "loop, aclose and out must not be NULL");
  if (loop->closed) return uvr_fail(UVRUN_E_LOOP_CLOSED, "Event loop is closed");
  gen = uvr_calloc(1, sizeof *gen);
  if (gen == NULL || (gen->name = uvr_strdup(name != NULL ? name : "async_generator")) == NULL) {
    uvr_free(gen);
    return uvr_fail(UVRUN_E_NOMEM, "out of memory");
  }
  gen->loop = loop;
  gen->obj = obj;
  gen->aclose = aclose;
  if (loop->asyncgens_shutdown_called) /* R57: warn, and still register */
    uvr_logf(UVRUN_LOG_WARNING, "asynchronous generator <%s> was scheduled after uvrun_loop_shutdown_asyncgens() call",
             gen->name);
  gen->next = loop->asyncgens;
  if (gen->next != NULL) gen->next->prev = gen;
  loop->asyncgens = gen;
  *out = gen;
  return 0;
}

void uvrun_asyncgen_unregister(uvrun_asyncgen_t *gen) {
  if (gen == NULL) return;
  unlink_gen(gen);
  free_gen(gen);
}

/* The close a finalizer asked for, on the loop's thread. */
static void run_finalize(uvrun_loop_t *loop, uvr_item *it, int run) {
  uvrun_asyncgen_t *gen = it->a;
  uvrun_future_t *fut = NULL;
  unlink_gen(gen);
  if (run && gen->aclose(gen->obj, loop, &fut) == 0) uvrun_future_unref(fut);
  free_gen(gen);
}

void uvrun_asyncgen_finalize(uvrun_asyncgen_t *gen) {
  int expected = 0;
  if (gen == NULL) return;
  /* R56: a finalized object leaves the tracked set at once: shutdown must
   * not close (and free) it as well. Shutdown may have claimed it first. */
  if (!atomic_compare_exchange_strong(&gen->claimed, &expected, 1)) return;
  /* Closed: the close frees the registration (this thread must not touch
   * the loop's list). Out of memory: leave it to the shutdown. */
  if (uvr_loop_push_threadsafe(gen->loop, run_finalize, gen) < 0) atomic_store(&gen->claimed, 0);
}

void *uvrun_asyncgen_object(const uvrun_asyncgen_t *gen) { return gen != NULL ? gen->obj : NULL; }
const char *uvrun_asyncgen_name(const uvrun_asyncgen_t *gen) { return gen != NULL ? gen->name : ""; }

static void report(uvrun_loop_t *loop, uvrun_asyncgen_t *gen, uvrun_error_t *err) {
  char message[512];
  uvrun_exception_context_t c;
  memset(&c, 0, sizeof c);
  c.size = sizeof c;
  snprintf(message, sizeof message, "an error occurred during closing of asynchronous generator <%s>", gen->name);
  c.message = message;
  c.error = err;
  c.asyncgen = gen;
  uvrun_loop_call_exception_handler(loop, &c);
}

/* One shutdown's closes: the objects it took, and their closes' futures. */
typedef struct closing {
  uvrun_asyncgen_t **gens;
  uvrun_future_t **futs;
  size_t n;
} closing;

static void closing_free(void *arg) {
  closing *c = arg;
  size_t i;
  for (i = 0; i < c->n; i++) {
    uvrun_future_unref(c->futs[i]);
    free_gen(c->gens[i]);
  }
  uvr_free(c->gens);
  uvr_free(c->futs);
  uvr_free(c);
}

static closing *closing_new(size_t n) {
  closing *c = uvr_calloc(1, sizeof *c);
  if (c != NULL &&
      ((c->gens = uvr_calloc(n, sizeof *c->gens)) == NULL || (c->futs = uvr_calloc(n, sizeof *c->futs)) == NULL)) {
    closing_free(c);
    c = NULL;
  }
  if (c == NULL) uvr_fail(UVRUN_E_NOMEM, "out of memory");
  return c;
}

static int is_base_exception(int code) {
  return code == UVRUN_E_CANCELLED || code == UVRUN_E_INTERRUPTED || code == UVRUN_E_EXIT;
}

/* After the gather: report the closes that failed. */
static int closes_done(uvrun_task_t *task, int rc, void *arg) {
  closing *c = arg;
  size_t i;
  if (rc < 0) return rc; /* cancelled: so were the closes, nothing to report */
  for (i = 0; i < c->n; i++) {
    uvrun_future_t *f = c->futs[i];
    /* Only real errors: a cancellation is not reported (R55). */
    if (f->state == UVR_ERROR && !is_base_exception(f->error->code))
      report(uvrun_task_loop(task), c->gens[i], f->error);
  }
  return 0;
}

/* Starts each close; one that cannot start is its error, reported now. */
static void start_closes(uvrun_loop_t *loop, closing *c, size_t taken) {
  size_t i;
  for (i = 0; i < taken; i++) {
    uvrun_asyncgen_t *gen = c->gens[i];
    uvrun_future_t *fut = NULL;
    int rc = gen->aclose(gen->obj, loop, &fut);
    if (rc == 0 && fut != NULL) {
      c->gens[c->n] = gen;
      c->futs[c->n++] = fut;
    } else {
      uvrun_error_t *err = uvr_error_for_code(rc < 0 ? rc : UVRUN_E_INVAL);
      report(loop, gen, err);
      uvrun_error_unref(err);
      uvrun_future_unref(fut);
      free_gen(gen);
    }
  }
}

/* R55: takes every live object and closes them all at once; the future is
 * done when every close is, and the failures reported. */
uvrun_future_t *uvrun_shutdown_asyncgens(uvrun_loop_t *loop) {
  uvrun_asyncgen_t *gen, *next;
  closing *c;
  size_t n;
  if (loop == NULL) {
    uvr_fail(UVRUN_E_INVAL, "loop must not be NULL");
    return NULL;
  }
  if (loop->closed) {
    uvr_fail(UVRUN_E_LOOP_CLOSED, "Event loop is closed");
    return NULL;
  }
  loop->asyncgens_shutdown_called = 1;
  n = uvr_asyncgen_count(loop);
  if (n == 0) return uvr_future_new_done(loop);
  if ((c = closing_new(n)) == NULL) return NULL;
  /* All taken before any close starts: what a close registers (R57) is
   * left for a later shutdown. */
  for (n = 0, gen = loop->asyncgens; gen != NULL; gen = next) {
    int expected = 0;
    next = gen->next;
    /* A finalized object is its finalizer's to close (R56). */
    if (!atomic_compare_exchange_strong(&gen->claimed, &expected, 2)) continue;
    unlink_gen(gen);
    c->gens[n++] = gen;
  }
  start_closes(loop, c, n);
  return uvr_continue_with(loop, uvrun_gather(loop, c->futs, c->n, 1), closes_done, c, closing_free);
}

void uvr_asyncgen_detach_all(uvrun_loop_t *loop) {
  while (loop->asyncgens != NULL) uvrun_asyncgen_unregister(loop->asyncgens);
}

size_t uvr_asyncgen_count(const uvrun_loop_t *loop) {
  const uvrun_asyncgen_t *gen;
  size_t n = 0;
  for (gen = loop->asyncgens; gen != NULL; gen = gen->next) n++;
  return n;
}
