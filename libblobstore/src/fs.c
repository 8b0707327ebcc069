
/*
 * Copyright (C) Hephaestus developers
 */


#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "blobstore_int.h"


static int mkdir_one(const blobstore_t *bs, char *path, size_t len,
    blobstore_error_t *err);
static int rm_at(int at, const char *name, int depth);


int
blobstore__fsync_dir(const char *path, blobstore_error_t *err)
{
    int  fd;

    fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return blobstore__sys_error(err, errno, "open(\"%s\") failed",
                                    path);
    }

    if (fsync(fd) < 0 && errno != EINVAL) {
        close(fd);
        return blobstore__sys_error(err, errno, "fsync(\"%s\") failed",
                                    path);
    }

    close(fd);
    return BLOBSTORE_OK;
}


/*
 * Creates path[0..len); when fsync is on, a new folder is made durable by
 * flushing its parent.
 */

static int
mkdir_one(const blobstore_t *bs, char *path, size_t len,
    blobstore_error_t *err)
{
    int   rc;
    char  save, *slash;

    save = path[len];
    path[len] = '\0';

    if (mkdir(path, 0755) < 0) {
        rc = (errno == EEXIST) ? BLOBSTORE_OK
             : blobstore__sys_error(err, errno, "mkdir(\"%s\") failed",
                                    path);
        path[len] = save;
        return rc;
    }

    rc = BLOBSTORE_OK;

    if (bs->fsync) {
        slash = strrchr(path, '/');
        if (slash != NULL && slash != path) {
            *slash = '\0';
            rc = blobstore__fsync_dir(path, err);
            *slash = '/';
        }
    }

    path[len] = save;
    return rc;
}


int
blobstore__mkdir_p(const blobstore_t *bs, const char *path,
    blobstore_error_t *err)
{
    int          rc;
    char         buf[BLOBSTORE__PATH_MAX];
    size_t       len, i;
    struct stat  st;

    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        return BLOBSTORE_OK;
    }

    len = strlen(path);
    if (len >= sizeof(buf)) {
        return blobstore__error(err, BLOBSTORE_EINVAL, 0, "path too long");
    }

    memcpy(buf, path, len + 1);

    for (i = 1; i < len; i++) {
        if (buf[i] != '/') {
            continue;
        }

        rc = mkdir_one(bs, buf, i, err);
        if (rc != BLOBSTORE_OK) {
            return rc;
        }
    }

    return mkdir_one(bs, buf, len, err);
}


/*
 * Writes all of buf at off; -1 with errno set on failure, ENOSPC when
 * nothing more could be written.
 */

int
blobstore__write_at(int fd, const void *buf, size_t len, off_t off)
{
    ssize_t               n;
    const unsigned char  *p;

    p = buf;

    while (len > 0) {
        n = pwrite(fd, p, len, off);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }

            return -1;
        }

        if (n == 0) {
            errno = ENOSPC;
            return -1;
        }

        p += n;
        off += n;
        len -= (size_t) n;
    }

    return 0;
}


int
blobstore__write_atomic(const blobstore_t *bs, const char *dir,
    const char *name, const void *data, size_t len, blobstore_error_t *err)
{
    return blobstore__write_file(bs, dir, name, data, len, bs->fsync, err);
}


/*
 * Replaces dir/name by rename; sync says whether the file and the folder
 * are flushed before it returns.
 */

int
blobstore__write_file(const blobstore_t *bs, const char *dir,
    const char *name, const void *data, size_t len, int sync,
    blobstore_error_t *err)
{
    int   fd, rc, n;
    char  tmp[BLOBSTORE__PATH_MAX], dst[BLOBSTORE__PATH_MAX], rnd[17];

    rc = blobstore__mkdir_p(bs, dir, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    rc = blobstore__random_hex(rnd, 8, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    n = snprintf(tmp, sizeof(tmp), "%s/.%s.tmp-%s", dir, name, rnd);
    if (n < 0 || (size_t) n >= sizeof(tmp)) {
        return blobstore__error(err, BLOBSTORE_EINVAL, 0, "path too long");
    }

    n = snprintf(dst, sizeof(dst), "%s/%s", dir, name);
    if (n < 0 || (size_t) n >= sizeof(dst)) {
        return blobstore__error(err, BLOBSTORE_EINVAL, 0, "path too long");
    }

    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        return blobstore__sys_error(err, errno, "open(\"%s\") failed", tmp);
    }

    if (blobstore__write_at(fd, data, len, 0) < 0) {
        rc = blobstore__sys_error(err, errno, "write(\"%s\") failed", tmp);
        close(fd);
        goto failed;
    }

    if (sync && fsync(fd) < 0) {
        rc = blobstore__sys_error(err, errno, "fsync(\"%s\") failed", tmp);
        close(fd);
        goto failed;
    }

    if (close(fd) < 0) {
        rc = blobstore__sys_error(err, errno, "close(\"%s\") failed", tmp);
        goto failed;
    }

    if (rename(tmp, dst) < 0) {
        rc = blobstore__sys_error(err, errno, "rename(\"%s\") failed", tmp);
        goto failed;
    }

    if (sync) {
        return blobstore__fsync_dir(dir, err);
    }

    return BLOBSTORE_OK;

failed:

    unlink(tmp);
    return rc;
}


int
blobstore__read_small(char *buf, size_t size, size_t *len_out,
    const char *path, blobstore_error_t *err)
{
    int      fd;
    size_t   len, want;
    ssize_t  n;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            return blobstore__error(err, BLOBSTORE_ENOTFOUND, 0,
                                    "not found");
        }

        return blobstore__sys_error(err, errno, "open(\"%s\") failed",
                                    path);
    }

    len = 0;

    for ( ;; ) {
        if (len == size - 1) {
            close(fd);
            return blobstore__error(err, BLOBSTORE_EIO, 0,
                                    "file \"%s\" too large", path);
        }

        want = size - 1 - len;
        n = read(fd, buf + len, want);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }

            close(fd);
            return blobstore__sys_error(err, errno, "read(\"%s\") failed",
                                        path);
        }

        if (n == 0) {
            break;
        }

        len += (size_t) n;

        /*
         * a regular file reads short only at its end: a link, written
         * whole and renamed into place, needs no second read to say so
         */

        if ((size_t) n < want) {
            break;
        }
    }

    close(fd);

    buf[len] = '\0';
    if (len_out != NULL) {
        *len_out = len;
    }

    return BLOBSTORE_OK;
}


/*
 * Opens path for reading, or only stats it when fd_out is NULL, into
 * *st; ENOTFOUND says missing when there is no such file.
 */

int
blobstore__open_stat(int *fd_out, struct stat *st, const char *path,
    const char *missing, blobstore_error_t *err)
{
    int          fd, rc;
    const char  *op;

    if (fd_out != NULL) {
        op = "open";
        fd = open(path, O_RDONLY | O_CLOEXEC);
        rc = (fd < 0) ? -1 : 0;

    } else {
        op = "stat";
        fd = -1;
        rc = stat(path, st);
    }

    if (rc < 0) {
        if (errno == ENOENT) {
            return blobstore__error(err, BLOBSTORE_ENOTFOUND, 0, "%s",
                                    missing);
        }

        return blobstore__sys_error(err, errno, "%s(\"%s\") failed", op,
                                    path);
    }

    if (fd_out == NULL) {
        return BLOBSTORE_OK;
    }

    if (fstat(fd, st) < 0) {
        rc = blobstore__sys_error(err, errno, "fstat(\"%s\") failed", path);
        close(fd);
        return rc;
    }

    *fd_out = fd;
    return BLOBSTORE_OK;
}


int
blobstore__read_link(blobstore__digest_t *out, const char *path,
    blobstore_error_t *err)
{
    int     rc;
    char    buf[BLOBSTORE__LINK_MAX];
    size_t  len;

    rc = blobstore__read_small(buf, sizeof(buf), &len, path, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    if (len > 0 && buf[len - 1] == '\n') {
        buf[--len] = '\0';
    }

    if (blobstore__digest_parse(out, buf, NULL) != BLOBSTORE_OK) {
        return blobstore__error(err, BLOBSTORE_EIO, 0,
                                "corrupt link file \"%s\"", path);
    }

    return BLOBSTORE_OK;
}


int
blobstore__write_link(const blobstore_t *bs, const char *dir,
    const blobstore__digest_t *d, blobstore_error_t *err)
{
    return blobstore__write_atomic(bs, dir, "link", d->full,
                                   strlen(d->full), err);
}


static int
rm_at(int at, const char *name, int depth)
{
    int             fd, rc, saved;
    DIR            *dir;
    struct dirent  *de;

    if (unlinkat(at, name, 0) == 0 || errno == ENOENT) {
        return 0;
    }

    if (errno != EISDIR && errno != EPERM) {
        return -1;
    }

    if (depth > BLOBSTORE__TREE_DEPTH) {
        errno = ELOOP;
        return -1;
    }

    fd = openat(at, name,
                O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return (errno == ENOENT) ? 0 : -1;
    }

    dir = fdopendir(fd);
    if (dir == NULL) {
        saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }

    rc = 0;

    for ( ;; ) {
        errno = 0;
        de = readdir(dir);
        if (de == NULL) {
            if (errno != 0) {
                rc = -1;
            }

            break;
        }

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }

        if (rm_at(dirfd(dir), de->d_name, depth + 1) < 0) {
            rc = -1;
            break;
        }
    }

    saved = errno;
    closedir(dir);
    errno = saved;

    if (rc < 0) {
        return -1;
    }

    if (unlinkat(at, name, AT_REMOVEDIR) < 0 && errno != ENOENT) {
        return -1;
    }

    return 0;
}


/*
 * Opens the folder path; *out is NULL, with BLOBSTORE_OK, when there is
 * no such folder.
 */

int
blobstore__open_dir(DIR **out, const char *path, blobstore_error_t *err)
{
    *out = opendir(path);

    if (*out == NULL && errno != ENOENT && errno != ENOTDIR) {
        return blobstore__sys_error(err, errno, "opendir(\"%s\") failed",
                                    path);
    }

    return BLOBSTORE_OK;
}


/*
 * The next entry of dir, opened from path, whose name does not begin
 * with '.': NULL in *out at the end.
 */

int
blobstore__read_dir(struct dirent **out, DIR *dir, const char *path,
    blobstore_error_t *err)
{
    for ( ;; ) {
        errno = 0;
        *out = readdir(dir);

        if (*out == NULL) {
            if (errno != 0) {
                return blobstore__sys_error(err, errno,
                                            "readdir(\"%s\") failed", path);
            }

            return BLOBSTORE_OK;
        }

        if ((*out)->d_name[0] != '.') {
            return BLOBSTORE_OK;
        }
    }
}


int
blobstore__rm_rf(const char *path, blobstore_error_t *err)
{
    if (rm_at(AT_FDCWD, path, 0) < 0) {
        return blobstore__sys_error(err, errno, "removing \"%s\" failed",
                                    path);
    }

    return BLOBSTORE_OK;
}


/*
 * Removes the link of a folder such as _layers/<alg>/<hex>: the link goes
 * first, in one step, then the folder.
 */

int
blobstore__remove_link_dir(const char *dir, blobstore_error_t *err)
{
    int   n;
    char  path[BLOBSTORE__PATH_MAX];

    n = snprintf(path, sizeof(path), "%s/link", dir);
    if (n < 0 || (size_t) n >= sizeof(path)) {
        return blobstore__error(err, BLOBSTORE_EINVAL, 0, "path too long");
    }

    if (unlink(path) < 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            return blobstore__error(err, BLOBSTORE_ENOTFOUND, 0,
                                    "not found");
        }

        return blobstore__sys_error(err, errno, "unlink(\"%s\") failed",
                                    path);
    }

    return blobstore__rm_rf(dir, err);
}


/*
 * Moves path into trash_dir under a random hidden name, so it vanishes
 * in one step, then removes it.
 */

int
blobstore__remove_tree(const blobstore_t *bs, const char *path,
    const char *trash_dir, blobstore_error_t *err)
{
    int   rc, n;
    char  tmp[BLOBSTORE__PATH_MAX], rnd[17];

    rc = blobstore__random_hex(rnd, 8, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    n = snprintf(tmp, sizeof(tmp), "%s/.trash-%s", trash_dir, rnd);
    if (n < 0 || (size_t) n >= sizeof(tmp)) {
        return blobstore__error(err, BLOBSTORE_EINVAL, 0, "path too long");
    }

    if (rename(path, tmp) < 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            return blobstore__error(err, BLOBSTORE_ENOTFOUND, 0,
                                    "not found");
        }

        return blobstore__sys_error(err, errno, "rename(\"%s\") failed",
                                    path);
    }

    if (bs->fsync) {
        rc = blobstore__fsync_dir(trash_dir, err);
        if (rc != BLOBSTORE_OK) {
            return rc;
        }
    }

    return blobstore__rm_rf(tmp, err);
}


int
blobstore__random_hex(char *out, size_t nbytes, blobstore_error_t *err)
{
    size_t             i, got;
    ssize_t            n;
    unsigned char      buf[32];
    static const char  hex[] = "0123456789abcdef";

    if (nbytes > sizeof(buf)) {
        return blobstore__error(err, BLOBSTORE_EINVAL, 0, "too many bytes");
    }

    got = 0;

    while (got < nbytes) {
        n = getrandom(buf + got, nbytes - got, 0);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }

            return blobstore__sys_error(err, errno, "getrandom() failed");
        }

        got += (size_t) n;
    }

    for (i = 0; i < nbytes; i++) {
        out[2 * i] = hex[buf[i] >> 4];
        out[2 * i + 1] = hex[buf[i] & 0x0f];
    }

    out[2 * nbytes] = '\0';
    return BLOBSTORE_OK;
}


int
blobstore__exists(const char *path)
{
    return access(path, F_OK) == 0;
}
