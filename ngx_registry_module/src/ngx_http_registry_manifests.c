
/*
 * Copyright (C) Hephaestus developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_registry_module.h"


#define NGX_HTTP_REGISTRY_ALL  ((size_t) NGX_MAX_INT32_VALUE)


static ngx_int_t ngx_http_registry_manifest_get(ngx_http_request_t *r,
    ngx_http_registry_loc_conf_t *rlcf, ngx_http_registry_ctx_t *ctx);
static ngx_int_t ngx_http_registry_manifest_put(ngx_http_request_t *r,
    ngx_http_registry_ctx_t *ctx);
static void ngx_http_registry_manifest_body(ngx_http_request_t *r);
static void ngx_http_registry_manifest_put_work(ngx_http_registry_task_t *t);
static ngx_int_t ngx_http_registry_manifest_put_done(ngx_http_request_t *r,
    ngx_http_registry_task_t *t);
static void ngx_http_registry_manifest_delete_work(
    ngx_http_registry_task_t *t);
static ngx_int_t ngx_http_registry_manifest_delete_done(
    ngx_http_request_t *r, ngx_http_registry_task_t *t);

static void ngx_http_registry_tags_work(ngx_http_registry_task_t *t);
static ngx_int_t ngx_http_registry_tags_done(ngx_http_request_t *r,
    ngx_http_registry_task_t *t);
static void ngx_http_registry_catalog_work(ngx_http_registry_task_t *t);
static ngx_int_t ngx_http_registry_catalog_done(ngx_http_request_t *r,
    ngx_http_registry_task_t *t);
static ngx_int_t ngx_http_registry_catalog_filter_done(
    ngx_http_request_t *r, ngx_http_registry_task_t *t);
static void ngx_http_registry_referrers_work(ngx_http_registry_task_t *t);
static ngx_int_t ngx_http_registry_referrers_done(ngx_http_request_t *r,
    ngx_http_registry_task_t *t);
static ngx_http_registry_task_t *ngx_http_registry_list_task(
    ngx_http_request_t *r, ngx_http_registry_done_pt done);
static void ngx_http_registry_list_cleanup(void *data);
static ngx_int_t ngx_http_registry_paging(ngx_http_request_t *r, size_t *n,
    size_t dflt, char **last);
static ngx_int_t ngx_http_registry_paging_error(ngx_http_request_t *r,
    ngx_int_t rc);
static ngx_int_t ngx_http_registry_send_list(ngx_http_request_t *r,
    ngx_str_t *name, blobstore_strlist_t *list, size_t n);
static u_char *ngx_http_registry_escape_arg(u_char *dst, u_char *src,
    size_t len);


ngx_int_t
ngx_http_registry_manifest(ngx_http_request_t *r,
    ngx_http_registry_loc_conf_t *rlcf, ngx_http_registry_ctx_t *ctx)
{
    u_char                    *ref;
    ngx_http_registry_task_t  *t;

    ref = ctx->ref.data;

    if (ngx_strlchr(ref, ref + ctx->ref.len, ':')) {

        if (ngx_http_registry_check_digest((char *) ref) != BLOBSTORE_OK) {
            return ngx_http_registry_digest_error(r, (char *) ref);
        }

    } else if (ctx->ref.len > BLOBSTORE_TAG_MAX
               || blobstore_tag_valid((char *) ref) != BLOBSTORE_OK)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "registry: client sent invalid reference \"%V\"",
                      &ctx->ref);

        if (r->method == NGX_HTTP_PUT) {
            return ngx_http_registry_send_error(r, NGX_HTTP_BAD_REQUEST,
                                                "MANIFEST_INVALID",
                                                "invalid reference",
                                                &ctx->ref);
        }

        return ngx_http_registry_send_error(r, NGX_HTTP_NOT_FOUND,
                                            "MANIFEST_UNKNOWN",
                                            "manifest unknown", &ctx->ref);
    }

    switch (r->method) {

    case NGX_HTTP_PUT:
        return ngx_http_registry_manifest_put(r, ctx);

    case NGX_HTTP_DELETE:
        t = ngx_http_registry_task_create(r,
                                     ngx_http_registry_manifest_delete_done);
        if (t == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        t->work = ngx_http_registry_manifest_delete_work;

        return ngx_http_registry_run_task(r, t);

    default: /* NGX_HTTP_GET, NGX_HTTP_HEAD */
        return ngx_http_registry_manifest_get(r, rlcf, ctx);
    }
}


static ngx_int_t
ngx_http_registry_manifest_get(ngx_http_request_t *r,
    ngx_http_registry_loc_conf_t *rlcf, ngx_http_registry_ctx_t *ctx)
{
    int                rc, fd;
    size_t             len;
    u_char            *mem;
    blobstore_info_t   info;
    blobstore_error_t  err;

    ngx_memzero(&err, sizeof(blobstore_error_t));

    /*
     * a manifest that fits is read into memory and answered from there:
     * it is read anyway for its type, and the file's own output would
     * cost a sendfile() and two setsockopt() calls more
     */

    mem = ngx_pnalloc(r->pool, NGX_HTTP_REGISTRY_MANIFEST_INLINE);
    if (mem == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = blobstore_manifest_read(&fd, mem, NGX_HTTP_REGISTRY_MANIFEST_INLINE,
                                 &len, &info, rlcf->store,
                                 (char *) ctx->name.data,
                                 (char *) ctx->ref.data, &err);

    if (rc != BLOBSTORE_OK) {
        return ngx_http_registry_storage_error(r,
                                               NGX_HTTP_REGISTRY_OBJ_MANIFEST,
                                               rc, &err, "manifest open",
                                               (char *) ctx->ref.data);
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "registry manifest: \"%s\" \"%s\" size:%L",
                   info.digest, info.media_type, info.size);

    return ngx_http_registry_send(r, fd, mem, &info, 0);
}


static ngx_int_t
ngx_http_registry_manifest_put(ngx_http_request_t *r,
    ngx_http_registry_ctx_t *ctx)
{
    if (r->headers_in.content_length_n > BLOBSTORE_MANIFEST_MAX) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "registry: client sent too big manifest: %O bytes",
                      r->headers_in.content_length_n);

        return ngx_http_registry_send_error(r,
                                            NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                            "MANIFEST_INVALID",
                                            "manifest too big", NULL);
    }

    return ngx_http_registry_read_body(r, ngx_http_registry_manifest_body);
}


static void
ngx_http_registry_manifest_body(ngx_http_request_t *r)
{
    int64_t                    len;
    ngx_fd_t                   fd;
    ngx_int_t                  rc;
    ngx_table_elt_t           *h;
    ngx_http_registry_task_t  *t;

    ngx_http_registry_body_file(r, &fd, &len);

    if (len > BLOBSTORE_MANIFEST_MAX) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "registry: client sent too big manifest: %L bytes",
                      len);

        rc = ngx_http_registry_send_error(r,
                                          NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                          "MANIFEST_INVALID",
                                          "manifest too big", NULL);
        ngx_http_registry_body_done(r, rc);
        return;
    }

    t = ngx_http_registry_task_create(r, ngx_http_registry_manifest_put_done);
    if (t == NULL) {
        ngx_http_registry_body_done(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    t->work = ngx_http_registry_manifest_put_work;
    t->fd = fd;
    t->len = (size_t) len;

    t->data = ngx_pnalloc(r->pool, t->len + 1);
    if (t->data == NULL) {
        ngx_http_registry_body_done(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    h = r->headers_in.content_type;

    if (h) {
        t->content_type = ngx_http_registry_cstr(r->pool, h->value.data,
                                                 h->value.len);
        if (t->content_type == NULL) {
            ngx_http_registry_body_done(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }

    ngx_http_registry_body_done(r, ngx_http_registry_run_task(r, t));
}


static void
ngx_http_registry_manifest_put_work(ngx_http_registry_task_t *t)
{
    size_t   got;
    ssize_t  n;

    for (got = 0; got < t->len; got += n) {

        n = pread(t->fd, t->data + got, t->len - got, got);

        if (n <= 0) {
            t->rc = BLOBSTORE_EIO;
            t->err.code = BLOBSTORE_EIO;
            t->err.sys_errno = (n == 0) ? 0 : ngx_errno;
            ngx_cpystrn((u_char *) t->err.message,
                        (u_char *) "pread() of the request body failed",
                        sizeof(t->err.message));
            return;
        }
    }

    t->rc = blobstore_manifest_put(&t->info, t->store, t->name, t->id,
                                   t->content_type, t->data, t->len, &t->err);
}


static ngx_int_t
ngx_http_registry_manifest_put_done(ngx_http_request_t *r,
    ngx_http_registry_task_t *t)
{
    size_t                    len;
    ngx_http_registry_ctx_t  *ctx;

    if (t->rc != BLOBSTORE_OK) {
        return ngx_http_registry_storage_error(r,
                                               NGX_HTTP_REGISTRY_OBJ_MANIFEST,
                                               t->rc, &t->err, "manifest put",
                                               t->id);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_registry_module);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "registry manifest stored: \"%s\" as \"%s\"",
                   t->info.digest, t->id);

    len = ngx_strlen(t->info.digest);

    if (ngx_http_registry_location(r, &ctx->name, "manifests",
                                   (u_char *) t->info.digest)
        != NGX_OK
        || ngx_http_registry_header(r, "Docker-Content-Digest",
                                    (u_char *) t->info.digest, len)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (t->info.subject[0]
        && ngx_http_registry_header(r, "OCI-Subject",
                                    (u_char *) t->info.subject,
                                    ngx_strlen(t->info.subject))
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_registry_send_empty(r, NGX_HTTP_CREATED);
}


static void
ngx_http_registry_manifest_delete_work(ngx_http_registry_task_t *t)
{
    t->rc = blobstore_manifest_delete(t->store, t->name, t->id, &t->err);
}


static ngx_int_t
ngx_http_registry_manifest_delete_done(ngx_http_request_t *r,
    ngx_http_registry_task_t *t)
{
    if (t->rc != BLOBSTORE_OK) {
        return ngx_http_registry_storage_error(r,
                                               NGX_HTTP_REGISTRY_OBJ_MANIFEST,
                                               t->rc, &t->err,
                                               "manifest delete", t->id);
    }

    return ngx_http_registry_send_empty(r, NGX_HTTP_ACCEPTED);
}


/*
 * Tags and referrers read as many files as a repository has tags or
 * referrers: they are read in the thread pool, like the writes.
 */

ngx_int_t
ngx_http_registry_tags(ngx_http_request_t *r,
    ngx_http_registry_loc_conf_t *rlcf, ngx_http_registry_ctx_t *ctx)
{
    char                      *last;
    size_t                     n;
    ngx_int_t                  rc;
    ngx_http_registry_task_t  *t;

    rc = ngx_http_registry_paging(r, &n, NGX_HTTP_REGISTRY_ALL, &last);

    if (rc != NGX_OK) {
        return ngx_http_registry_paging_error(r, rc);
    }

    t = ngx_http_registry_list_task(r, ngx_http_registry_tags_done);
    if (t == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    t->work = ngx_http_registry_tags_work;
    t->last = last;
    t->n = n;

    return ngx_http_registry_run_task(r, t);
}


static void
ngx_http_registry_tags_work(ngx_http_registry_task_t *t)
{
    t->rc = blobstore_tags_list(&t->list, t->store, t->name, t->last, t->n,
                                &t->err);
}


static ngx_int_t
ngx_http_registry_tags_done(ngx_http_request_t *r,
    ngx_http_registry_task_t *t)
{
    ngx_int_t                 sent;
    ngx_http_registry_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_registry_module);

    if (t->rc != BLOBSTORE_OK) {
        return ngx_http_registry_storage_error(r, NGX_HTTP_REGISTRY_OBJ_NAME,
                                               t->rc, &t->err, "tags list",
                                               t->name);
    }

    if (t->n == 0) {
        t->list.more = 0;
    }

    sent = ngx_http_registry_send_list(r, &ctx->name, &t->list, t->n);

    blobstore_strlist_free(&t->list);

    return sent;
}


/*
 * A task whose result the library allocated: a request that ends before
 * the task's done handler runs still frees it, with its pool.
 */

static ngx_http_registry_task_t *
ngx_http_registry_list_task(ngx_http_request_t *r,
    ngx_http_registry_done_pt done)
{
    ngx_pool_cleanup_t        *cln;
    ngx_http_registry_task_t  *t;

    t = ngx_http_registry_task_create(r, done);
    if (t == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_registry_list_cleanup;
    cln->data = t;

    return t;
}


static void
ngx_http_registry_list_cleanup(void *data)
{
    ngx_http_registry_task_t  *t = data;

    blobstore_strlist_free(&t->list);
    blobstore_free(t->json);
    t->json = NULL;
}


ngx_int_t
ngx_http_registry_catalog(ngx_http_request_t *r,
    ngx_http_registry_loc_conf_t *rlcf)
{
    int                        rc;
    char                      *last;
    size_t                     n;
    blobstore_error_t          err;
    blobstore_strlist_t        list;
    ngx_http_registry_task_t  *t;

    rc = ngx_http_registry_paging(r, &n, NGX_HTTP_REGISTRY_LIST_DEFAULT,
                                  &last);
    if (rc != NGX_OK) {
        return ngx_http_registry_paging_error(r, rc);
    }

    ngx_memzero(&err, sizeof(blobstore_error_t));
    ngx_memzero(&list, sizeof(blobstore_strlist_t));

    if (n == 0) {
        return ngx_http_registry_send_list(r, NULL, &list, n);
    }

    if (rlcf->rules) {

        /* filtered here when the library's list in memory serves it */

        rc = ngx_http_registry_access_catalog(r, rlcf,
                 ngx_http_get_module_ctx(r, ngx_http_registry_module),
                 &list, last, n, &err);

        if (rc == BLOBSTORE_OK) {

            /* the filtered list is in the request pool */

            return ngx_http_registry_send_list(r, NULL, &list, n);
        }

        if (rc != BLOBSTORE_EAGAIN) {
            return ngx_http_registry_storage_error(r,
                                                   NGX_HTTP_REGISTRY_OBJ_NAME,
                                                   rc, &err, "catalog",
                                                   last ? last : "");
        }

        /* otherwise the names are read in the thread pool, then filtered */

        t = ngx_http_registry_list_task(r,
                                        ngx_http_registry_catalog_filter_done);
        if (t == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        t->work = ngx_http_registry_access_scan;
        t->last = last;
        t->n = n;

        return ngx_http_registry_run_task(r, t);
    }

    /* a page reads as many folders as it lists: in the thread pool */

    t = ngx_http_registry_list_task(r, ngx_http_registry_catalog_done);
    if (t == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    t->work = ngx_http_registry_catalog_work;
    t->last = last;
    t->n = n;

    return ngx_http_registry_run_task(r, t);
}


static void
ngx_http_registry_catalog_work(ngx_http_registry_task_t *t)
{
    t->rc = blobstore_catalog(&t->list, t->store, t->last, t->n, &t->err);
}


static ngx_int_t
ngx_http_registry_catalog_done(ngx_http_request_t *r,
    ngx_http_registry_task_t *t)
{
    ngx_int_t  sent;

    if (t->rc != BLOBSTORE_OK) {
        return ngx_http_registry_storage_error(r, NGX_HTTP_REGISTRY_OBJ_NAME,
                                               t->rc, &t->err, "catalog",
                                               t->last ? t->last : "");
    }

    sent = ngx_http_registry_send_list(r, NULL, &t->list, t->n);

    blobstore_strlist_free(&t->list);

    return sent;
}


static ngx_int_t
ngx_http_registry_catalog_filter_done(ngx_http_request_t *r,
    ngx_http_registry_task_t *t)
{
    int                            rc;
    blobstore_strlist_t            list;
    ngx_http_registry_loc_conf_t  *rlcf;

    if (t->rc != BLOBSTORE_OK) {
        return ngx_http_registry_storage_error(r, NGX_HTTP_REGISTRY_OBJ_NAME,
                                               t->rc, &t->err, "catalog",
                                               t->last ? t->last : "");
    }

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_registry_module);

    rc = ngx_http_registry_access_filter(r, rlcf,
             ngx_http_get_module_ctx(r, ngx_http_registry_module),
             &t->list, &list, t->n);

    blobstore_strlist_free(&t->list);

    if (rc != BLOBSTORE_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_registry_send_list(r, NULL, &list, t->n);
}


/*
 * n: absent gives dflt, above the maximum is clamped, anything but a
 * non-negative integer is refused with NGX_DECLINED.
 */

static ngx_int_t
ngx_http_registry_paging(ngx_http_request_t *r, size_t *n, size_t dflt,
    char **last)
{
    u_char     *p;
    ngx_int_t   rc;
    ngx_str_t   value;

    *n = dflt;
    *last = NULL;

    rc = ngx_http_registry_arg(r, "n", 1, &value);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_OK) {

        if (value.len == 0) {
            goto invalid;
        }

        *n = 0;

        for (p = value.data; p < value.data + value.len; p++) {

            if (*p < '0' || *p > '9') {
                goto invalid;
            }

            if (*n <= NGX_HTTP_REGISTRY_LIST_MAX) {
                *n = *n * 10 + (*p - '0');
            }
        }

        if (*n > NGX_HTTP_REGISTRY_LIST_MAX) {
            *n = NGX_HTTP_REGISTRY_LIST_MAX;
        }
    }

    rc = ngx_http_registry_arg(r, "last", 4, &value);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_OK) {
        *last = (char *) value.data;
    }

    return NGX_OK;

invalid:

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "registry: client sent invalid page size \"%V\"", &value);

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_registry_paging_error(ngx_http_request_t *r, ngx_int_t rc)
{
    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_registry_send_error(r, NGX_HTTP_BAD_REQUEST,
                                        "PAGINATION_NUMBER_INVALID",
                                        "invalid number of results "
                                        "requested", NULL);
}


/*
 * {"repositories":[...]} when name is NULL, {"name":...,"tags":[...]}
 * otherwise; a Link to the next page when there is one.
 */

static ngx_int_t
ngx_http_registry_send_list(ngx_http_request_t *r, ngx_str_t *name,
    blobstore_strlist_t *list, size_t n)
{
    size_t                    len, i, ilen;
    u_char                   *body, *p, *link, *item;
    ngx_http_registry_ctx_t  *ctx;

    len = sizeof("{\"name\":\"\",\"tags\":[]}") - 1
          + sizeof("{\"repositories\":[]}") - 1;

    if (name) {
        len += ngx_http_registry_json_len(name->data, name->len);
    }

    for (i = 0; i < list->count; i++) {
        len += ngx_http_registry_json_len((u_char *) list->items[i],
                                          ngx_strlen(list->items[i]))
               + sizeof("\"\",") - 1;
    }

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (name) {
        p = ngx_cpymem(body, "{\"name\":\"", sizeof("{\"name\":\"") - 1);
        p = ngx_http_registry_json_copy(p, name->data, name->len);
        p = ngx_cpymem(p, "\",\"tags\":[", sizeof("\",\"tags\":[") - 1);

    } else {
        p = ngx_cpymem(body, "{\"repositories\":[",
                       sizeof("{\"repositories\":[") - 1);
    }

    for (i = 0; i < list->count; i++) {
        if (i) {
            *p++ = ',';
        }

        *p++ = '"';
        p = ngx_http_registry_json_copy(p, (u_char *) list->items[i],
                                        ngx_strlen(list->items[i]));
        *p++ = '"';
    }

    *p++ = ']';
    *p++ = '}';

    len = p - body;

    ctx = ngx_http_get_module_ctx(r, ngx_http_registry_module);

    if (list->more && (list->count > 0 || ctx->catalog_next != NULL)) {
        item = (u_char *) (ctx->catalog_next ? ctx->catalog_next
                                              : list->items[list->count - 1]);
        ilen = ngx_strlen(item);

        link = ngx_pnalloc(r->pool, sizeof("</v2//tags/list?last=&n=>; "
                                           "rel=\"next\"") - 1
                                    + (name ? name->len : 8)
                                    + 3 * ilen + NGX_SIZE_T_LEN);
        if (link == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (name) {
            p = ngx_sprintf(link, "</v2/%V/tags/list?last=", name);

        } else {
            p = ngx_cpymem(link, "</v2/_catalog?last=",
                           sizeof("</v2/_catalog?last=") - 1);
        }

        p = ngx_http_registry_escape_arg(p, item, ilen);
        p = ngx_sprintf(p, "&n=%uz>; rel=\"next\"", n);

        if (ngx_http_registry_header(r, "Link", link, p - link) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_registry_send_body(r, NULL, body, len);
}


/* a query argument value: NGX_ESCAPE_ARGS leaves "/" alone, it is escaped */

static u_char *
ngx_http_registry_escape_arg(u_char *dst, u_char *src, size_t len)
{
    u_char  *slash, *last;

    last = src + len;

    while (src < last) {
        slash = ngx_strlchr(src, last, '/');

        if (slash == NULL) {
            slash = last;
        }

        dst = (u_char *) ngx_escape_uri(dst, src, slash - src,
                                        NGX_ESCAPE_ARGS);

        if (slash < last) {
            dst = ngx_cpymem(dst, "%2F", 3);
            slash++;
        }

        src = slash;
    }

    return dst;
}


ngx_int_t
ngx_http_registry_referrers(ngx_http_request_t *r,
    ngx_http_registry_loc_conf_t *rlcf, ngx_http_registry_ctx_t *ctx)
{
    ngx_int_t                  found;
    ngx_str_t                  value;
    ngx_http_registry_task_t  *t;

    if (ngx_http_registry_check_digest((char *) ctx->ref.data)
        != BLOBSTORE_OK)
    {
        return ngx_http_registry_digest_error(r, (char *) ctx->ref.data);
    }

    found = ngx_http_registry_arg(r, "artifactType", 12, &value);

    if (found == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    t = ngx_http_registry_list_task(r, ngx_http_registry_referrers_done);
    if (t == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    t->work = ngx_http_registry_referrers_work;
    t->digest = (char *) ctx->ref.data;
    t->content_type = (found == NGX_OK && value.len)
                      ? (char *) value.data : NULL;

    return ngx_http_registry_run_task(r, t);
}


/* t->content_type carries the artifactType filter */

static void
ngx_http_registry_referrers_work(ngx_http_registry_task_t *t)
{
    t->rc = blobstore_referrers(&t->json, &t->json_len, t->store, t->name,
                                t->digest, t->content_type, &t->err);
}


static ngx_int_t
ngx_http_registry_referrers_done(ngx_http_request_t *r,
    ngx_http_registry_task_t *t)
{
    u_char  *body;

    if (t->rc != BLOBSTORE_OK) {
        return ngx_http_registry_storage_error(r,
                                               NGX_HTTP_REGISTRY_OBJ_MANIFEST,
                                               t->rc, &t->err, "referrers",
                                               t->digest);
    }

    body = ngx_pnalloc(r->pool, t->json_len ? t->json_len : 1);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(body, t->json, t->json_len);
    blobstore_free(t->json);
    t->json = NULL;

    if (t->content_type
        && ngx_http_registry_header(r, "OCI-Filters-Applied",
                                    (u_char *) "artifactType",
                                    sizeof("artifactType") - 1)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_registry_send_body(r,
                                "application/vnd.oci.image.index.v1+json",
                                body, t->json_len);
}
