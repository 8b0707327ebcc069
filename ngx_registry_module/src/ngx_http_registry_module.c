
/*
 * Copyright (C) Hephaestus developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_registry_module.h"


typedef struct {
    ngx_uint_t   methods;
    ngx_str_t    allow;
    ngx_str_t    allow_nodelete;
} ngx_http_registry_route_t;


typedef struct {
    ngx_array_t                      purges;
} ngx_http_registry_main_conf_t;


/* a registry_root whose idle upload sessions are purged */

typedef struct {
    blobstore_t                     *store;
    ngx_str_t                        root;
    time_t                           age;
    time_t                           interval;
#if (NGX_THREADS)
    ngx_thread_pool_t               *thread_pool;
#endif
} ngx_http_registry_purge_conf_t;


/* its timer and task, in the one worker that purges */

typedef struct {
    ngx_http_registry_purge_conf_t  *conf;
    ngx_event_t                      timer;
    time_t                           next;
#if (NGX_THREADS)
    ngx_thread_task_t               *task;
#endif
    int64_t                          older_than;
    size_t                           removed;
    int                              rc;
    blobstore_error_t                err;
} ngx_http_registry_purge_t;


static ngx_int_t ngx_http_registry_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_registry_split(ngx_http_request_t *r,
    ngx_http_registry_ctx_t *ctx, u_char *name, u_char *name_end,
    u_char *ref, u_char *ref_end);
static ngx_int_t ngx_http_registry_not_allowed(ngx_http_request_t *r,
    ngx_http_registry_loc_conf_t *rlcf, ngx_uint_t route);
static ngx_int_t ngx_http_registry_base(ngx_http_request_t *r);

#if (NGX_THREADS)
static void ngx_http_registry_thread_handler(void *data, ngx_log_t *log);
static void ngx_http_registry_thread_event_handler(ngx_event_t *ev);
static void ngx_http_registry_task_finish(ngx_http_request_t *r);
#endif

static ngx_int_t ngx_http_registry_header_filter(ngx_http_request_t *r);

static char *ngx_http_registry_root(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_registry_upload_purge(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static void ngx_http_registry_close_store(void *data);
static void *ngx_http_registry_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_registry_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_registry_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_registry_purge_add(ngx_conf_t *cf,
    ngx_http_registry_loc_conf_t *conf);
static ngx_int_t ngx_http_registry_init(ngx_conf_t *cf);

static ngx_int_t ngx_http_registry_init_process(ngx_cycle_t *cycle);
static void ngx_http_registry_purge_wait(ngx_http_registry_purge_t *p);
static void ngx_http_registry_purge_timer(ngx_event_t *ev);
static void ngx_http_registry_purge_work(ngx_http_registry_purge_t *p);
static void ngx_http_registry_purge_done(ngx_http_registry_purge_t *p);
#if (NGX_THREADS)
static void ngx_http_registry_purge_thread(void *data, ngx_log_t *log);
static void ngx_http_registry_purge_event(ngx_event_t *ev);
#endif
static ngx_int_t ngx_http_registry_filter_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_registry_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static void ngx_http_registry_write_behind(ngx_http_request_t *r,
    ngx_http_registry_ctx_t *ctx, ngx_fd_t fd, off_t written);
#if (NGX_THREADS)
static ngx_http_registry_ahead_t *ngx_http_registry_ahead_create(
    ngx_http_request_t *r, ngx_http_registry_ctx_t *ctx, ngx_fd_t fd);
static ngx_int_t ngx_http_registry_hash_ahead(ngx_http_request_t *r,
    ngx_http_registry_ctx_t *ctx, ngx_fd_t fd, off_t written);
static ngx_uint_t ngx_http_registry_ahead_working(
    ngx_http_registry_ahead_t *h);
static void ngx_http_registry_ahead_thread(void *data, ngx_log_t *log);
static void ngx_http_registry_ahead_event(ngx_event_t *ev);
static void ngx_http_registry_ahead_resume(ngx_http_request_t *r);
static void ngx_http_registry_ahead_detach(void *data);
static void ngx_http_registry_ahead_release(ngx_http_registry_ahead_t *h);
#endif


static ngx_http_registry_route_t  ngx_http_registry_routes[] = {

    /* NGX_HTTP_REGISTRY_BASE */
    { NGX_HTTP_GET|NGX_HTTP_HEAD,
      ngx_string("GET, HEAD"), ngx_string("GET, HEAD") },

    /* NGX_HTTP_REGISTRY_CATALOG */
    { NGX_HTTP_GET|NGX_HTTP_HEAD,
      ngx_string("GET, HEAD"), ngx_string("GET, HEAD") },

    /* NGX_HTTP_REGISTRY_TAGS */
    { NGX_HTTP_GET|NGX_HTTP_HEAD,
      ngx_string("GET, HEAD"), ngx_string("GET, HEAD") },

    /* NGX_HTTP_REGISTRY_MANIFEST */
    { NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_PUT|NGX_HTTP_DELETE,
      ngx_string("DELETE, GET, HEAD, PUT"), ngx_string("GET, HEAD, PUT") },

    /* NGX_HTTP_REGISTRY_BLOB */
    { NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_DELETE,
      ngx_string("DELETE, GET, HEAD"), ngx_string("GET, HEAD") },

    /* NGX_HTTP_REGISTRY_UPLOADS */
    { NGX_HTTP_POST,
      ngx_string("POST"), ngx_string("POST") },

    /* NGX_HTTP_REGISTRY_UPLOAD: cancelling an upload deletes no content */
    { NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_PATCH|NGX_HTTP_PUT|NGX_HTTP_DELETE,
      ngx_string("DELETE, GET, HEAD, PATCH, PUT"),
      ngx_string("DELETE, GET, HEAD, PATCH, PUT") },

    /* NGX_HTTP_REGISTRY_REFERRERS */
    { NGX_HTTP_GET|NGX_HTTP_HEAD,
      ngx_string("GET, HEAD"), ngx_string("GET, HEAD") }
};


static ngx_command_t  ngx_http_registry_commands[] = {

    { ngx_string("registry"),
      NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_registry_loc_conf_t, enable),
      NULL },

    { ngx_string("registry_root"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_registry_root,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("registry_delete"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_registry_loc_conf_t, delete),
      NULL },

    { ngx_string("registry_sync"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_registry_loc_conf_t, sync),
      NULL },

    { ngx_string("registry_catalog_cache"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_registry_loc_conf_t, catalog_cache),
      NULL },

    { ngx_string("registry_upload_purge"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_registry_upload_purge,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("registry_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_registry_loc_conf_t, thread_pool_name),
      NULL },

    { ngx_string("registry_user"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_registry_loc_conf_t, user),
      NULL },

    { ngx_string("registry_identity"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_registry_identity,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("registry_allow"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE3,
      ngx_http_registry_allow,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_registry_module_ctx = {
    ngx_http_registry_add_variables,       /* preconfiguration */
    ngx_http_registry_init,                /* postconfiguration */

    ngx_http_registry_create_main_conf,    /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_registry_create_loc_conf,     /* create location configuration */
    ngx_http_registry_merge_loc_conf       /* merge location configuration */
};


ngx_module_t  ngx_http_registry_module = {
    NGX_MODULE_V1,
    &ngx_http_registry_module_ctx,         /* module context */
    ngx_http_registry_commands,            /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_registry_init_process,        /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_module_t  ngx_http_registry_filter_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_registry_filter_init,         /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_registry_filter_module = {
    NGX_MODULE_V1,
    &ngx_http_registry_filter_module_ctx,  /* module context */
    NULL,                                  /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_request_body_filter_pt   ngx_http_next_body_filter;


static ngx_int_t
ngx_http_registry_handler(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_http_registry_ctx_t       *ctx;
    ngx_http_registry_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_registry_module);

    if (!rlcf->enable) {
        return NGX_DECLINED;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "registry request: %V \"%V?%V\"",
                   &r->method_name, &r->uri, &r->args);

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_registry_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->range_start = -1;
    ctx->range_end = -1;

    ngx_http_set_ctx(r, ctx, ngx_http_registry_module);

    rc = ngx_http_registry_parse(r, ctx);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_registry_send_error(r, NGX_HTTP_NOT_FOUND,
                                            "UNSUPPORTED", "unknown endpoint",
                                            NULL);
    }

    if (!(r->method & ngx_http_registry_routes[ctx->route].methods)
        || (r->method == NGX_HTTP_DELETE && !rlcf->delete
            && ctx->route != NGX_HTTP_REGISTRY_UPLOAD))
    {
        return ngx_http_registry_not_allowed(r, rlcf, ctx->route);
    }

    if (ctx->route != NGX_HTTP_REGISTRY_BASE
        && ctx->route != NGX_HTTP_REGISTRY_CATALOG
        && (ctx->name.len > BLOBSTORE_NAME_MAX
            || ngx_strlen(ctx->name.data) != ctx->name.len
            || blobstore_name_valid((char *) ctx->name.data) != BLOBSTORE_OK))
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "registry: client sent invalid repository name \"%V\"",
                      &ctx->name);

        return ngx_http_registry_send_error(r, NGX_HTTP_BAD_REQUEST,
                                            "NAME_INVALID",
                                            "invalid repository name",
                                            &ctx->name);
    }

    rc = ngx_http_registry_check_access(r, rlcf, ctx);

    if (rc != NGX_OK) {
        return ngx_http_registry_access_denied(r, ctx, rc);
    }

    if (!(r->method & (NGX_HTTP_PUT|NGX_HTTP_POST|NGX_HTTP_PATCH))) {
        rc = ngx_http_discard_request_body(r);

        if (rc != NGX_OK) {
            return rc;
        }
    }

    switch (ctx->route) {

    case NGX_HTTP_REGISTRY_BASE:
        return ngx_http_registry_base(r);

    case NGX_HTTP_REGISTRY_CATALOG:
        return ngx_http_registry_catalog(r, rlcf);

    case NGX_HTTP_REGISTRY_TAGS:
        return ngx_http_registry_tags(r, rlcf, ctx);

    case NGX_HTTP_REGISTRY_MANIFEST:
        return ngx_http_registry_manifest(r, rlcf, ctx);

    case NGX_HTTP_REGISTRY_BLOB:
        return ngx_http_registry_blob(r, rlcf, ctx);

    case NGX_HTTP_REGISTRY_UPLOADS:
        return ngx_http_registry_upload_start(r, rlcf, ctx);

    case NGX_HTTP_REGISTRY_UPLOAD:
        return ngx_http_registry_upload(r, rlcf, ctx);

    default: /* NGX_HTTP_REGISTRY_REFERRERS */
        return ngx_http_registry_referrers(r, rlcf, ctx);
    }
}


/*
 * Repository names hold slashes, so the path is taken apart from the
 * right: the last segment or two decide the endpoint, the rest is the name.
 */

ngx_int_t
ngx_http_registry_parse(ngx_http_request_t *r, ngx_http_registry_ctx_t *ctx)
{
    size_t   len;
    u_char  *p, *last, *ref, *seg;

    p = r->uri.data;
    last = p + r->uri.len;

    if (r->uri.len < 4 || ngx_strncmp(p, "/v2/", 4) != 0) {
        return NGX_DECLINED;
    }

    p += 4;
    len = last - p;

    if (len == 0) {
        ctx->route = NGX_HTTP_REGISTRY_BASE;
        return NGX_OK;
    }

    if (len == sizeof("_catalog") - 1
        && ngx_strncmp(p, "_catalog", len) == 0)
    {
        ctx->route = NGX_HTTP_REGISTRY_CATALOG;
        return NGX_OK;
    }

    if (len > sizeof("/tags/list") - 1
        && ngx_strncmp(last - 10, "/tags/list", 10) == 0)
    {
        ctx->route = NGX_HTTP_REGISTRY_TAGS;
        return ngx_http_registry_split(r, ctx, p, last - 10, NULL, NULL);
    }

    if (len > sizeof("/blobs/uploads/") - 1
        && ngx_strncmp(last - 15, "/blobs/uploads/", 15) == 0)
    {
        ctx->route = NGX_HTTP_REGISTRY_UPLOADS;
        return ngx_http_registry_split(r, ctx, p, last - 15, NULL, NULL);
    }

    if (len > sizeof("/blobs/uploads") - 1
        && ngx_strncmp(last - 14, "/blobs/uploads", 14) == 0)
    {
        ctx->route = NGX_HTTP_REGISTRY_UPLOADS;
        return ngx_http_registry_split(r, ctx, p, last - 14, NULL, NULL);
    }

    ref = last;

    while (ref > p && ref[-1] != '/') {
        ref--;
    }

    if (ref == last || ref - p < 2) {
        return NGX_DECLINED;
    }

    seg = ref - 1;

    while (seg > p && seg[-1] != '/') {
        seg--;
    }

    if (seg - p < 2) {
        return NGX_DECLINED;
    }

    len = ref - 1 - seg;

    if (len == sizeof("manifests") - 1
        && ngx_strncmp(seg, "manifests", len) == 0)
    {
        ctx->route = NGX_HTTP_REGISTRY_MANIFEST;

    } else if (len == sizeof("blobs") - 1
               && ngx_strncmp(seg, "blobs", len) == 0)
    {
        ctx->route = NGX_HTTP_REGISTRY_BLOB;

    } else if (len == sizeof("referrers") - 1
               && ngx_strncmp(seg, "referrers", len) == 0)
    {
        ctx->route = NGX_HTTP_REGISTRY_REFERRERS;

    } else if (len == sizeof("uploads") - 1
               && ngx_strncmp(seg, "uploads", len) == 0
               && seg - p >= (ssize_t) sizeof("/blobs/")
               && ngx_strncmp(seg - 7, "/blobs/", 7) == 0)
    {
        ctx->route = NGX_HTTP_REGISTRY_UPLOAD;
        seg -= 6;

    } else {
        return NGX_DECLINED;
    }

    return ngx_http_registry_split(r, ctx, p, seg - 1, ref, last);
}


static ngx_int_t
ngx_http_registry_split(ngx_http_request_t *r, ngx_http_registry_ctx_t *ctx,
    u_char *name, u_char *name_end, u_char *ref, u_char *ref_end)
{
    if (name_end <= name) {
        return NGX_DECLINED;
    }

    ctx->name.len = name_end - name;
    ctx->name.data = (u_char *) ngx_http_registry_cstr(r->pool, name,
                                                       ctx->name.len);
    if (ctx->name.data == NULL) {
        return NGX_ERROR;
    }

    if (ref == NULL) {
        return NGX_OK;
    }

    ctx->ref.len = ref_end - ref;
    ctx->ref.data = (u_char *) ngx_http_registry_cstr(r->pool, ref,
                                                      ctx->ref.len);
    if (ctx->ref.data == NULL) {
        return NGX_ERROR;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "registry route:%ui name:\"%V\" ref:\"%V\"",
                   ctx->route, &ctx->name, &ctx->ref);

    return NGX_OK;
}


static ngx_int_t
ngx_http_registry_not_allowed(ngx_http_request_t *r,
    ngx_http_registry_loc_conf_t *rlcf, ngx_uint_t route)
{
    char       *message;
    ngx_str_t  *allow;

    allow = rlcf->delete ? &ngx_http_registry_routes[route].allow
                         : &ngx_http_registry_routes[route].allow_nodelete;

    if (ngx_http_registry_header(r, "Allow", allow->data, allow->len)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    message = (r->method == NGX_HTTP_DELETE && !rlcf->delete)
              ? "deletes are disabled" : "method not allowed";

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "registry: %s: %V \"%V\"", message, &r->method_name,
                  &r->uri);

    return ngx_http_registry_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                        "UNSUPPORTED", message, NULL);
}


/*
 * The base answer also tells the web UI what this location allows and
 * who nginx says the user is; neither header is taken from the client.
 */

static ngx_int_t
ngx_http_registry_base(ngx_http_request_t *r)
{
    ngx_str_t                      user;
    ngx_http_complex_value_t      *cv;
    ngx_http_registry_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_registry_module);

    if (rlcf->delete
        && ngx_http_registry_header(r, "X-Registry-Delete",
                                    (u_char *) "enabled", 7)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cv = rlcf->user ? rlcf->user : rlcf->identity_user;

    if (cv != NULL) {
        if (ngx_http_complex_value(r, cv, &user) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (user.len
            && ngx_http_registry_header(r, "X-Registry-User", user.data,
                                        user.len)
               != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_registry_send_body(r, NULL, (u_char *) "{}", 2);
}


ngx_http_registry_task_t *
ngx_http_registry_task_create(ngx_http_request_t *r,
    ngx_http_registry_done_pt done)
{
    ngx_http_registry_ctx_t       *ctx;
    ngx_http_registry_task_t      *t;
    ngx_http_registry_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_registry_module);
    ctx = ngx_http_get_module_ctx(r, ngx_http_registry_module);

    t = ngx_pcalloc(r->pool, sizeof(ngx_http_registry_task_t));
    if (t == NULL) {
        return NULL;
    }

    t->done = done;
    t->store = rlcf->store;
    t->name = (char *) ctx->name.data;
    t->id = (char *) ctx->ref.data;
    t->fd = NGX_INVALID_FILE;
    t->offset = -1;

    return t;
}


/*
 * Runs t->work in the location's thread pool, then t->done back in the
 * event loop, whose result finalizes the request.  Returns NGX_DONE when
 * the task is queued: the request holds a reference of its own until
 * then, so the caller drops its own as usual.
 */

ngx_int_t
ngx_http_registry_run_task(ngx_http_request_t *r, ngx_http_registry_task_t *t)
{
#if (NGX_THREADS)
    ngx_thread_task_t             *task;
    ngx_http_registry_ctx_t       *ctx;
    ngx_http_registry_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_registry_module);
    ctx = ngx_http_get_module_ctx(r, ngx_http_registry_module);

    task = ngx_thread_task_alloc(r->pool, 0);
    if (task == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    task->ctx = t;
    task->handler = ngx_http_registry_thread_handler;
    task->event.data = r;
    task->event.handler = ngx_http_registry_thread_event_handler;

    if (ngx_thread_task_post(rlcf->thread_pool, task) != NGX_OK) {
        return ngx_http_registry_send_error(r,
                                            NGX_HTTP_INTERNAL_SERVER_ERROR,
                                            "UNKNOWN", "unknown error", NULL);
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "registry task posted: \"%V\"", &r->uri);

    ctx->task = t;

    r->main->blocked++;
    r->main->count++;
    r->write_event_handler = ngx_http_registry_task_finish;

    return NGX_DONE;

#else

    t->work(t);
    t->finished = 1;

    return t->done(r, t);

#endif
}


#if (NGX_THREADS)

static void
ngx_http_registry_thread_handler(void *data, ngx_log_t *log)
{
    ngx_http_registry_task_t  *t = data;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, log, 0, "registry thread task");

    t->work(t);
}


static void
ngx_http_registry_thread_event_handler(ngx_event_t *ev)
{
    ngx_connection_t         *c;
    ngx_http_request_t       *r;
    ngx_http_registry_ctx_t  *ctx;

    r = ev->data;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "registry task done: \"%V\"", &r->uri);

    r->main->blocked--;

    ctx = ngx_http_get_module_ctx(r, ngx_http_registry_module);
    ctx->task->finished = 1;

    /*
     * the write event handler is ngx_http_registry_task_finish(), or the
     * finalizer when the request was terminated meanwhile
     */

    r->write_event_handler(r);
    ngx_http_run_posted_requests(c);
}


static void
ngx_http_registry_task_finish(ngx_http_request_t *r)
{
    ngx_http_registry_ctx_t   *ctx;
    ngx_http_registry_task_t  *t;

    ctx = ngx_http_get_module_ctx(r, ngx_http_registry_module);
    t = ctx->task;

    if (t == NULL || !t->finished) {
        /* a write event while the thread still works */
        return;
    }

    ctx->task = NULL;
    r->write_event_handler = ngx_http_request_empty_handler;

    ngx_http_finalize_request(r, t->done(r, t));
}

#endif


ngx_int_t
ngx_http_registry_read_body(ngx_http_request_t *r,
    ngx_http_client_body_handler_pt handler)
{
    ngx_int_t  rc;

    /*
     * The spool file keeps its name until the request ends (nginx would
     * otherwise unlink it at once), so that the library can link it into
     * an upload; nginx removes the name then.
     */

    r->request_body_in_file_only = 1;
    r->request_body_in_persistent_file = 1;
    r->request_body_in_clean_file = 1;
    r->request_body_file_log_level = 0;

    rc = ngx_http_read_client_request_body(r, handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


void
ngx_http_registry_body_file(ngx_http_request_t *r, ngx_fd_t *fd,
    int64_t *len)
{
    ngx_http_request_body_t  *rb;

    rb = r->request_body;

    if (rb == NULL || rb->temp_file == NULL) {
        *fd = NGX_INVALID_FILE;
        *len = 0;
        return;
    }

    *fd = rb->temp_file->file.fd;
    *len = rb->temp_file->file.offset;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "registry body: %L bytes in \"%V\"",
                   *len, &rb->temp_file->file.name);
}


/*
 * The name of the body's temporary file (nginx ends it with a NUL): the
 * library links the file into an empty upload instead of copying it.
 */

char *
ngx_http_registry_body_path(ngx_http_request_t *r)
{
    ngx_http_request_body_t  *rb;

    rb = r->request_body;

    if (rb == NULL || rb->temp_file == NULL) {
        return NULL;
    }

    return (char *) rb->temp_file->file.name.data;
}


/* the end of a body handler: drops the reference of the body reading */

void
ngx_http_registry_body_done(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_http_finalize_request(r, rc);
}


ngx_int_t
ngx_http_registry_arg(ngx_http_request_t *r, char *name, size_t len,
    ngx_str_t *value)
{
    u_char     *dst, *src;
    ngx_str_t   raw;

    if (ngx_http_arg(r, (u_char *) name, len, &raw) != NGX_OK) {
        return NGX_DECLINED;
    }

    value->data = ngx_pnalloc(r->pool, raw.len + 1);
    if (value->data == NULL) {
        return NGX_ERROR;
    }

    src = raw.data;
    dst = value->data;

    ngx_unescape_uri(&dst, &src, raw.len, 0);

    *dst = '\0';
    value->len = dst - value->data;

    if (ngx_strlen(value->data) != value->len) {

        /*
         * a %00 inside: a byte that no grammar allows stands in for the
         * whole value, which can then never pass for a valid one
         */

        value->data[0] = '\x01';
        value->data[1] = '\0';
        value->len = 1;
    }

    return NGX_OK;
}


char *
ngx_http_registry_cstr(ngx_pool_t *pool, u_char *data, size_t len)
{
    u_char  *p;

    p = ngx_pnalloc(pool, len + 1);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, data, len);
    p[len] = '\0';

    return (char *) p;
}


ngx_int_t
ngx_http_registry_header(ngx_http_request_t *r, char *key, u_char *value,
    size_t len)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value.data = value;
    h->value.len = len;

    return NGX_OK;
}


/* the first header named key, in any case; a zero hash marks a deleted one */

ngx_table_elt_t *
ngx_http_registry_find_header(ngx_list_t *headers, char *key)
{
    size_t            len;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    len = ngx_strlen(key);
    part = &headers->part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash != 0
            && h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) key, len) == 0)
        {
            return &h[i];
        }
    }
}


/*
 * Location is pushed as a plain header, not through headers_out.location,
 * so that the header filter leaves it relative.
 */

ngx_int_t
ngx_http_registry_location(ngx_http_request_t *r, ngx_str_t *name,
    char *kind, u_char *ref)
{
    size_t   len;
    u_char  *p, *last;

    len = sizeof("/v2///") + name->len + ngx_strlen(kind) + ngx_strlen(ref);

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    last = ngx_snprintf(p, len, "/v2/%V/%s/%s", name, kind, ref);

    return ngx_http_registry_header(r, "Location", p, last - p);
}


ngx_int_t
ngx_http_registry_send_empty(ngx_http_request_t *r, ngx_uint_t status)
{
    r->headers_out.status = status;

    if (status != NGX_HTTP_NO_CONTENT) {
        r->headers_out.content_length_n = 0;
    }

    r->header_only = 1;

    return ngx_http_send_header(r);
}


ngx_int_t
ngx_http_registry_send_body(ngx_http_request_t *r, char *type, u_char *data,
    size_t len)
{
    ngx_buf_t    *b;
    ngx_int_t     rc;
    ngx_chain_t   out;

    if (type == NULL) {
        type = "application/json; charset=utf-8";
    }

    if (r->headers_out.status == 0) {
        r->headers_out.status = NGX_HTTP_OK;
    }

    r->headers_out.content_type.data = (u_char *) type;
    r->headers_out.content_type.len = ngx_strlen(type);
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = data;
    b->last = data + len;
    b->memory = len ? 1 : 0;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;
    b->sync = len ? 0 : 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/*
 * Sends a blob or manifest from an open file through nginx's own file
 * output, so that sendfile, the range filter and the not modified filter
 * do their work.  The fd is closed with the request pool in every case.
 */

ngx_int_t
ngx_http_registry_send_fd(ngx_http_request_t *r, ngx_fd_t fd,
    blobstore_info_t *info, ngx_uint_t blob)
{
    return ngx_http_registry_send(r, fd, NULL, info, blob);
}


/*
 * Sends a blob or manifest: from the open file fd, or, when fd is
 * NGX_INVALID_FILE, from mem (info->size bytes of the request's pool).
 */

ngx_int_t
ngx_http_registry_send(ngx_http_request_t *r, ngx_fd_t fd, u_char *mem,
    blobstore_info_t *info, ngx_uint_t blob)
{
    size_t                     len;
    u_char                    *etag, *name;
    ngx_buf_t                 *b;
    ngx_int_t                  rc;
    ngx_chain_t                out;
    ngx_pool_cleanup_t        *cln;
    ngx_pool_cleanup_file_t   *clnf;

    len = ngx_strlen(info->digest);

    name = (u_char *) ngx_http_registry_cstr(r->pool, (u_char *) info->digest,
                                             len);

    if (fd != NGX_INVALID_FILE) {
        cln = ngx_pool_cleanup_add(r->pool,
                                   sizeof(ngx_pool_cleanup_file_t));
        if (cln == NULL) {
            (void) ngx_close_file(fd);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        clnf = cln->data;
        clnf->fd = fd;
        clnf->name = name;
        clnf->log = r->pool->log;

        cln->handler = ngx_pool_cleanup_file;
    }

    if (name == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    etag = ngx_pnalloc(r->pool, len + 2);
    if (etag == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    etag[0] = '"';
    ngx_memcpy(etag + 1, info->digest, len);
    etag[len + 1] = '"';

    r->headers_out.etag = ngx_list_push(&r->headers_out.headers);
    if (r->headers_out.etag == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.etag->hash = 1;
    ngx_str_set(&r->headers_out.etag->key, "ETag");
    r->headers_out.etag->value.data = etag;
    r->headers_out.etag->value.len = len + 2;

    if (ngx_http_registry_header(r, "Docker-Content-Digest", name, len)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* Accept-Ranges comes from the range filter, as r->allow_ranges is set */

    if (blob) {
        if (ngx_http_registry_header(r, "Cache-Control",
                                     (u_char *) "max-age=31536000",
                                     sizeof("max-age=31536000") - 1)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_str_set(&r->headers_out.content_type,
                    "application/octet-stream");

    } else {
        r->headers_out.content_type.len = ngx_strlen(info->media_type);
        r->headers_out.content_type.data = (u_char *) ngx_http_registry_cstr(
                     r->pool, (u_char *) info->media_type,
                     r->headers_out.content_type.len);

        if (r->headers_out.content_type.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = info->size;
    r->headers_out.last_modified_time = (time_t) info->mtime;
    r->allow_ranges = 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (fd == NGX_INVALID_FILE) {
        b->start = mem;
        b->pos = mem;
        b->last = mem + info->size;
        b->end = b->last;
        b->memory = (info->size > 0) ? 1 : 0;

    } else {
        b->file = ngx_pcalloc(r->pool, sizeof(ngx_file_t));
        if (b->file == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        b->file->fd = fd;
        b->file->name.data = name;
        b->file->name.len = len;
        b->file->log = r->connection->log;

        b->file_pos = 0;
        b->file_last = info->size;
        b->in_file = (info->size > 0) ? 1 : 0;
    }

    b->sync = (info->size > 0) ? 0 : 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static ngx_int_t
ngx_http_registry_header_filter(ngx_http_request_t *r)
{
    ngx_http_registry_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_registry_module);

    if (r != r->main || rlcf == NULL || rlcf->enable != 1) {
        return ngx_http_next_header_filter(r);
    }

    if (ngx_http_registry_find_header(&r->headers_out.headers,
                                      "Docker-Distribution-Api-Version")
        == NULL
        && ngx_http_registry_header(r, "Docker-Distribution-Api-Version",
                                    (u_char *) "registry/2.0",
                                    sizeof("registry/2.0") - 1)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    /*
     * What clients push is served from the UI's origin: a browser must
     * never take a blob or a manifest for a page.
     */

    if (ngx_http_registry_find_header(&r->headers_out.headers,
                                      "X-Content-Type-Options")
        == NULL
        && ngx_http_registry_header(r, "X-Content-Type-Options",
                                    (u_char *) "nosniff",
                                    sizeof("nosniff") - 1)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_next_header_filter(r);
}


static char *
ngx_http_registry_root(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_registry_loc_conf_t *rlcf = conf;

    ngx_str_t  *value;

    if (rlcf->root.data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    rlcf->root = value[1];

    if (rlcf->root.len == 0) {
        return "takes an empty path";
    }

    if (ngx_conf_full_name(cf->cycle, &rlcf->root, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* registry_upload_purge off | age [interval] */

static char *
ngx_http_registry_upload_purge(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_registry_loc_conf_t *rlcf = conf;

    time_t      age, interval;
    ngx_str_t  *value;

    if (rlcf->upload_purge_age != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        rlcf->upload_purge_age = 0;
        rlcf->upload_purge_interval = 0;
        return NGX_CONF_OK;
    }

    age = ngx_parse_time(&value[1], 1);

    if (age == (time_t) NGX_ERROR || age == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid age \"%V\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    interval = NGX_HTTP_REGISTRY_PURGE_INTERVAL;

    if (cf->args->nelts == 3) {
        interval = ngx_parse_time(&value[2], 1);

        if (interval == (time_t) NGX_ERROR || interval == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid interval \"%V\"", &value[2]);
            return NGX_CONF_ERROR;
        }
    }

    rlcf->upload_purge_age = age;
    rlcf->upload_purge_interval = interval;

    return NGX_CONF_OK;
}


static void
ngx_http_registry_close_store(void *data)
{
    blobstore_close(data);
}


static void *
ngx_http_registry_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_registry_main_conf_t  *rmcf;

    rmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_registry_main_conf_t));
    if (rmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&rmcf->purges, cf->pool, 1,
                       sizeof(ngx_http_registry_purge_conf_t))
        != NGX_OK)
    {
        return NULL;
    }

    return rmcf;
}


static void *
ngx_http_registry_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_registry_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_registry_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->root = { 0, NULL };
     *     conf->thread_pool_name = { 0, NULL };
     *     conf->store = NULL;
     *     conf->thread_pool = NULL;
     *     conf->user = NULL;
     *     conf->identity_user = NULL;
     *     conf->identity_groups = NULL;
     *     conf->rules = NULL;
     */

    conf->enable = NGX_CONF_UNSET;
    conf->delete = NGX_CONF_UNSET;
    conf->sync = NGX_CONF_UNSET;
    conf->catalog_cache = NGX_CONF_UNSET;
    conf->upload_purge_age = NGX_CONF_UNSET;
    conf->upload_purge_interval = NGX_CONF_UNSET;

    return conf;
}


static char *
ngx_http_registry_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_registry_loc_conf_t *prev = parent;
    ngx_http_registry_loc_conf_t *conf = child;

    int                   rc;
    blobstore_error_t     err;
    ngx_pool_cleanup_t   *cln;
    blobstore_options_t   opts = BLOBSTORE_OPTIONS_INIT;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_value(conf->delete, prev->delete, 0);
    ngx_conf_merge_value(conf->sync, prev->sync, 1);
    ngx_conf_merge_sec_value(conf->catalog_cache, prev->catalog_cache,
                             BLOBSTORE_CATALOG_TTL);
    ngx_conf_merge_sec_value(conf->upload_purge_age, prev->upload_purge_age,
                             NGX_HTTP_REGISTRY_PURGE_AGE);
    ngx_conf_merge_sec_value(conf->upload_purge_interval,
                             prev->upload_purge_interval,
                             NGX_HTTP_REGISTRY_PURGE_INTERVAL);
    ngx_conf_merge_str_value(conf->root, prev->root, "");
    ngx_conf_merge_str_value(conf->thread_pool_name,
                             prev->thread_pool_name, "default");

    if (conf->user == NULL) {
        conf->user = prev->user;
    }

    if (conf->identity_user == NULL) {
        conf->identity_user = prev->identity_user;
        conf->identity_groups = prev->identity_groups;
    }

    if (conf->rules == NULL) {
        conf->rules = prev->rules;
    }

    if (!conf->enable) {
        return NGX_CONF_OK;
    }

    if (conf->root.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"registry_root\" is required where "
                           "\"registry\" is on");
        return NGX_CONF_ERROR;
    }

#if (NGX_THREADS)

    conf->thread_pool = ngx_thread_pool_add(cf, &conf->thread_pool_name);
    if (conf->thread_pool == NULL) {
        return NGX_CONF_ERROR;
    }

#endif

    if (prev->store
        && prev->sync == conf->sync
        && prev->catalog_cache == conf->catalog_cache
        && prev->root.len == conf->root.len
        && ngx_strncmp(prev->root.data, conf->root.data, conf->root.len) == 0)
    {
        conf->store = prev->store;
        return ngx_http_registry_purge_add(cf, conf);
    }

    opts.fsync = conf->sync ? 1 : 0;
    opts.catalog_ttl = (unsigned int) conf->catalog_cache;

    rc = blobstore_open(&conf->store, (char *) conf->root.data, &opts, &err);

    if (rc != BLOBSTORE_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf,
                           rc == BLOBSTORE_EIO ? err.sys_errno : 0,
                           "registry_root \"%V\": %s", &conf->root,
                           err.message);
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        blobstore_close(conf->store);
        conf->store = NULL;
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_registry_close_store;
    cln->data = conf->store;

    return ngx_http_registry_purge_add(cf, conf);
}


/*
 * Notes the store of a registry location for purging.  The purge walks
 * the whole folder, so there is one per registry_root: where locations
 * sharing one disagree, the shortest age and interval win.
 */

static char *
ngx_http_registry_purge_add(ngx_conf_t *cf,
    ngx_http_registry_loc_conf_t *conf)
{
    ngx_uint_t                       i;
    ngx_http_registry_main_conf_t   *rmcf;
    ngx_http_registry_purge_conf_t  *pc;

    if (conf->upload_purge_age == 0) {
        return NGX_CONF_OK;
    }

    rmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_registry_module);

    pc = rmcf->purges.elts;

    for (i = 0; i < rmcf->purges.nelts; i++) {
        if (pc[i].root.len == conf->root.len
            && ngx_strncmp(pc[i].root.data, conf->root.data,
                           conf->root.len)
               == 0)
        {
            pc[i].age = ngx_min(pc[i].age, conf->upload_purge_age);
            pc[i].interval = ngx_min(pc[i].interval,
                                     conf->upload_purge_interval);
            return NGX_CONF_OK;
        }
    }

    pc = ngx_array_push(&rmcf->purges);
    if (pc == NULL) {
        return NGX_CONF_ERROR;
    }

    pc->store = conf->store;
    pc->root = conf->root;
    pc->age = conf->upload_purge_age;
    pc->interval = conf->upload_purge_interval;
#if (NGX_THREADS)
    pc->thread_pool = conf->thread_pool;
#endif

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_registry_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_CONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_registry_handler;

    return NGX_OK;
}


/*
 * Upload sessions left idle are purged by worker 0 alone, from a timer
 * that does not hold the worker back when it shuts down, in the thread
 * pool of the first location that uses the store.
 */

static ngx_int_t
ngx_http_registry_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                       i;
    ngx_http_registry_purge_t       *p;
    ngx_http_registry_main_conf_t   *rmcf;
    ngx_http_registry_purge_conf_t  *pc;
#if (NGX_THREADS)
    ngx_thread_task_t               *task;
#endif

    if ((ngx_process != NGX_PROCESS_WORKER
         && ngx_process != NGX_PROCESS_SINGLE)
        || ngx_worker != 0)
    {
        return NGX_OK;
    }

    rmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_registry_module);
    if (rmcf == NULL) {
        return NGX_OK;
    }

    pc = rmcf->purges.elts;

    for (i = 0; i < rmcf->purges.nelts; i++) {

#if (NGX_THREADS)

        task = ngx_thread_task_alloc(cycle->pool,
                                     sizeof(ngx_http_registry_purge_t));
        if (task == NULL) {
            return NGX_ERROR;
        }

        p = task->ctx;
        p->task = task;

        task->handler = ngx_http_registry_purge_thread;
        task->event.handler = ngx_http_registry_purge_event;
        task->event.data = p;
        task->event.log = cycle->log;

#else

        p = ngx_pcalloc(cycle->pool, sizeof(ngx_http_registry_purge_t));
        if (p == NULL) {
            return NGX_ERROR;
        }

#endif

        p->conf = &pc[i];
        p->timer.handler = ngx_http_registry_purge_timer;
        p->timer.data = p;
        p->timer.log = cycle->log;
        p->timer.cancelable = 1;

        /*
         * As registry:2, the first purge comes at a random time within
         * the first hour (or interval): servers sharing the folder and
         * started together then seldom walk it at the same time.
         */

        p->next = ngx_time()
                  + (time_t) (ngx_random() % ngx_min(pc[i].interval, 3600));

        ngx_http_registry_purge_wait(p);
    }

    return NGX_OK;
}


/*
 * Arms the timer for p->next, an hour at most at a time, so that any
 * interval fits a 32-bit ngx_msec_t (a month in milliseconds does not).
 */

static void
ngx_http_registry_purge_wait(ngx_http_registry_purge_t *p)
{
    time_t  delay;

    delay = p->next - ngx_time();

    if (delay < 0) {
        delay = 0;
    }

    delay = ngx_min(delay, 3600);

    ngx_add_timer(&p->timer, (ngx_msec_t) delay * 1000);
}


static void
ngx_http_registry_purge_timer(ngx_event_t *ev)
{
    ngx_http_registry_purge_t  *p = ev->data;

    if (ngx_exiting || ngx_terminate) {
        return;
    }

    if (ngx_time() < p->next) {
        ngx_http_registry_purge_wait(p);
        return;
    }

    p->older_than = (int64_t) (ngx_time() - p->conf->age);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "registry purge \"%V\" before %L",
                   &p->conf->root, p->older_than);

#if (NGX_THREADS)

    if (ngx_thread_task_post(p->conf->thread_pool, p->task) == NGX_OK) {
        return;
    }

    /* the pool said why; the next purge is an interval away */

    p->next = ngx_time() + p->conf->interval;
    ngx_http_registry_purge_wait(p);

#else

    ngx_http_registry_purge_work(p);
    ngx_http_registry_purge_done(p);

#endif
}


static void
ngx_http_registry_purge_work(ngx_http_registry_purge_t *p)
{
    p->removed = 0;
    p->rc = blobstore_upload_purge(&p->removed, p->conf->store,
                                   p->older_than, &p->err);
}


static void
ngx_http_registry_purge_done(ngx_http_registry_purge_t *p)
{
    ngx_log_t  *log;

    log = p->timer.log;

    if (p->rc != BLOBSTORE_OK) {
        p->err.message[sizeof(p->err.message) - 1] = '\0';

        ngx_log_error(NGX_LOG_CRIT, log, p->err.sys_errno,
                      "registry: purging upload sessions in \"%V\" "
                      "failed: %s", &p->conf->root, p->err.message);
    }

    if (p->removed > 0) {
        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "registry: upload sessions idle for over %T s in "
                      "\"%V\": %uz removed",
                      p->conf->age, &p->conf->root, p->removed);
    }

    if (ngx_exiting || ngx_terminate) {
        return;
    }

    p->next = ngx_time() + p->conf->interval;
    ngx_http_registry_purge_wait(p);
}


#if (NGX_THREADS)

static void
ngx_http_registry_purge_thread(void *data, ngx_log_t *log)
{
    ngx_http_registry_purge_t  *p = data;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, log, 0, "registry purge thread");

    ngx_http_registry_purge_work(p);
}


static void
ngx_http_registry_purge_event(ngx_event_t *ev)
{
    ngx_http_registry_purge_done(ev->data);
}

#endif


static ngx_int_t
ngx_http_registry_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_registry_header_filter;

    ngx_http_next_body_filter = ngx_http_top_request_body_filter;
    ngx_http_top_request_body_filter = ngx_http_registry_body_filter;

    return NGX_OK;
}


/*
 * While a blob's body is still arriving, the part nginx has spooled is
 * hashed every MiB or so in the thread pool (the library's "ahead"
 * state) and, for a body at offset 0 with syncing on, handed to the disk:
 * the body is linked into the upload as it is, and the task after the
 * last byte then has only the rest to hash and to flush.
 *
 * The tasks hold no reference on the request: they work on a holder of
 * their own (the state, a dup of the spool file's fd, the session's name
 * and id) that lives until the request and every queued task are done
 * with it.  A request finalized, redirected or terminated meanwhile only
 * detaches itself from the holder.
 */

#if (NGX_THREADS)

typedef struct {
    ngx_http_registry_ahead_t  *holder;
    off_t                       from;
    off_t                       to;
    ngx_flag_t                  sync;
    ngx_flag_t                  seed;
    int                         rc;
    ngx_uint_t                  queued;    /* posted, its event not run */
    volatile ngx_uint_t         working;   /* its thread is not done */
} ngx_http_registry_ahead_task_t;


struct ngx_http_registry_ahead_s {
    blobstore_ahead_t          *state;
    blobstore_t                *store;
    ngx_http_request_t         *request;   /* NULL once it is gone */
    ngx_http_registry_ctx_t    *ctx;
    ngx_fd_t                    fd;
    ngx_uint_t                  refs;
    ngx_uint_t                  pending;   /* tasks queued */
    ngx_thread_task_t          *tasks[2];
    char                        name[BLOBSTORE_NAME_MAX + 1];
    char                        id[BLOBSTORE_UUID_LEN + 1];
};

#endif


static ngx_int_t
ngx_http_registry_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    off_t                     written;
    ngx_int_t                 rc;
    ngx_temp_file_t          *tf;
    ngx_http_registry_ctx_t  *ctx;

    rc = ngx_http_next_body_filter(r, in);

    ctx = ngx_http_get_module_ctx(r, ngx_http_registry_module);

    if (rc != NGX_OK || ctx == NULL || (!ctx->hash_body && !ctx->write_body)
        || r->request_body == NULL || r->request_body->temp_file == NULL)
    {
        return rc;
    }

    tf = r->request_body->temp_file;
    written = tf->file.offset;

    /* the last bytes are the final task's own */

    if (r->request_body->rest == 0) {
        return rc;
    }

#if (NGX_THREADS)

    if (ctx->hash_body) {
        if (written - ctx->body_hashed < NGX_HTTP_REGISTRY_HASH_AHEAD
            || ngx_http_registry_ahead_working(ctx->ahead))
        {
            return rc;
        }

        if (ngx_http_registry_hash_ahead(r, ctx, tf->file.fd, written)
            != NGX_ERROR)
        {
            return rc;
        }

        /* no task: the final one hashes everything, as without threads */

        ctx->hash_body = 0;
    }

#endif

    if (ctx->write_body
        && written - ctx->body_written >= NGX_HTTP_REGISTRY_WRITE_BEHIND)
    {
        ngx_http_registry_write_behind(r, ctx, tf->file.fd, written);
        ctx->body_written = written;
    }

    return rc;
}


static void
ngx_http_registry_write_behind(ngx_http_request_t *r,
    ngx_http_registry_ctx_t *ctx, ngx_fd_t fd, off_t written)
{
#if (NGX_LINUX)
    ngx_http_registry_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_registry_module);

    if (rlcf->sync) {
        (void) sync_file_range(fd, ctx->body_written,
                               written - ctx->body_written,
                               SYNC_FILE_RANGE_WRITE);
    }
#endif
}


#if (NGX_THREADS)

static ngx_http_registry_ahead_t *
ngx_http_registry_ahead_create(ngx_http_request_t *r,
    ngx_http_registry_ctx_t *ctx, ngx_fd_t fd)
{
    ngx_pool_cleanup_t            *cln;
    ngx_http_registry_ahead_t     *h;
    ngx_http_registry_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_registry_module);

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    h = ngx_calloc(sizeof(ngx_http_registry_ahead_t), r->connection->log);
    if (h == NULL) {
        return NULL;
    }

    if (blobstore_ahead_new(&h->state, NULL) != BLOBSTORE_OK) {
        ngx_free(h);
        return NULL;
    }

    h->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (h->fd == NGX_INVALID_FILE) {
        blobstore_ahead_free(h->state);
        ngx_free(h);
        return NULL;
    }

    h->store = rlcf->store;
    h->request = r;
    h->ctx = ctx;
    h->refs = 1;

    if (ctx->seed_body && ctx->name.len <= BLOBSTORE_NAME_MAX
        && ngx_strlen(ctx->ref.data) <= BLOBSTORE_UUID_LEN)
    {
        ngx_memcpy(h->name, ctx->name.data, ctx->name.len);
        ngx_memcpy(h->id, ctx->ref.data, ngx_strlen(ctx->ref.data));
    }

    cln->handler = ngx_http_registry_ahead_detach;
    cln->data = h;

    return h;
}


static ngx_int_t
ngx_http_registry_hash_ahead(ngx_http_request_t *r,
    ngx_http_registry_ctx_t *ctx, ngx_fd_t fd, off_t written)
{
    ngx_uint_t                       i;
    ngx_thread_task_t               *task;
    ngx_http_registry_ahead_t       *h;
    ngx_http_registry_ahead_task_t  *at;
    ngx_http_registry_loc_conf_t    *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_registry_module);

    if (ctx->ahead == NULL) {
        ctx->ahead = ngx_http_registry_ahead_create(r, ctx, fd);
        if (ctx->ahead == NULL) {
            return NGX_ERROR;
        }
    }

    h = ctx->ahead;

    /*
     * One thread at a time works on the state, but nginx reads a fast
     * body in one go and runs the event of a finished task only after
     * it: so two tasks take turns, and a task is posted again as soon as
     * the other's thread is done, its event still pending.  They are
     * allocated apart from the request, which may end before them.
     */

    for (i = 0; i < 2; i++) {
        task = h->tasks[i];

        if (task == NULL) {
            task = ngx_calloc(sizeof(ngx_thread_task_t)
                              + sizeof(ngx_http_registry_ahead_task_t),
                              r->connection->log);
            if (task == NULL) {
                return NGX_ERROR;
            }

            task->ctx = task + 1;
            h->tasks[i] = task;
            break;
        }

        at = task->ctx;
        if (!at->queued) {
            break;
        }
    }

    if (i == 2) {
        return NGX_AGAIN;
    }

    at = task->ctx;
    ngx_memzero(at, sizeof(ngx_http_registry_ahead_task_t));
    at->holder = h;
    at->to = written;
    at->seed = (ctx->body_hashed == 0 && h->name[0] != '\0');

    if (rlcf->sync && ctx->write_body
        && written - ctx->body_written >= NGX_HTTP_REGISTRY_WRITE_BEHIND)
    {
        at->sync = 1;
        at->from = ctx->body_written;
    }

    task->handler = ngx_http_registry_ahead_thread;
    task->event.data = at;
    task->event.handler = ngx_http_registry_ahead_event;

    at->working = 1;

    if (ngx_thread_task_post(rlcf->thread_pool, task) != NGX_OK) {
        at->working = 0;
        return NGX_ERROR;
    }

    at->queued = 1;
    h->pending++;
    h->refs++;
    ctx->body_hashed = written;

    if (at->sync) {
        ctx->body_written = written;
    }

    return NGX_OK;
}


static void
ngx_http_registry_ahead_thread(void *data, ngx_log_t *log)
{
    ngx_http_registry_ahead_task_t  *at = data;

    ngx_http_registry_ahead_t  *h;

    h = at->holder;
    at->rc = BLOBSTORE_OK;

    if (at->seed) {
        at->rc = blobstore_ahead_seed(h->state, h->store, h->name, h->id,
                                      NULL);
    }

    if (at->rc == BLOBSTORE_OK) {
        at->rc = blobstore_ahead_update(h->state, h->fd, at->to, NULL);
    }

#if (NGX_LINUX)
    if (at->sync) {
        (void) sync_file_range(h->fd, at->from, at->to - at->from,
                               SYNC_FILE_RANGE_WRITE);
    }
#endif

    /* the state's bytes before the flag: another thread goes on */

    ngx_memory_barrier();
    at->working = 0;
}


static ngx_uint_t
ngx_http_registry_ahead_working(ngx_http_registry_ahead_t *h)
{
    ngx_uint_t                       i, working;
    ngx_http_registry_ahead_task_t  *at;

    if (h == NULL) {
        return 0;
    }

    working = 0;

    for (i = 0; i < 2; i++) {
        if (h->tasks[i] != NULL) {
            at = h->tasks[i]->ctx;
            working |= at->working;
        }
    }

    ngx_memory_barrier();

    return working;
}


static void
ngx_http_registry_ahead_event(ngx_event_t *ev)
{
    ngx_connection_t                *c;
    ngx_http_request_t              *r;
    ngx_http_registry_ctx_t         *ctx;
    ngx_http_registry_ahead_t       *h;
    ngx_http_registry_ahead_task_t  *at;

    at = ev->data;
    h = at->holder;
    r = h->request;

    at->queued = 0;
    h->pending--;

    if (r == NULL) {
        ngx_http_registry_ahead_release(h);
        return;
    }

    c = r->connection;
    ngx_http_set_log_request(c->log, r);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "registry hashed ahead to %O: %d", at->to, at->rc);

    ctx = h->ctx;

    if (at->rc != BLOBSTORE_OK) {

        /* what it hashed still counts; the final task does the rest */

        ctx->hash_body = 0;
    }

    if (h->pending == 0 && ctx->body_ready != NULL) {
        ngx_http_registry_ahead_release(h);
        ngx_http_registry_ahead_resume(r);
        ngx_http_run_posted_requests(c);
        return;
    }

    ngx_http_registry_ahead_release(h);
}


/* the body's handler, once the body is whole and no task is queued */

static void
ngx_http_registry_ahead_resume(ngx_http_request_t *r)
{
    ngx_http_registry_ctx_t          *ctx;
    ngx_http_client_body_handler_pt   handler;

    ctx = ngx_http_get_module_ctx(r, ngx_http_registry_module);

    if (ctx == NULL || ctx->body_ready == NULL
        || (ctx->ahead != NULL && ctx->ahead->pending > 0))
    {
        return;
    }

    handler = ctx->body_ready;
    ctx->body_ready = NULL;
    r->write_event_handler = ngx_http_request_empty_handler;

    handler(r);
}


static void
ngx_http_registry_ahead_detach(void *data)
{
    ngx_http_registry_ahead_t  *h = data;

    h->request = NULL;
    h->ctx = NULL;

    ngx_http_registry_ahead_release(h);
}


static void
ngx_http_registry_ahead_release(ngx_http_registry_ahead_t *h)
{
    if (--h->refs > 0) {
        return;
    }

    blobstore_ahead_free(h->state);
    (void) close(h->fd);
    ngx_free(h->tasks[0]);
    ngx_free(h->tasks[1]);
    ngx_free(h);
}


blobstore_ahead_t *
ngx_http_registry_ahead_state(ngx_http_registry_ctx_t *ctx)
{
    return (ctx->ahead != NULL) ? ctx->ahead->state : NULL;
}

#else

blobstore_ahead_t *
ngx_http_registry_ahead_state(ngx_http_registry_ctx_t *ctx)
{
    return NULL;
}

#endif


/*
 * Called first by a body handler: NGX_AGAIN when a hashing task is still
 * queued, and the handler is called again once none is.
 */

ngx_int_t
ngx_http_registry_body_wait(ngx_http_request_t *r,
    ngx_http_client_body_handler_pt handler)
{
#if (NGX_THREADS)
    ngx_http_registry_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_registry_module);

    if (ctx->ahead != NULL && ctx->ahead->pending > 0) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "registry body waits for its hashing");

        ctx->body_ready = handler;
        r->write_event_handler = ngx_http_registry_ahead_resume;
        return NGX_AGAIN;
    }
#endif

    return NGX_OK;
}
