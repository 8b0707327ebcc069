
/*
 * Copyright (C) Hephaestus developers
 */


#include <sys/stat.h>
#include <string.h>

#include "blobstore_int.h"


static int link_present(const blobstore_t *bs, const char *repo,
    const blobstore__digest_t *d, blobstore_error_t *err);
static int blob_linked(blobstore__digest_t *d, blobstore_t *bs,
    const char *repo, const char *digest, const char *unknown,
    blobstore_error_t *err);
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
    int   rc;
    char  path[BLOBSTORE__PATH_MAX];

    rc = link_present(bs, repo, d, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
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


/*
 * The link is published by rename, so it exists whole or not at all; its
 * name says what it holds, and this is on every pull's path.
 */

static int
link_present(const blobstore_t *bs, const char *repo,
    const blobstore__digest_t *d, blobstore_error_t *err)
{
    int   rc;
    char  path[BLOBSTORE__PATH_MAX];

    rc = blobstore__path(path, bs, err, "/repositories/%s/_layers/%s/%s/link",
                         repo, d->alg_name, d->hex);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    if (!blobstore__exists(path)) {
        return blobstore__error(err, BLOBSTORE_ENOTFOUND, 0,
                                "blob unknown to repository");
    }

    return BLOBSTORE_OK;
}


/*
 * Parses digest into d and checks that the blob is linked in repo;
 * ENOTFOUND says unknown when it is not.
 */

static int
blob_linked(blobstore__digest_t *d, blobstore_t *bs, const char *repo,
    const char *digest, const char *unknown, blobstore_error_t *err)
{
    int  rc;

    rc = blobstore__digest_parse(d, digest, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    rc = blobstore__layer_linked(bs, repo, d, err);
    if (rc == BLOBSTORE_ENOTFOUND) {
        return blobstore__error(err, BLOBSTORE_ENOTFOUND, 0, "%s", unknown);
    }

    return rc;
}


static int
blob_lookup(int *fd_out, blobstore_info_t *info, blobstore_t *bs,
    const char *repo, const char *digest, blobstore_error_t *err)
{
    int                  rc;
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

    /* opening the data tells whether it is there */

    rc = link_present(bs, repo, &d, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    rc = blobstore__blob_path(path, bs, &d, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    rc = blobstore__open_stat(fd_out, &st, path, "blob data missing", err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    if (info != NULL) {
        memset(info, 0, sizeof(blobstore_info_t));
        info->size = (int64_t) st.st_size;
        info->mtime = (int64_t) st.st_mtime;
        memcpy(info->digest, d.full, strlen(d.full) + 1);
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

    rc = blob_linked(&d, bs, from, digest,
                     "blob unknown to source repository", err);
    if (rc != BLOBSTORE_OK) {
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
