/* log.c -- the log sink every warning and report goes through. */
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

static void stderr_sink(int level, const char *message, void *ud) {
  (void)level;
  (void)ud;
  fprintf(stderr, "uvrun: %s\n", message);
}

/* Replaced rarely, read from any thread: a mutex keeps fn and ud paired. */
static uv_once_t sink_once = UV_ONCE_INIT;
static uv_mutex_t sink_mu;
static uvrun_log_fn sink_fn = stderr_sink;
static void *sink_ud;

static void sink_init(void) {
  if (uv_mutex_init(&sink_mu) != 0) abort();
}

void uvrun_set_log_sink(uvrun_log_fn fn, void *ud) {
  uv_once(&sink_once, sink_init);
  uv_mutex_lock(&sink_mu);
  sink_fn = fn != NULL ? fn : stderr_sink;
  sink_ud = fn != NULL ? ud : NULL;
  uv_mutex_unlock(&sink_mu);
}

void uvrun_log(int level, const char *message) {
  uvrun_log_fn fn;
  void *ud;
  uv_once(&sink_once, sink_init);
  uv_mutex_lock(&sink_mu);
  fn = sink_fn;
  ud = sink_ud;
  uv_mutex_unlock(&sink_mu);
  fn(level, message != NULL ? message : "", ud);
}

void uvr_logf(int level, const char *fmt, ...) {
  char buf[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  uvrun_log(level, buf);
}
