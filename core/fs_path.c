/* fs_path.c -- operations on paths (F2): stat, rename, unlink, mkdir and
 * scandir, each one executor job. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs.h"

static int run_stat(uvr_fs_req *req) {
  struct stat st;
  if (stat(req->path, &st) < 0) return uvr_fs_fail(req, -errno);
  uvr_fs_stat_fill(&req->st, &st);
  req->result = &req->st;
  return 0;
}

static int run_rename(uvr_fs_req *req) { return rename(req->path, req->path2) < 0 ? uvr_fs_fail(req, -errno) : 0; }

static int run_unlink(uvr_fs_req *req) { return unlink(req->path) < 0 ? uvr_fs_fail(req, -errno) : 0; }

static int run_mkdir(uvr_fs_req *req) { return mkdir(req->path, (mode_t)req->mode) < 0 ? uvr_fs_fail(req, -errno) : 0; }

/* ---- scandir ---- */

static int32_t dirent_type(unsigned char d_type) {
  switch (d_type) {
  case DT_REG: return UVRUN_DIRENT_FILE;
  case DT_DIR: return UVRUN_DIRENT_DIR;
  case DT_LNK: return UVRUN_DIRENT_LINK;
  case DT_UNKNOWN: return UVRUN_DIRENT_UNKNOWN;
  default: return UVRUN_DIRENT_OTHER;
  }
}

static int dirent_not_dots(const struct dirent *e) {
  return strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
}

static int dirent_by_name(const struct dirent **a, const struct dirent **b) {
  return strcmp((*a)->d_name, (*b)->d_name);
}

/* The entries, then their names, in one block (freed with the request). */
static int run_scandir(uvr_fs_req *req) {
  struct dirent **found;
  size_t names = 0, i;
  char *at;
  int n = scandir(req->path, &found, dirent_not_dots, dirent_by_name), rc = 0;
  if (n < 0) return uvr_fs_fail(req, -errno);
  for (i = 0; i < (size_t)n; i++) names += strlen(found[i]->d_name) + 1;
  if (n > 0 && (req->entries = uvr_malloc((size_t)n * sizeof *req->entries + names)) == NULL)
    rc = uvr_fail(UVRUN_E_NOMEM, "out of memory");
  at = req->entries != NULL ? (char *)(req->entries + n) : NULL;
  for (i = 0; i < (size_t)n; i++) {
    if (rc == 0) {
      size_t len = strlen(found[i]->d_name) + 1;
      memcpy(at, found[i]->d_name, len);
      req->entries[i].name = at;
      req->entries[i].type = dirent_type(found[i]->d_type);
      req->entries[i].next = i + 1 < (size_t)n ? &req->entries[i + 1] : NULL;
      at += len;
    }
    free(found[i]); /* scandir's, from the C library's allocator */
  }
  free(found);
  req->result = req->entries;
  return rc;
}

/* ---- the calls ---- */

static uvrun_future_t *path_op(uvrun_loop_t *loop, const char *what, int (*run)(uvr_fs_req *), const char *path,
                               const char *path2, int mode) {
  uvr_fs_req *req;
  if (uvr_io_check_loop(loop, what) < 0) return NULL;
  if (path == NULL) {
    uvr_fs_bad_arg(what, "path must not be NULL");
    return NULL;
  }
  if ((req = uvr_fs_req_new(what, run, path)) == NULL) return NULL;
  if (path2 != NULL && (req->path2 = uvr_strdup(path2)) == NULL) {
    uvr_fs_req_free(req);
    uvr_fail(UVRUN_E_NOMEM, "out of memory");
    return NULL;
  }
  req->mode = mode;
  return uvr_fs_submit(loop, req, NULL);
}

uvrun_future_t *uvrun_fs_stat(uvrun_loop_t *loop, const char *path) {
  return path_op(loop, "stat", run_stat, path, NULL, 0);
}

uvrun_future_t *uvrun_fs_rename(uvrun_loop_t *loop, const char *from, const char *to) {
  if (to == NULL && from != NULL) {
    uvr_fs_bad_arg("rename", "the new path must not be NULL");
    return NULL;
  }
  return path_op(loop, "rename", run_rename, from, to, 0);
}

uvrun_future_t *uvrun_fs_unlink(uvrun_loop_t *loop, const char *path) {
  return path_op(loop, "unlink", run_unlink, path, NULL, 0);
}

uvrun_future_t *uvrun_fs_mkdir(uvrun_loop_t *loop, const char *path, int mode) {
  return path_op(loop, "mkdir", run_mkdir, path, NULL, mode != 0 ? mode : 0777);
}

uvrun_future_t *uvrun_fs_scandir(uvrun_loop_t *loop, const char *path) {
  return path_op(loop, "scandir", run_scandir, path, NULL, 0);
}
