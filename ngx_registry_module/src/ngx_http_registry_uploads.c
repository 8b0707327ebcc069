
/*
 * Copyright (C) Hephaestus developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_registry_module.h"


static ngx_int_t ngx_http_registry_start_task(ngx_http_request_t *r,
    ngx_http_registry_work_pt work, ngx_http_registry_done_pt done,
    ngx_fd_t fd, int64_t len, char *digest, char *from);
static ngx_http_registry_task_t *ngx_http_registry_body_task(
    ngx_http_request_t *r, ngx_http_registry_work_pt work,
    ngx_http_registry_done_pt done, ngx_fd_t fd, int64_t len);
static void ngx_http_registry_monolithic_body(ngx_http_request_t *r);
static void ngx_http_registry_start_work(ngx_http_registry_task_t *t);
static void ngx_http_registry_mount_work(ngx_http_registry_task_t *t);
static void ngx_http_registry_monolithic_work(ngx_http_registry_task_t *t);
static ngx_int_t ngx_http_registry_start_done(ngx_http_request_t *r,
    ngx_http_registry_task_t *t);
static ngx_int_t ngx_http_registry_committed(ngx_http_request_t *r,
    ngx_http_registry_task_t *t);

static ngx_int_t ngx_http_registry_upload_status(ngx_http_request_t *r,
    ngx_http_registry_loc_conf_t *rlcf, ngx_http_registry_ctx_t *ctx);
static ngx_int_t ngx_http_registry_upload_patch(ngx_http_request_t *r,
    ngx_http_registry_ctx_t *ctx);
static void ngx_http_registry_patch_body(ngx_http_request_t *r);
static void ngx_http_registry_append_work(ngx_http_registry_task_t *t);
static ngx_int_t ngx_http_registry_append_done(ngx_http_request_t *r,
    ngx_http_registry_task_t *t);
static ngx_int_t ngx_http_registry_upload_put(ngx_http_request_t *r,
    ngx_http_registry_ctx_t *ctx);
static void ngx_http_registry_put_body(ngx_http_request_t *r);
static void ngx_http_registry_put_work(ngx_http_registry_task_t *t);
static void ngx_http_registry_cancel_work(ngx_http_registry_task_t *t);
static ngx_int_t ngx_http_registry_cancel_done(ngx_http_request_t *r,
    ngx_http_registry_task_t *t);

static ngx_int_t ngx_http_registry_range_error(ngx_http_request_t *r,
    ngx_http_registry_ctx_t *ctx, int64_t size, ngx_uint_t known);
static ngx_int_t ngx_http_registry_upload_headers(ngx_http_request_t *r,
    ngx_str_t *name, char *id, int64_t size);
static ngx_int_t ngx_http_registry_content_range(ngx_http_request_t *r,
    ngx_http_registry_ctx_t *ctx);
static ngx_uint_t ngx_http_registry_id_valid(ngx_str_t *id);
static int ngx_http_registry_rewind(ngx_http_registry_task_t *t);


/*
 * POST .../blobs/uploads/: a mount when mount= and from= allow one, a
 * whole blob when digest= is given, a new session otherwise.
 */

ngx_int_t
ngx_http_registry_upload_start(ngx_http_request_t *r,
    ngx_http_registry_loc_conf_t *rlcf, ngx_http_registry_ctx_t *ctx)
{
    char       *mount, *from;
    ngx_int_t   rc;
    ngx_str_t   value;

    mount = NULL;
    from = NULL;

    rc = ngx_http_registry_arg(r, "mount", 5, &value);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_OK) {
        mount = (char *) value.data;

        if (ngx_http_registry_check_digest(mount) != BLOBSTORE_OK) {
            return ngx_http_registry_digest_error(r, mount);
        }

        rc = ngx_http_registry_arg(r, "from", 4, &value);

        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        /* a mount from where the user may not pull is a plain upload */

        if (rc == NGX_OK
            && value.len <= BLOBSTORE_NAME_MAX
            && blobstore_name_valid((char *) value.data) == BLOBSTORE_OK
            && ngx_http_registry_may(r, rlcf, ctx, value.data,
                                     NGX_HTTP_REGISTRY_PULL))
        {
            from = (char *) value.data;
        }
    }

    if (mount && from) {
        rc = ngx_http_discard_request_body(r);

        if (rc != NGX_OK) {
            return rc;
        }

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "registry mount \"%s\" from \"%s\"", mount, from);

        return ngx_http_registry_start_task(r, ngx_http_registry_mount_work,
                                            ngx_http_registry_start_done,
                                            NGX_INVALID_FILE, 0, mount,
                                            from);
    }

    rc = ngx_http_registry_arg(r, "digest", 6, &value);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_OK) {
        ctx->digest = (char *) value.data;

        if (ngx_http_registry_check_digest(ctx->digest) != BLOBSTORE_OK) {
            return ngx_http_registry_digest_error(r, ctx->digest);
        }

        /* the session is made with the blob: a fresh one */

        ctx->hash_body = 1;
        ctx->write_body = 1;

        return ngx_http_registry_read_body(r,
                                           ngx_http_registry_monolithic_body);
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_registry_start_task(r, ngx_http_registry_start_work,
                                        ngx_http_registry_start_done,
                                        NGX_INVALID_FILE, 0, NULL, NULL);
}


static ngx_int_t
ngx_http_registry_start_task(ngx_http_request_t *r,
    ngx_http_registry_work_pt work, ngx_http_registry_done_pt done,
    ngx_fd_t fd, int64_t len, char *digest, char *from)
{
    ngx_http_registry_task_t  *t;

    t = ngx_http_registry_body_task(r, work, done, fd, len);
    if (t == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    t->id = ngx_pcalloc(r->pool, BLOBSTORE_UUID_LEN + 1);
    if (t->id == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    t->digest = digest;
    t->from = from;

    return ngx_http_registry_run_task(r, t);
}


/* a task whose source is the request body: its file fd, len bytes */

static ngx_http_registry_task_t *
ngx_http_registry_body_task(ngx_http_request_t *r,
    ngx_http_registry_work_pt work, ngx_http_registry_done_pt done,
    ngx_fd_t fd, int64_t len)
{
    ngx_http_registry_ctx_t   *ctx;
    ngx_http_registry_task_t  *t;

    ctx = ngx_http_get_module_ctx(r, ngx_http_registry_module);

    t = ngx_http_registry_task_create(r, done);
    if (t == NULL) {
        return NULL;
    }

    t->work = work;
    t->fd = fd;
    t->path = ngx_http_registry_body_path(r);
    t->size = len;
    t->ahead = ngx_http_registry_ahead_state(ctx);

    return t;
}


static void
ngx_http_registry_monolithic_body(ngx_http_request_t *r)
{
    int64_t                   len;
    ngx_fd_t                  fd;
    ngx_int_t                 rc;
    ngx_http_registry_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_registry_module);

    if (ngx_http_registry_body_wait(r, ngx_http_registry_monolithic_body)
        == NGX_AGAIN)
    {
        return;
    }

    ngx_http_registry_body_file(r, &fd, &len);

    rc = ngx_http_registry_start_task(r, ngx_http_registry_monolithic_work,
                                      ngx_http_registry_committed, fd, len,
                                      ctx->digest, NULL);

    ngx_http_registry_body_done(r, rc);
}


static void
ngx_http_registry_start_work(ngx_http_registry_task_t *t)
{
    t->rc = blobstore_upload_start(t->id, t->store, t->name, &t->err);
}


static void
ngx_http_registry_mount_work(ngx_http_registry_task_t *t)
{
    t->rc = blobstore_blob_mount(t->store, t->name, t->digest, t->from,
                                 &t->err);

    if (t->rc == BLOBSTORE_OK) {
        t->mounted = 1;
        return;
    }

    if (t->rc == BLOBSTORE_ENOTFOUND || t->rc == BLOBSTORE_EINVAL) {
        ngx_memzero(&t->err, sizeof(blobstore_error_t));
        ngx_http_registry_start_work(t);
    }
}


/* a whole blob in the POST: nothing stays behind when it fails */

static void
ngx_http_registry_monolithic_work(ngx_http_registry_task_t *t)
{
    int                rc;
    blobstore_error_t  err;

    ngx_http_registry_start_work(t);

    if (t->rc != BLOBSTORE_OK) {
        return;
    }

    ngx_http_registry_put_work(t);

    if (t->rc != BLOBSTORE_OK) {

        /* the first failure is the one answered; this one is let go */

        rc = blobstore_upload_cancel(t->store, t->name, t->id, &err);
        (void) rc;
    }
}


static ngx_int_t
ngx_http_registry_start_done(ngx_http_request_t *r,
    ngx_http_registry_task_t *t)
{
    ngx_http_registry_ctx_t  *ctx;

    if (t->rc != BLOBSTORE_OK) {
        return ngx_http_registry_storage_error(r, NGX_HTTP_REGISTRY_OBJ_NAME,
                                               t->rc, &t->err,
                                               t->mounted ? "blob mount"
                                                          : "upload start",
                                               t->name);
    }

    if (t->mounted) {
        return ngx_http_registry_committed(r, t);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_registry_module);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "registry upload started: \"%V\" \"%s\"",
                   &ctx->name, t->id);

    if (ngx_http_registry_upload_headers(r, &ctx->name, t->id, 0)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_registry_send_empty(r, NGX_HTTP_ACCEPTED);
}


/* the blob t->digest is now linked: a mount, a monolithic POST, a PUT */

static ngx_int_t
ngx_http_registry_committed(ngx_http_request_t *r,
    ngx_http_registry_task_t *t)
{
    ngx_http_registry_ctx_t  *ctx;

    if (t->rc != BLOBSTORE_OK) {
        return ngx_http_registry_storage_error(r,
                                               NGX_HTTP_REGISTRY_OBJ_UPLOAD,
                                               t->rc, &t->err,
                                               "upload commit", t->digest);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_registry_module);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "registry blob linked: \"%V\" \"%s\"",
                   &ctx->name, t->digest);

    if (ngx_http_registry_location(r, &ctx->name, "blobs",
                                   (u_char *) t->digest)
        != NGX_OK
        || ngx_http_registry_header(r, "Docker-Content-Digest",
                                    (u_char *) t->digest,
                                    ngx_strlen(t->digest))
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_registry_send_empty(r, NGX_HTTP_CREATED);
}


ngx_int_t
ngx_http_registry_upload(ngx_http_request_t *r,
    ngx_http_registry_loc_conf_t *rlcf, ngx_http_registry_ctx_t *ctx)
{
    ngx_http_registry_task_t  *t;

    if (!ngx_http_registry_id_valid(&ctx->ref)) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "registry: client sent invalid upload id \"%V\"",
                      &ctx->ref);

        return ngx_http_registry_send_error(r, NGX_HTTP_NOT_FOUND,
                                            "BLOB_UPLOAD_UNKNOWN",
                                            "blob upload unknown to "
                                            "registry", NULL);
    }

    switch (r->method) {

    case NGX_HTTP_PATCH:
        return ngx_http_registry_upload_patch(r, ctx);

    case NGX_HTTP_PUT:
        return ngx_http_registry_upload_put(r, ctx);

    case NGX_HTTP_DELETE:
        t = ngx_http_registry_task_create(r, ngx_http_registry_cancel_done);
        if (t == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        t->work = ngx_http_registry_cancel_work;

        return ngx_http_registry_run_task(r, t);

    default: /* NGX_HTTP_GET, NGX_HTTP_HEAD */
        return ngx_http_registry_upload_status(r, rlcf, ctx);
    }
}


static ngx_int_t
ngx_http_registry_upload_status(ngx_http_request_t *r,
    ngx_http_registry_loc_conf_t *rlcf, ngx_http_registry_ctx_t *ctx)
{
    int                rc;
    int64_t            size;
    blobstore_error_t  err;

    ngx_memzero(&err, sizeof(blobstore_error_t));

    rc = blobstore_upload_status(&size, rlcf->store, (char *) ctx->name.data,
                                 (char *) ctx->ref.data, &err);

    if (rc != BLOBSTORE_OK) {
        return ngx_http_registry_storage_error(r,
                                               NGX_HTTP_REGISTRY_OBJ_UPLOAD,
                                               rc, &err, "upload status",
                                               (char *) ctx->ref.data);
    }

    if (ngx_http_registry_upload_headers(r, &ctx->name,
                                         (char *) ctx->ref.data, size)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_registry_send_empty(r, NGX_HTTP_NO_CONTENT);
}


static ngx_int_t
ngx_http_registry_upload_patch(ngx_http_request_t *r,
    ngx_http_registry_ctx_t *ctx)
{
    ngx_int_t  rc;

    rc = ngx_http_registry_content_range(r, ctx);

    if (rc == NGX_ERROR) {
        return ngx_http_registry_range_error(r, ctx, 0, 0);
    }

    if (rc == NGX_OK
        && !r->headers_in.chunked
        && r->headers_in.content_length_n >= 0
        && ctx->range_end - ctx->range_start + 1
           != r->headers_in.content_length_n)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "registry: client sent Content-Range of %L bytes "
                      "with a body of %O bytes",
                      ctx->range_end - ctx->range_start + 1,
                      r->headers_in.content_length_n);

        return ngx_http_registry_range_error(r, ctx, 0, 0);
    }

    /*
     * The body is hashed ahead as the session's next bytes; at offset 0
     * it is likely linked in and so written behind, a later one is
     * copied and its spool file is not worth writing.
     */

    ctx->hash_body = 1;
    ctx->seed_body = 1;
    ctx->write_body = (rc != NGX_OK || ctx->range_start == 0);

    return ngx_http_registry_read_body(r, ngx_http_registry_patch_body);
}


static void
ngx_http_registry_patch_body(ngx_http_request_t *r)
{
    int64_t                    len;
    ngx_fd_t                   fd;
    ngx_int_t                  rc;
    ngx_http_registry_ctx_t   *ctx;
    ngx_http_registry_task_t  *t;

    ctx = ngx_http_get_module_ctx(r, ngx_http_registry_module);

    if (ngx_http_registry_body_wait(r, ngx_http_registry_patch_body)
        == NGX_AGAIN)
    {
        return;
    }

    ngx_http_registry_body_file(r, &fd, &len);

    if (ctx->range_start != -1
        && ctx->range_end - ctx->range_start + 1 != len)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "registry: client sent Content-Range of %L bytes "
                      "with a body of %L bytes",
                      ctx->range_end - ctx->range_start + 1, len);

        rc = ngx_http_registry_range_error(r, ctx, 0, 0);
        ngx_http_registry_body_done(r, rc);
        return;
    }

    t = ngx_http_registry_body_task(r, ngx_http_registry_append_work,
                                    ngx_http_registry_append_done, fd, len);
    if (t == NULL) {
        ngx_http_registry_body_done(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    t->offset = ctx->range_start;

    ngx_http_registry_body_done(r, ngx_http_registry_run_task(r, t));
}


static void
ngx_http_registry_append_work(ngx_http_registry_task_t *t)
{
    if (t->fd == NGX_INVALID_FILE) {
        t->rc = blobstore_upload_status(&t->size, t->store, t->name, t->id,
                                        &t->err);
        return;
    }

    t->rc = ngx_http_registry_rewind(t);

    if (t->rc != BLOBSTORE_OK) {
        return;
    }

    t->rc = blobstore_upload_append_ahead(&t->size, t->store, t->name,
                                          t->id, t->offset, t->fd, t->path,
                                          t->size, t->ahead, &t->err);
}


static ngx_int_t
ngx_http_registry_append_done(ngx_http_request_t *r,
    ngx_http_registry_task_t *t)
{
    ngx_http_registry_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_registry_module);

    if (t->rc == BLOBSTORE_ERANGE || t->rc == BLOBSTORE_EBUSY) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "registry: upload \"%s\" append failed: %s",
                      t->id, blobstore_strerror(t->rc));

        return ngx_http_registry_range_error(r, ctx, t->size,
                                             t->rc == BLOBSTORE_ERANGE);
    }

    if (t->rc != BLOBSTORE_OK) {
        return ngx_http_registry_storage_error(r,
                                               NGX_HTTP_REGISTRY_OBJ_UPLOAD,
                                               t->rc, &t->err,
                                               "upload append", t->id);
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "registry upload \"%s\" size:%L", t->id, t->size);

    if (ngx_http_registry_upload_headers(r, &ctx->name, t->id, t->size)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_registry_send_empty(r, NGX_HTTP_ACCEPTED);
}


static ngx_int_t
ngx_http_registry_upload_put(ngx_http_request_t *r,
    ngx_http_registry_ctx_t *ctx)
{
    ngx_int_t  rc;
    ngx_str_t  value;

    rc = ngx_http_registry_arg(r, "digest", 6, &value);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "registry: client sent no digest to finish upload "
                      "\"%V\"", &ctx->ref);

        return ngx_http_registry_send_error(r, NGX_HTTP_BAD_REQUEST,
                                            "DIGEST_INVALID",
                                            "digest missing", NULL);
    }

    ctx->digest = (char *) value.data;

    if (ngx_http_registry_check_digest(ctx->digest) != BLOBSTORE_OK) {
        return ngx_http_registry_digest_error(r, ctx->digest);
    }

    ctx->hash_body = 1;
    ctx->seed_body = 1;
    ctx->write_body = 1;

    return ngx_http_registry_read_body(r, ngx_http_registry_put_body);
}


static void
ngx_http_registry_put_body(ngx_http_request_t *r)
{
    int64_t                    len;
    ngx_fd_t                   fd;
    ngx_http_registry_ctx_t   *ctx;
    ngx_http_registry_task_t  *t;

    ctx = ngx_http_get_module_ctx(r, ngx_http_registry_module);

    if (ngx_http_registry_body_wait(r, ngx_http_registry_put_body)
        == NGX_AGAIN)
    {
        return;
    }

    ngx_http_registry_body_file(r, &fd, &len);

    t = ngx_http_registry_body_task(r, ngx_http_registry_put_work,
                                    ngx_http_registry_committed, fd, len);
    if (t == NULL) {
        ngx_http_registry_body_done(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    t->digest = ctx->digest;

    ngx_http_registry_body_done(r, ngx_http_registry_run_task(r, t));
}


/*
 * The last chunk, if any, then the commit.  EDIGEST keeps the session; a
 * failed flush of its data drops it (the library cannot tell what the
 * disk holds then): the storage error is answered, 500 or 507, and the
 * client that tries again learns from 404 BLOB_UPLOAD_UNKNOWN that it
 * must push the blob anew.
 */

static void
ngx_http_registry_put_work(ngx_http_registry_task_t *t)
{
    if (t->fd == NGX_INVALID_FILE || t->size <= 0) {
        t->rc = blobstore_upload_commit(t->store, t->name, t->id,
                                        t->digest, &t->err);
        return;
    }

    t->rc = ngx_http_registry_rewind(t);

    if (t->rc != BLOBSTORE_OK) {
        return;
    }

    t->rc = blobstore_upload_commit_ahead(t->store, t->name, t->id, -1,
                                          t->fd, t->path, t->size,
                                          t->digest, t->ahead, &t->err);
}


static void
ngx_http_registry_cancel_work(ngx_http_registry_task_t *t)
{
    t->rc = blobstore_upload_cancel(t->store, t->name, t->id, &t->err);
}


static ngx_int_t
ngx_http_registry_cancel_done(ngx_http_request_t *r,
    ngx_http_registry_task_t *t)
{
    if (t->rc != BLOBSTORE_OK) {
        return ngx_http_registry_storage_error(r,
                                               NGX_HTTP_REGISTRY_OBJ_UPLOAD,
                                               t->rc, &t->err,
                                               "upload cancel", t->id);
    }

    if (ngx_http_registry_header(r, "Docker-Upload-UUID", (u_char *) t->id,
                                 ngx_strlen(t->id))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_registry_send_empty(r, NGX_HTTP_NO_CONTENT);
}


/*
 * 416 with the session's current Range; size is that of the session when
 * known, else it is asked for (a read-only call).
 */

static ngx_int_t
ngx_http_registry_range_error(ngx_http_request_t *r,
    ngx_http_registry_ctx_t *ctx, int64_t size, ngx_uint_t known)
{
    int                            rc;
    blobstore_error_t              err;
    ngx_http_registry_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_registry_module);

    if (!known) {
        ngx_memzero(&err, sizeof(blobstore_error_t));

        rc = blobstore_upload_status(&size, rlcf->store,
                                     (char *) ctx->name.data,
                                     (char *) ctx->ref.data, &err);

        if (rc != BLOBSTORE_OK) {
            return ngx_http_registry_storage_error(r,
                                                  NGX_HTTP_REGISTRY_OBJ_UPLOAD,
                                                  rc, &err, "upload status",
                                                  (char *) ctx->ref.data);
        }
    }

    if (ngx_http_registry_upload_headers(r, &ctx->name,
                                         (char *) ctx->ref.data, size)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_registry_send_error(r, NGX_HTTP_RANGE_NOT_SATISFIABLE,
                                        "BLOB_UPLOAD_INVALID",
                                        "blob upload invalid", NULL);
}


/* Location, Range ("0-<size-1>", "0-0" when empty), Docker-Upload-UUID */

static ngx_int_t
ngx_http_registry_upload_headers(ngx_http_request_t *r, ngx_str_t *name,
    char *id, int64_t size)
{
    u_char  *range, *last;

    range = ngx_pnalloc(r->pool, sizeof("0-") - 1 + NGX_INT64_LEN);
    if (range == NULL) {
        return NGX_ERROR;
    }

    last = ngx_sprintf(range, "0-%L", size > 0 ? size - 1 : 0);

    if (ngx_http_registry_location(r, name, "blobs/uploads", (u_char *) id)
        != NGX_OK
        || ngx_http_registry_header(r, "Range", range, last - range)
           != NGX_OK
        || ngx_http_registry_header(r, "Docker-Upload-UUID", (u_char *) id,
                                    ngx_strlen(id))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Content-Range: "<start>-<end>", also with a "bytes " prefix.  Returns
 * NGX_OK with the range in ctx, NGX_DECLINED without the header, or
 * NGX_ERROR when it cannot be read.
 */

static ngx_int_t
ngx_http_registry_content_range(ngx_http_request_t *r,
    ngx_http_registry_ctx_t *ctx)
{
    u_char           *p, *last, *dash;
    ngx_table_elt_t  *range;

    range = ngx_http_registry_find_header(&r->headers_in.headers,
                                          "Content-Range");

    if (range == NULL) {
        return NGX_DECLINED;
    }

    p = range->value.data;
    last = p + range->value.len;

    if (last - p > 6 && ngx_strncasecmp(p, (u_char *) "bytes ", 6) == 0) {
        p += 6;
    }

    dash = ngx_strlchr(p, last, '-');

    if (dash == NULL) {
        goto invalid;
    }

    ctx->range_start = ngx_atoof(p, dash - p);
    ctx->range_end = ngx_atoof(dash + 1, last - dash - 1);

    if (ctx->range_start == NGX_ERROR || ctx->range_end == NGX_ERROR
        || ctx->range_end < ctx->range_start)
    {
        goto invalid;
    }

    return NGX_OK;

invalid:

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "registry: client sent invalid Content-Range \"%V\"",
                  &range->value);

    ctx->range_start = -1;
    ctx->range_end = -1;

    return NGX_ERROR;
}


/* the form of the ids the library hands out */

static ngx_uint_t
ngx_http_registry_id_valid(ngx_str_t *id)
{
    u_char      c;
    ngx_uint_t  i;

    if (id->len != BLOBSTORE_UUID_LEN) {
        return 0;
    }

    for (i = 0; i < id->len; i++) {
        c = id->data[i];

        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') {
                return 0;
            }

            continue;
        }

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
              || (c >= 'A' && c <= 'F')))
        {
            return 0;
        }
    }

    return 1;
}


/* runs in a worker thread: the body file is read from its start */

static int
ngx_http_registry_rewind(ngx_http_registry_task_t *t)
{
    if (lseek(t->fd, 0, SEEK_SET) != -1) {
        return BLOBSTORE_OK;
    }

    t->err.code = BLOBSTORE_EIO;
    t->err.sys_errno = ngx_errno;
    ngx_cpystrn((u_char *) t->err.message,
                (u_char *) "lseek() of the request body failed",
                sizeof(t->err.message));

    return BLOBSTORE_EIO;
}
