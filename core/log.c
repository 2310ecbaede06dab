/* log.c -- the log sink every warning and report goes through.
 *
 * The default sink writes to stderr what is at or above a threshold
 * (WARNING unless UVRUN_LOG_LEVEL or uvrun_set_log_level() says otherwise),
 * as Python's last-resort handler hides asyncio's DEBUG and INFO lines. A
 * host's own sink sees every level and filters as it likes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

static atomic_int threshold = UVRUN_LOG_WARNING;

static void stderr_sink(int level, const char *message, void *ud) {
  (void)ud;
  if (level < atomic_load_explicit(&threshold, memory_order_relaxed)) return;
  fprintf(stderr, "uvrun: %s\n", message);
}

/* A level's name (DEBUG, INFO, WARNING, ERROR, any case) or number; -1 if
 * it is neither. */
static int parse_level(const char *s) {
  static const struct {
    const char *name;
    int level;
  } names[] = {
      {"DEBUG", UVRUN_LOG_DEBUG}, {"INFO", UVRUN_LOG_INFO}, {"WARNING", UVRUN_LOG_WARNING}, {"ERROR", UVRUN_LOG_ERROR}};
  char *end;
  long n;
  size_t i;
  for (i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcasecmp(s, names[i].name) == 0) return names[i].level;
  n = strtol(s, &end, 10);
  return *s != '\0' && *end == '\0' && n >= 0 && n <= 100 ? (int)n : -1;
}

/* Replaced rarely, read from any thread: a mutex keeps fn and ud paired. */
static uv_once_t sink_once = UV_ONCE_INIT;
static uv_mutex_t sink_mu;
static uvrun_log_fn sink_fn = stderr_sink;
static void *sink_ud;

static void sink_init(void) {
  const char *env = getenv("UVRUN_LOG_LEVEL");
  int level;
  if (uv_mutex_init(&sink_mu) != 0) abort();
  if (env == NULL || *env == '\0') return;
  level = parse_level(env);
  if (level >= 0) {
    atomic_store(&threshold, level);
  } else {
    fprintf(stderr, "uvrun: UVRUN_LOG_LEVEL=%s is not DEBUG, INFO, WARNING, ERROR or a number; using WARNING\n", env);
  }
}

int uvrun_set_log_level(int level) {
  uv_once(&sink_once, sink_init);
  if (level < 0 || level > 100) return uvr_fail(UVRUN_E_INVAL, "log level must be between 0 and 100");
  return atomic_exchange(&threshold, level);
}

int uvrun_get_log_level(void) {
  uv_once(&sink_once, sink_init);
  return atomic_load(&threshold);
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
