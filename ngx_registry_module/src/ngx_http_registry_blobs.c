
/*
 * Copyright (C) Hephaestus developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_registry_module.h"


static ngx_int_t ngx_http_registry_blob_get(ngx_http_request_t *r,
    ngx_http_registry_loc_conf_t *rlcf, ngx_http_registry_ctx_t *ctx);
static void ngx_http_registry_blob_delete_work(ngx_http_registry_task_t *t);
static ngx_int_t ngx_http_registry_blob_delete_done(ngx_http_request_t *r,
    ngx_http_registry_task_t *t);


ngx_int_t
ngx_http_registry_blob(ngx_http_request_t *r,
    ngx_http_registry_loc_conf_t *rlcf, ngx_http_registry_ctx_t *ctx)
{
    ngx_http_registry_task_t  *t;

    if (ngx_http_registry_check_digest((char *) ctx->ref.data)
        != BLOBSTORE_OK)
    {
        return ngx_http_registry_digest_error(r, (char *) ctx->ref.data);
    }

    if (r->method != NGX_HTTP_DELETE) {
        return ngx_http_registry_blob_get(r, rlcf, ctx);
    }

    t = ngx_http_registry_task_create(r, ngx_http_registry_blob_delete_done);
    if (t == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    t->work = ngx_http_registry_blob_delete_work;
    t->digest = (char *) ctx->ref.data;

    return ngx_http_registry_run_task(r, t);
}


static ngx_int_t
ngx_http_registry_blob_get(ngx_http_request_t *r,
    ngx_http_registry_loc_conf_t *rlcf, ngx_http_registry_ctx_t *ctx)
{
    int                rc, fd;
    blobstore_info_t   info;
    blobstore_error_t  err;

    ngx_memzero(&err, sizeof(blobstore_error_t));

    rc = blobstore_blob_open(&fd, &info, rlcf->store, (char *) ctx->name.data,
                             (char *) ctx->ref.data, &err);

    if (rc != BLOBSTORE_OK) {
        return ngx_http_registry_storage_error(r, NGX_HTTP_REGISTRY_OBJ_BLOB,
                                               rc, &err, "blob open",
                                               (char *) ctx->ref.data);
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "registry blob: \"%s\" fd:%d size:%L",
                   info.digest, fd, info.size);

    return ngx_http_registry_send_fd(r, fd, &info, 1);
}


static void
ngx_http_registry_blob_delete_work(ngx_http_registry_task_t *t)
{
    t->rc = blobstore_blob_delete(t->store, t->name, t->digest, &t->err);
}


static ngx_int_t
ngx_http_registry_blob_delete_done(ngx_http_request_t *r,
    ngx_http_registry_task_t *t)
{
    if (t->rc != BLOBSTORE_OK) {
        return ngx_http_registry_storage_error(r, NGX_HTTP_REGISTRY_OBJ_BLOB,
                                               t->rc, &t->err, "blob delete",
                                               t->digest);
    }

    return ngx_http_registry_send_empty(r, NGX_HTTP_ACCEPTED);
}
