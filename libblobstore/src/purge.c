
/*
 * Copyright (C) Hephaestus developers
 */


/*
 * Purging upload sessions left idle, as registry:2's "uploadpurging"
 * does: every repositories/<name>/_uploads/<uuid> folder whose files were
 * last written before a given time goes.
 *
 * A session is taken with the lock that appends, commits and cancels
 * hold (see session_open() in upload.c), without waiting: a session in
 * use is left for the next purge.  Under the lock the folder is renamed
 * to a hidden name (.trash-<hex>, which no upload id can name) and only
 * then emptied, so a session is either whole or gone; a request that
 * opened the folder before the rename finds it without its state once it
 * gets the lock, and answers that the upload is unknown.  A hidden folder
 * left by a purge cut short is removed by a later one.
 *
 * The walk reads the folders of repositories/ (not the _manifests,
 * _layers or _referrers of a repository) and each _uploads folder, keeps
 * at most three folders open, follows no symbolic link and goes no
 * deeper than a repository name can be long.
 */


#include <sys/file.h>
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blobstore_int.h"


#define PURGE_TRASH         ".trash-"
#define PURGE_TRASH_LEN     (sizeof(PURGE_TRASH) - 1)


typedef struct {
    blobstore_t        *bs;
    int64_t             older_than;
    int                 root;        /* repositories/ */
    int                 rc;          /* the first failure */
    size_t              removed;
    blobstore_error_t  *err;
    char                rel[BLOBSTORE_NAME_MAX + 1];
} purge_ctx;


/* names of a folder, each ended by a NUL */

typedef struct {
    char    *buf;
    size_t   used;
    size_t   size;
    size_t   count;
} purge_names;


static void purge_folder(purge_ctx *ctx, size_t len, int depth);
static void purge_uploads(purge_ctx *ctx, size_t len);
static void purge_session(purge_ctx *ctx, int up, const char *name,
    int trash);
static int64_t session_last(int fd);
static int is_dir(int at, struct dirent *de);
static int names_add(purge_names *names, const char *name, size_t len);
static void purge_failed(purge_ctx *ctx, int code, int sys_errno,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));


BLOBSTORE_EXTERN(int)
blobstore_upload_purge(size_t *removed_out, blobstore_t *bs,
    int64_t older_than, blobstore_error_t *err)
{
    int        rc;
    char       path[BLOBSTORE__PATH_MAX];
    purge_ctx  ctx;

    blobstore__error_clear(err);

    if (removed_out != NULL) {
        *removed_out = 0;
    }

    rc = blobstore__path(path, bs, err, "/repositories");
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    memset(&ctx, 0, sizeof(purge_ctx));
    ctx.bs = bs;
    ctx.older_than = older_than;
    ctx.err = err;

    ctx.root = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (ctx.root < 0) {
        if (errno == ENOENT) {
            return BLOBSTORE_OK;
        }

        return blobstore__sys_error(err, errno, "open(\"%s\") failed", path);
    }

    purge_folder(&ctx, 0, 0);
    close(ctx.root);

    if (removed_out != NULL) {
        *removed_out = ctx.removed;
    }

    return ctx.rc;
}


/*
 * The folder repositories/rel[0..len): its sessions when it is a
 * repository's, then the folders nested in it that may be repositories.
 * Their names are read first and the folder closed, so that the walk
 * holds few folders open however deep it goes.
 */

static void
purge_folder(purge_ctx *ctx, size_t len, int depth)
{
    int             fd, uploads;
    DIR            *dir;
    char           *p;
    size_t          i, nlen, prefix;
    purge_names     kids;
    struct dirent  *de;

    ctx->rel[len] = '\0';

    fd = openat(ctx->root, (len == 0) ? "." : ctx->rel,
                O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT && errno != ENOTDIR) {
            purge_failed(ctx, 0, errno, "open(\"repositories/%s\") failed",
                         ctx->rel);
        }

        return;
    }

    dir = fdopendir(fd);
    if (dir == NULL) {
        purge_failed(ctx, 0, errno, "fdopendir(\"repositories/%s\") failed",
                     ctx->rel);
        close(fd);
        return;
    }

    memset(&kids, 0, sizeof(purge_names));
    uploads = 0;
    prefix = (len == 0) ? 0 : len + 1;

    for ( ;; ) {
        errno = 0;
        de = readdir(dir);
        if (de == NULL) {
            if (errno != 0) {
                purge_failed(ctx, 0, errno,
                             "readdir(\"repositories/%s\") failed",
                             ctx->rel);
            }

            break;
        }

        /* _manifests, _layers and _referrers hold no sessions */

        if (de->d_name[0] == '_') {
            if (len > 0 && strcmp(de->d_name, "_uploads") == 0
                && is_dir(dirfd(dir), de))
            {
                uploads = 1;
            }

            continue;
        }

        /* a component begins with [a-z0-9], so "." and ".." go here */

        nlen = strlen(de->d_name);
        if (prefix + nlen > BLOBSTORE_NAME_MAX
            || depth + 1 >= BLOBSTORE__TREE_DEPTH
            || blobstore_name_valid(de->d_name) != BLOBSTORE_OK
            || !is_dir(dirfd(dir), de))
        {
            continue;
        }

        if (names_add(&kids, de->d_name, nlen) != 0) {
            purge_failed(ctx, BLOBSTORE_ENOMEM, ENOMEM, "out of memory");
            break;
        }
    }

    closedir(dir);

    if (uploads) {
        purge_uploads(ctx, len);
    }

    p = kids.buf;

    for (i = 0; i < kids.count; i++) {
        nlen = strlen(p);

        if (len > 0) {
            ctx->rel[len] = '/';
        }

        memcpy(ctx->rel + prefix, p, nlen + 1);
        purge_folder(ctx, prefix + nlen, depth + 1);

        p += nlen + 1;
    }

    ctx->rel[len] = '\0';
    free(kids.buf);
}


/* The sessions of the repository rel[0..len), and what purges left. */

static void
purge_uploads(purge_ctx *ctx, size_t len)
{
    int             fd;
    DIR            *dir;
    char           *p, path[BLOBSTORE_NAME_MAX + sizeof("/_uploads")];
    size_t          i, nlen;
    purge_names     names;
    struct dirent  *de;

    memcpy(path, ctx->rel, len);
    memcpy(path + len, "/_uploads", sizeof("/_uploads"));

    fd = openat(ctx->root, path,
                O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT && errno != ENOTDIR) {
            purge_failed(ctx, 0, errno, "open(\"repositories/%s\") failed",
                         path);
        }

        return;
    }

    /* the names are read first: the folder changes under the purge */

    dir = fdopendir(dup(fd));
    if (dir == NULL) {
        purge_failed(ctx, 0, errno, "fdopendir(\"repositories/%s\") failed",
                     path);
        close(fd);
        return;
    }

    memset(&names, 0, sizeof(purge_names));

    for ( ;; ) {
        errno = 0;
        de = readdir(dir);
        if (de == NULL) {
            if (errno != 0) {
                purge_failed(ctx, 0, errno,
                             "readdir(\"repositories/%s\") failed", path);
            }

            break;
        }

        if (!blobstore__uuid_valid(de->d_name)
            && strncmp(de->d_name, PURGE_TRASH, PURGE_TRASH_LEN) != 0)
        {
            continue;
        }

        if (names_add(&names, de->d_name, strlen(de->d_name)) != 0) {
            purge_failed(ctx, BLOBSTORE_ENOMEM, ENOMEM, "out of memory");
            break;
        }
    }

    closedir(dir);

    p = names.buf;

    for (i = 0; i < names.count; i++) {
        nlen = strlen(p);
        purge_session(ctx, fd, p, p[0] == '.');
        p += nlen + 1;
    }

    free(names.buf);
    close(fd);
}


/*
 * Removes the session up/name if it is idle since before older_than and
 * nobody holds it; or, when trash is set, the hidden folder up/name that
 * a purge cut short left, once nobody holds it.
 */

static void
purge_session(purge_ctx *ctx, int up, const char *name, int trash)
{
    int          fd;
    char         tmp[PURGE_TRASH_LEN + 17], path[BLOBSTORE__PATH_MAX];
    struct stat  st, now;

    fd = openat(up, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT && errno != ENOTDIR) {
            purge_failed(ctx, 0, errno,
                         "open(\"repositories/%s/_uploads/%s\") failed",
                         ctx->rel, name);
        }

        return;
    }

    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno != EWOULDBLOCK) {
            purge_failed(ctx, 0, errno,
                         "flock(\"repositories/%s/_uploads/%s\") failed",
                         ctx->rel, name);
        }

        /* in use: an append, a commit, a cancel or another purge */

        close(fd);
        return;
    }

    /*
     * Under the lock: the session may have been written to, or
     * committed and removed, since it was opened.
     */

    if ((!trash && session_last(fd) >= ctx->older_than)
        || fstat(fd, &st) < 0
        || fstatat(up, name, &now, AT_SYMLINK_NOFOLLOW) < 0
        || st.st_dev != now.st_dev || st.st_ino != now.st_ino)
    {
        close(fd);
        return;
    }

    if (!trash) {
        memcpy(tmp, PURGE_TRASH, PURGE_TRASH_LEN);

        if (blobstore__random_hex(tmp + PURGE_TRASH_LEN, 8, NULL)
            != BLOBSTORE_OK)
        {
            purge_failed(ctx, 0, errno, "getrandom() failed");
            close(fd);
            return;
        }

        if (renameat(up, name, up, tmp) < 0) {
            if (errno != ENOENT) {
                purge_failed(ctx, 0, errno,
                             "rename(\"repositories/%s/_uploads/%s\") "
                             "failed", ctx->rel, name);
            }

            close(fd);
            return;
        }

        /* the session is gone whatever happens to its files now */

        ctx->removed++;
        name = tmp;

        if (ctx->bs->fsync && fsync(up) < 0 && errno != EINVAL) {
            purge_failed(ctx, 0, errno,
                         "fsync(\"repositories/%s/_uploads\") failed",
                         ctx->rel);
        }
    }

    if (blobstore__path(path, ctx->bs, NULL, "/repositories/%s/_uploads/%s",
                        ctx->rel, name)
        != BLOBSTORE_OK)
    {
        purge_failed(ctx, BLOBSTORE_EINVAL, 0, "path too long");

    } else if (blobstore__rm_rf(path, NULL) != BLOBSTORE_OK) {
        purge_failed(ctx, 0, errno, "removing \"%s\" failed", path);
    }

    close(fd);
}


/*
 * When a session was last written to: the newest modification time of
 * its files (registry:2's have no heph-state), or of the folder when it
 * has none of them, as a session whose start failed.
 */

static int64_t
session_last(int fd)
{
    size_t              i;
    int64_t             last;
    struct stat         st;
    static const char  *files[] = { "data", "startedat",
                                    BLOBSTORE__STATE_NAME };

    last = -1;

    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        if (fstatat(fd, files[i], &st, AT_SYMLINK_NOFOLLOW) == 0
            && (int64_t) st.st_mtime > last)
        {
            last = (int64_t) st.st_mtime;
        }
    }

    if (last == -1) {
        if (fstat(fd, &st) < 0) {
            return INT64_MAX;
        }

        last = (int64_t) st.st_mtime;
    }

    return last;
}


static int
is_dir(int at, struct dirent *de)
{
    struct stat  st;

    if (de->d_type != DT_UNKNOWN) {
        return de->d_type == DT_DIR;
    }

    if (fstatat(at, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        return 0;
    }

    return S_ISDIR(st.st_mode);
}


static int
names_add(purge_names *names, const char *name, size_t len)
{
    char    *p;
    size_t   size;

    if (names->size - names->used <= len) {
        size = (names->size == 0) ? 1024 : names->size * 2;
        while (size - names->used <= len) {
            size *= 2;
        }

        p = realloc(names->buf, size);
        if (p == NULL) {
            return -1;
        }

        names->buf = p;
        names->size = size;
    }

    memcpy(names->buf + names->used, name, len + 1);
    names->used += len + 1;
    names->count++;

    return 0;
}


/*
 * Notes a failure; the walk goes on past it.  The first one is what the
 * purge returns, with its message in the caller's error.  code 0 takes
 * the code from sys_errno.
 */

static void
purge_failed(purge_ctx *ctx, int code, int sys_errno, const char *fmt, ...)
{
    char     text[sizeof(((blobstore_error_t *) 0)->message)];
    va_list  ap;

    if (ctx->rc != BLOBSTORE_OK) {
        return;
    }

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);

    ctx->rc = (code == 0)
              ? blobstore__sys_error(ctx->err, sys_errno, "%s", text)
              : blobstore__error(ctx->err, code, sys_errno, "%s", text);
}
