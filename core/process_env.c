/* process_env.c -- the environment a child gets (P1): the parent's, a
 * replacement, or the parent's with entries added or replaced by name. */
#include <string.h>

#include "process.h"

extern char **environ;

/* The length of the name in "NAME=value" (the whole string without '='). */
static size_t env_name_len(const char *entry) {
  const char *eq = strchr(entry, '=');
  return eq != NULL ? (size_t)(eq - entry) : strlen(entry);
}

static int env_overridden(const char *entry, const char *const *env) {
  size_t n = env_name_len(entry);
  for (; *env != NULL; env++)
    if (env_name_len(*env) == n && strncmp(*env, entry, n) == 0) return 1;
  return 0;
}

char **uvr_env_build(const char *const *env, int replace, int *failed) {
  size_t n = 0, i, k = 0;
  char **out;
  *failed = 0;
  if (env == NULL) return NULL; /* libuv passes the parent's on */
  for (i = 0; env[i] != NULL; i++) {
    if (strchr(env[i], '=') == NULL || env[i][0] == '=') {
      *failed = uvr_fail(UVRUN_E_INVAL, "environment entry '%s' is not NAME=value", env[i]);
      return NULL;
    }
    n++;
  }
  if (!replace)
    for (i = 0; environ != NULL && environ[i] != NULL; i++) n++;
  if ((out = uvr_calloc(n + 1, sizeof *out)) == NULL) {
    *failed = uvr_fail(UVRUN_E_NOMEM, "out of memory");
    return NULL;
  }
  /* Pointers into the caller's strings and environ: both outlive the spawn. */
  if (!replace)
    for (i = 0; environ != NULL && environ[i] != NULL; i++)
      if (!env_overridden(environ[i], env)) out[k++] = environ[i];
  for (i = 0; env[i] != NULL; i++) out[k++] = (char *)(uintptr_t)env[i];
  out[k] = NULL;
  return out;
}

void uvr_env_free(char **env) { uvr_free(env); }
