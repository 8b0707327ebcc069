
/*
 * Copyright (C) Hephaestus developers
 */


#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "blobstore_int.h"


static int blob_lookup(int *fd_out, blobstore_info_t *info,
    blobstore_t *bs, const char *repo, const char *digest,
    blobstore_error_t *err);


int
blobstore__blob_path(char *buf, const blobstore_t *bs,
    const blobstore__digest_t *d, blobstore_error_t *err)
{
    return blobstore__path(buf, bs, err, "/blobs/%s/%.2s/%s/data",
                           d->alg_name, d->hex, d->hex);
}


/*
 * BLOBSTORE_OK when the _layers link of d exists in repo, names d, and
 * the blob data exists; ENOTFOUND otherwise.
 */

int
blobstore__layer_linked(const blobstore_t *bs, const char *repo,
    const blobstore__digest_t *d, blobstore_error_t *err)
{
    int                  rc;
    char                 path[BLOBSTORE__PATH_MAX];
    blobstore__digest_t  link;

    rc = blobstore__path(path, bs, err, "/repositories/%s/_layers/%s/%s/link",
                         repo, d->alg_name, d->hex);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    rc = blobstore__read_link(&link, path, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    if (strcmp(link.full, d->full) != 0) {
        return blobstore__error(err, BLOBSTORE_ENOTFOUND, 0,
                                "blob unknown to repository");
    }

    rc = blobstore__blob_path(path, bs, d, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    if (!blobstore__exists(path)) {
        return blobstore__error(err, BLOBSTORE_ENOTFOUND, 0,
                                "blob data missing");
    }

    return BLOBSTORE_OK;
}


static int
blob_lookup(int *fd_out, blobstore_info_t *info, blobstore_t *bs,
    const char *repo, const char *digest, blobstore_error_t *err)
{
    int                  rc, fd;
    char                 path[BLOBSTORE__PATH_MAX];
    struct stat          st;
    blobstore__digest_t  d;

    blobstore__error_clear(err);

    rc = blobstore__check_repo(repo, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    rc = blobstore__digest_parse(&d, digest, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    rc = blobstore__layer_linked(bs, repo, &d, err);
    if (rc != BLOBSTORE_OK) {
        if (rc == BLOBSTORE_ENOTFOUND) {
            return blobstore__error(err, BLOBSTORE_ENOTFOUND, 0,
                                    "blob unknown to repository");
        }

        return rc;
    }

    rc = blobstore__blob_path(path, bs, &d, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    if (fd_out != NULL) {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT) {
                return blobstore__error(err, BLOBSTORE_ENOTFOUND, 0,
                                        "blob data missing");
            }

            return blobstore__sys_error(err, errno, "open(\"%s\") failed",
                                        path);
        }

        if (fstat(fd, &st) < 0) {
            rc = blobstore__sys_error(err, errno, "fstat(\"%s\") failed",
                                      path);
            close(fd);
            return rc;
        }

    } else {
        fd = -1;

        if (stat(path, &st) < 0) {
            if (errno == ENOENT) {
                return blobstore__error(err, BLOBSTORE_ENOTFOUND, 0,
                                        "blob data missing");
            }

            return blobstore__sys_error(err, errno, "stat(\"%s\") failed",
                                        path);
        }
    }

    if (info != NULL) {
        memset(info, 0, sizeof(blobstore_info_t));
        info->size = (int64_t) st.st_size;
        info->mtime = (int64_t) st.st_mtime;
        memcpy(info->digest, d.full, strlen(d.full) + 1);
    }

    if (fd_out != NULL) {
        *fd_out = fd;
    }

    return BLOBSTORE_OK;
}


BLOBSTORE_EXTERN(int)
blobstore_blob_open(int *fd_out, blobstore_info_t *info, blobstore_t *bs,
    const char *repo, const char *digest, blobstore_error_t *err)
{
    *fd_out = -1;

    return blob_lookup(fd_out, info, bs, repo, digest, err);
}


BLOBSTORE_EXTERN(int)
blobstore_blob_stat(blobstore_info_t *info, blobstore_t *bs,
    const char *repo, const char *digest, blobstore_error_t *err)
{
    return blob_lookup(NULL, info, bs, repo, digest, err);
}


BLOBSTORE_EXTERN(int)
blobstore_blob_delete(blobstore_t *bs, const char *repo,
    const char *digest, blobstore_error_t *err)
{
    int                  rc;
    char                 path[BLOBSTORE__PATH_MAX];
    blobstore__digest_t  d;

    blobstore__error_clear(err);

    rc = blobstore__check_repo(repo, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    rc = blobstore__digest_parse(&d, digest, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    rc = blobstore__path(path, bs, err, "/repositories/%s/_layers/%s/%s",
                         repo, d.alg_name, d.hex);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    rc = blobstore__remove_link_dir(path, err);
    if (rc == BLOBSTORE_ENOTFOUND) {
        return blobstore__error(err, BLOBSTORE_ENOTFOUND, 0,
                                "blob unknown to repository");
    }

    return rc;
}


BLOBSTORE_EXTERN(int)
blobstore_blob_mount(blobstore_t *bs, const char *repo, const char *digest,
    const char *from, blobstore_error_t *err)
{
    int                  rc;
    char                 path[BLOBSTORE__PATH_MAX];
    blobstore__digest_t  d;

    blobstore__error_clear(err);

    rc = blobstore__check_repo(repo, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    rc = blobstore__check_repo(from, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    rc = blobstore__digest_parse(&d, digest, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    rc = blobstore__layer_linked(bs, from, &d, err);
    if (rc != BLOBSTORE_OK) {
        if (rc == BLOBSTORE_ENOTFOUND) {
            return blobstore__error(err, BLOBSTORE_ENOTFOUND, 0,
                                    "blob unknown to source repository");
        }

        return rc;
    }

    if (blobstore__layer_linked(bs, repo, &d, NULL) == BLOBSTORE_OK) {
        return BLOBSTORE_OK;
    }

    rc = blobstore__path(path, bs, err, "/repositories/%s/_layers/%s/%s",
                         repo, d.alg_name, d.hex);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    return blobstore__write_link(bs, path, &d, err);
}
