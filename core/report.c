/* report.c -- the loop's exception handler: what a task, future or async
 * generator reports (an error never retrieved, a task destroyed pending)
 * reaches the handler set on its loop, or the default one, which logs it
 * as asyncio prints it. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

void uvrun_loop_set_exception_handler(uvrun_loop_t *loop, uvrun_exception_handler_fn fn, void *ud) {
  if (loop == NULL) return;
  loop->eh = fn;
  loop->eh_ud = ud;
}

void uvrun_loop_default_exception_handler(uvrun_loop_t *loop, const uvrun_exception_context_t *c) {
  char out[2048], desc[512];
  size_t n;
  (void)loop;
  if (c == NULL) return;
  n = (size_t)snprintf(out, sizeof out, "%s",
                       c->message && *c->message ? c->message : "Unhandled exception in event loop");
  /* Keys in sorted order, as asyncio prints them (R65). */
  if (c->asyncgen != NULL && n < sizeof out)
    n +=
        (size_t)snprintf(out + n, sizeof out - n, "\nasyncgen: <async_generator %s>", uvrun_asyncgen_name(c->asyncgen));
  if (c->future != NULL && n < sizeof out) {
    uvr_future_describe(c->future, desc, sizeof desc);
    n += (size_t)snprintf(out + n, sizeof out - n, "\nfuture: %s", desc);
  }
  if (c->source != NULL && n < sizeof out)
    n += (size_t)snprintf(out + n, sizeof out - n, "\nObject created at %s", c->source);
  if (c->task != NULL && n < sizeof out) {
    uvr_task_describe(c->task, desc, sizeof desc);
    n += (size_t)snprintf(out + n, sizeof out - n, "\ntask: %s", desc);
  }
  if (c->error != NULL && n < sizeof out)
    snprintf(out + n, sizeof out - n, "\n%s: %s", uvrun_err_name(c->error->code), c->error->message);
  uvrun_log(UVRUN_LOG_ERROR, out);
}

void uvrun_loop_call_exception_handler(uvrun_loop_t *loop, const uvrun_exception_context_t *ctx) {
  if (loop == NULL || ctx == NULL) return;
  if (loop->eh == NULL) {
    uvrun_loop_default_exception_handler(loop, ctx);
  } else if (ctx->task != NULL) {
    /* R32: a custom handler runs in (a copy of) the task's context. */
    uvrun_context_t scope;
    uvr_scope_enter(&scope, uvr_task_ctx(ctx->task)->map);
    loop->eh(loop, ctx, loop->eh_ud);
    uvr_scope_exit(&scope);
  } else {
    loop->eh(loop, ctx, loop->eh_ud);
  }
}

void uvr_report(uvrun_loop_t *loop, const char *message, uvrun_error_t *err, uvrun_task_t *task, uvrun_future_t *fut,
                const char *source) {
  uvrun_exception_context_t c;
  memset(&c, 0, sizeof c);
  c.size = sizeof c;
  c.message = message;
  c.error = err;
  c.task = task;
  c.future = fut;
  c.source = loop->debug ? source : NULL;
  uvrun_loop_call_exception_handler(loop, &c);
}
