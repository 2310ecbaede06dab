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
    uvr_logf(UVRUN_LOG_WARNING,
             "asynchronous generator <%s> was scheduled after uvrun_loop_shutdown_asyncgens() call", gen->name);
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

/* R55: close every live generator at once and wait for all of them. Always
 * runs the loop at least one iteration, as asyncio's shutdown step does. */
int uvr_asyncgen_shutdown(uvrun_loop_t *loop) {
  uvrun_asyncgen_t **gens = NULL, *gen, *next;
  uvrun_future_t **futs = NULL, *all;
  size_t n = 0, i;
  int rc;
  loop->asyncgens_shutdown_called = 1;
  for (gen = loop->asyncgens; gen != NULL; gen = gen->next) n++;
  if (n > 0) {
    gens = uvr_calloc(n, sizeof *gens);
    futs = uvr_calloc(n, sizeof *futs);
    if (gens == NULL || futs == NULL) {
      rc = uvr_fail(UVRUN_E_NOMEM, "out of memory");
      goto done;
    }
  }
  for (i = 0, gen = loop->asyncgens; n > 0 && gen != NULL; gen = next) {
    int expected = 0;
    next = gen->next;
    /* A finalized object is its finalizer's to close (R56). */
    if (!atomic_compare_exchange_strong(&gen->claimed, &expected, 2)) continue;
    unlink_gen(gen);
    gens[i++] = gen;
  }
  n = i;
  if (n == 0) {
    rc = uvr_loop_iterate(loop);
    goto done;
  }
  for (i = 0; i < n; i++) {
    rc = gens[i]->aclose(gens[i]->obj, loop, &futs[i]);
    if (rc < 0 || futs[i] == NULL) {
      /* A close that cannot start is its error, reported like the others. */
      int code = rc < 0 ? rc : UVRUN_E_INVAL;
      if (uvrun_future_new(loop, &futs[i]) < 0) {
        rc = UVRUN_E_NOMEM; /* not the INVAL a NULL child would give gather */
        goto done;
      }
      uvrun_future_set_error(futs[i], uvr_error_for_code(code));
    }
  }
  all = uvrun_gather(loop, futs, n, 1);
  if (all == NULL) {
    rc = uvr_last_code();
    goto done;
  }
  rc = uvrun_loop_run_until_complete(loop, all, NULL);
  uvrun_future_unref(all);
  for (i = 0; rc == 0 && i < n; i++) {
    uvrun_future_t *f = futs[i];
    /* Only real errors: a cancellation is not reported (R55). */
    if (f != NULL && f->state == UVR_ERROR && f->error->code != UVRUN_E_CANCELLED &&
        f->error->code != UVRUN_E_INTERRUPTED && f->error->code != UVRUN_E_EXIT)
      report(loop, gens[i], f->error);
  }
done:
  for (i = 0; i < n; i++) {
    if (futs != NULL) uvrun_future_unref(futs[i]);
    if (gens != NULL && gens[i] != NULL) free_gen(gens[i]);
  }
  uvr_free(gens);
  uvr_free(futs);
  return rc;
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
