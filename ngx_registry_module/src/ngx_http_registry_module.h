
/*
 * Copyright (C) Hephaestus developers
 */


#ifndef _NGX_HTTP_REGISTRY_MODULE_H_INCLUDED_
#define _NGX_HTTP_REGISTRY_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <blobstore.h>


#define NGX_HTTP_REGISTRY_LIST_DEFAULT  100
#define NGX_HTTP_REGISTRY_LIST_MAX      1000

/* actions, as bits: what an access rule grants */

#define NGX_HTTP_REGISTRY_PULL          0x01
#define NGX_HTTP_REGISTRY_PUSH          0x02
#define NGX_HTTP_REGISTRY_DELETE        0x04
#define NGX_HTTP_REGISTRY_LIST          0x08
#define NGX_HTTP_REGISTRY_ANY_ACTION    0x0f
#define NGX_HTTP_REGISTRY_PING          0x10


typedef enum {
    NGX_HTTP_REGISTRY_BASE = 0,
    NGX_HTTP_REGISTRY_CATALOG,
    NGX_HTTP_REGISTRY_TAGS,
    NGX_HTTP_REGISTRY_MANIFEST,
    NGX_HTTP_REGISTRY_BLOB,
    NGX_HTTP_REGISTRY_UPLOADS,
    NGX_HTTP_REGISTRY_UPLOAD,
    NGX_HTTP_REGISTRY_REFERRERS
} ngx_http_registry_route_e;


/* what a failed call was about: it decides the code of ENOTFOUND */

typedef enum {
    NGX_HTTP_REGISTRY_OBJ_NAME = 0,
    NGX_HTTP_REGISTRY_OBJ_BLOB,
    NGX_HTTP_REGISTRY_OBJ_MANIFEST,
    NGX_HTTP_REGISTRY_OBJ_UPLOAD
} ngx_http_registry_object_e;


/*
 * Bytes of a spooled blob body: at least this many between two hashing
 * tasks (one runs at a time, so a slow one makes the next bigger), and
 * between two starts of their writing.
 */
#define NGX_HTTP_REGISTRY_HASH_AHEAD    (1024 * 1024)
#define NGX_HTTP_REGISTRY_WRITE_BEHIND  (8 * 1024 * 1024)

/* manifests up to this size are answered from memory */
#define NGX_HTTP_REGISTRY_MANIFEST_INLINE  (16 * 1024)

/* registry_upload_purge: registry:2's uploadpurging defaults */
#define NGX_HTTP_REGISTRY_PURGE_AGE       (7 * 24 * 60 * 60)
#define NGX_HTTP_REGISTRY_PURGE_INTERVAL  (24 * 60 * 60)


typedef struct {
    ngx_flag_t                  enable;
    ngx_flag_t                  delete;
    ngx_flag_t                  sync;
    time_t                      catalog_cache;
    time_t                      upload_purge_age;       /* 0: off */
    time_t                      upload_purge_interval;
    ngx_str_t                   root;
    ngx_str_t                   thread_pool_name;
    ngx_http_complex_value_t   *user;
    ngx_http_complex_value_t   *identity_user;
    ngx_http_complex_value_t   *identity_groups;
    ngx_array_t                *rules;
    blobstore_t                *store;
#if (NGX_THREADS)
    ngx_thread_pool_t          *thread_pool;
#endif
} ngx_http_registry_loc_conf_t;


typedef struct ngx_http_registry_task_s  ngx_http_registry_task_t;
typedef struct ngx_http_registry_ahead_s  ngx_http_registry_ahead_t;

typedef void (*ngx_http_registry_work_pt)(ngx_http_registry_task_t *t);
typedef ngx_int_t (*ngx_http_registry_done_pt)(ngx_http_request_t *r,
    ngx_http_registry_task_t *t);


/*
 * A call into the library that may block.  Everything the worker thread
 * reads is prepared in the event loop beforehand; the thread touches no
 * pool and no request, it only fills rc, size, info and err.
 */

struct ngx_http_registry_task_s {
    ngx_http_registry_work_pt   work;
    ngx_http_registry_done_pt   done;
    blobstore_t                *store;
    char                       *name;
    char                       *id;
    char                       *digest;
    char                       *from;
    char                       *content_type;
    u_char                     *data;
    size_t                      len;
    ngx_fd_t                    fd;
    char                       *path;
    blobstore_ahead_t          *ahead;
    int64_t                     offset;
    int64_t                     size;
    char                       *last;
    size_t                      n;
    char                       *json;
    size_t                      json_len;
    blobstore_strlist_t         list;
    int                         rc;
    unsigned                    finished:1;
    unsigned                    mounted:1;
    blobstore_info_t            info;
    blobstore_error_t           err;
};


typedef struct {
    ngx_uint_t                  route;
    ngx_str_t                   name;
    ngx_str_t                   ref;
    char                       *digest;
    int64_t                     range_start;
    int64_t                     range_end;
    char                       *catalog_next;
    ngx_http_registry_task_t   *task;
    ngx_str_t                   user;
    ngx_str_t                   groups;
    off_t                       body_hashed;
    off_t                       body_written;
    ngx_http_registry_ahead_t  *ahead;
    ngx_http_client_body_handler_pt
                                body_ready;
    unsigned                    identified:1;
    unsigned                    hash_body:1;
    unsigned                    seed_body:1;
    unsigned                    write_body:1;
} ngx_http_registry_ctx_t;


/* ngx_http_registry_module.c */

ngx_int_t ngx_http_registry_parse(ngx_http_request_t *r,
    ngx_http_registry_ctx_t *ctx);
ngx_int_t ngx_http_registry_run_task(ngx_http_request_t *r,
    ngx_http_registry_task_t *t);
ngx_http_registry_task_t *ngx_http_registry_task_create(
    ngx_http_request_t *r, ngx_http_registry_done_pt done);
ngx_int_t ngx_http_registry_read_body(ngx_http_request_t *r,
    ngx_http_client_body_handler_pt handler);
void ngx_http_registry_body_file(ngx_http_request_t *r, ngx_fd_t *fd,
    int64_t *len);
char *ngx_http_registry_body_path(ngx_http_request_t *r);
void ngx_http_registry_body_done(ngx_http_request_t *r, ngx_int_t rc);
ngx_int_t ngx_http_registry_body_wait(ngx_http_request_t *r,
    ngx_http_client_body_handler_pt handler);
blobstore_ahead_t *ngx_http_registry_ahead_state(
    ngx_http_registry_ctx_t *ctx);
ngx_int_t ngx_http_registry_arg(ngx_http_request_t *r, char *name,
    size_t len, ngx_str_t *value);
char *ngx_http_registry_cstr(ngx_pool_t *pool, u_char *data, size_t len);
ngx_int_t ngx_http_registry_header(ngx_http_request_t *r, char *key,
    u_char *value, size_t len);
ngx_table_elt_t *ngx_http_registry_find_header(ngx_list_t *headers,
    char *key);
ngx_int_t ngx_http_registry_location(ngx_http_request_t *r, ngx_str_t *name,
    char *kind, u_char *ref);
ngx_int_t ngx_http_registry_send_empty(ngx_http_request_t *r,
    ngx_uint_t status);
ngx_int_t ngx_http_registry_send_body(ngx_http_request_t *r, char *type,
    u_char *data, size_t len);
ngx_int_t ngx_http_registry_send_fd(ngx_http_request_t *r, ngx_fd_t fd,
    blobstore_info_t *info, ngx_uint_t blob);
ngx_int_t ngx_http_registry_send(ngx_http_request_t *r, ngx_fd_t fd,
    u_char *mem, blobstore_info_t *info, ngx_uint_t blob);

/* ngx_http_registry_errors.c */

ngx_int_t ngx_http_registry_send_error(ngx_http_request_t *r,
    ngx_uint_t status, char *code, char *message, ngx_str_t *detail);
ngx_int_t ngx_http_registry_storage_error(ngx_http_request_t *r,
    ngx_uint_t object, int rc, blobstore_error_t *err, char *op,
    char *subject);
ngx_int_t ngx_http_registry_digest_error(ngx_http_request_t *r,
    char *digest);
ngx_int_t ngx_http_registry_check_digest(char *digest);
size_t ngx_http_registry_json_len(u_char *s, size_t len);
u_char *ngx_http_registry_json_copy(u_char *dst, u_char *s, size_t len);

/* ngx_http_registry_blobs.c */

ngx_int_t ngx_http_registry_blob(ngx_http_request_t *r,
    ngx_http_registry_loc_conf_t *rlcf, ngx_http_registry_ctx_t *ctx);

/* ngx_http_registry_manifests.c */

ngx_int_t ngx_http_registry_manifest(ngx_http_request_t *r,
    ngx_http_registry_loc_conf_t *rlcf, ngx_http_registry_ctx_t *ctx);
ngx_int_t ngx_http_registry_tags(ngx_http_request_t *r,
    ngx_http_registry_loc_conf_t *rlcf, ngx_http_registry_ctx_t *ctx);
ngx_int_t ngx_http_registry_catalog(ngx_http_request_t *r,
    ngx_http_registry_loc_conf_t *rlcf);
ngx_int_t ngx_http_registry_referrers(ngx_http_request_t *r,
    ngx_http_registry_loc_conf_t *rlcf, ngx_http_registry_ctx_t *ctx);

/* ngx_http_registry_uploads.c */

ngx_int_t ngx_http_registry_upload_start(ngx_http_request_t *r,
    ngx_http_registry_loc_conf_t *rlcf, ngx_http_registry_ctx_t *ctx);
ngx_int_t ngx_http_registry_upload(ngx_http_request_t *r,
    ngx_http_registry_loc_conf_t *rlcf, ngx_http_registry_ctx_t *ctx);

/* ngx_http_registry_access.c */

ngx_int_t ngx_http_registry_add_variables(ngx_conf_t *cf);
char *ngx_http_registry_identity(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_registry_allow(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_registry_check_access(ngx_http_request_t *r,
    ngx_http_registry_loc_conf_t *rlcf, ngx_http_registry_ctx_t *ctx);
ngx_int_t ngx_http_registry_access_denied(ngx_http_request_t *r,
    ngx_http_registry_ctx_t *ctx, ngx_int_t rc);
ngx_uint_t ngx_http_registry_may(ngx_http_request_t *r,
    ngx_http_registry_loc_conf_t *rlcf, ngx_http_registry_ctx_t *ctx,
    u_char *repo, ngx_uint_t action);
int ngx_http_registry_access_catalog(ngx_http_request_t *r,
    ngx_http_registry_loc_conf_t *rlcf, ngx_http_registry_ctx_t *ctx,
    blobstore_strlist_t *out, char *last, size_t n, blobstore_error_t *err);
void ngx_http_registry_access_scan(ngx_http_registry_task_t *t);
int ngx_http_registry_access_filter(ngx_http_request_t *r,
    ngx_http_registry_loc_conf_t *rlcf, ngx_http_registry_ctx_t *ctx,
    blobstore_strlist_t *names, blobstore_strlist_t *out, size_t n);


extern ngx_module_t  ngx_http_registry_module;


#endif /* _NGX_HTTP_REGISTRY_MODULE_H_INCLUDED_ */
