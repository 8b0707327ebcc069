
/*
 * Copyright (C) Hephaestus developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_registry_module.h"


typedef struct {
    ngx_uint_t   status;
    ngx_uint_t   level;
    char        *code;
    char        *message;
} ngx_http_registry_error_t;


static void ngx_http_registry_map_error(int rc, ngx_uint_t object,
    ngx_http_registry_error_t *e);


#define ngx_http_registry_set_error(e, st, lv, cd, msg)                      \
    (e)->status = st; (e)->level = lv; (e)->code = cd; (e)->message = msg


/*
 * The one mapper from a library code to an HTTP status, an OCI error code
 * and a log level: a client's mistake is logged at "info", a failure of
 * the storage at "crit".
 */

static void
ngx_http_registry_map_error(int rc, ngx_uint_t object,
    ngx_http_registry_error_t *e)
{
    /* an upload id that cannot be one is an unknown upload */

    if (rc == BLOBSTORE_EINVAL && object == NGX_HTTP_REGISTRY_OBJ_UPLOAD) {
        rc = BLOBSTORE_ENOTFOUND;
    }

    switch (rc) {

    case BLOBSTORE_ENOTFOUND:

        switch (object) {

        case NGX_HTTP_REGISTRY_OBJ_BLOB:
            ngx_http_registry_set_error(e, NGX_HTTP_NOT_FOUND, NGX_LOG_INFO,
                                        "BLOB_UNKNOWN",
                                        "blob unknown to registry");
            break;

        case NGX_HTTP_REGISTRY_OBJ_MANIFEST:
            ngx_http_registry_set_error(e, NGX_HTTP_NOT_FOUND, NGX_LOG_INFO,
                                        "MANIFEST_UNKNOWN",
                                        "manifest unknown");
            break;

        case NGX_HTTP_REGISTRY_OBJ_UPLOAD:
            ngx_http_registry_set_error(e, NGX_HTTP_NOT_FOUND, NGX_LOG_INFO,
                                        "BLOB_UPLOAD_UNKNOWN",
                                        "blob upload unknown to registry");
            break;

        default: /* NGX_HTTP_REGISTRY_OBJ_NAME */
            ngx_http_registry_set_error(e, NGX_HTTP_NOT_FOUND, NGX_LOG_INFO,
                                        "NAME_UNKNOWN",
                                        "repository name not known to "
                                        "registry");
        }

        break;

    case BLOBSTORE_EINVAL:

        switch (object) {

        case NGX_HTTP_REGISTRY_OBJ_BLOB:
            ngx_http_registry_set_error(e, NGX_HTTP_BAD_REQUEST,
                                        NGX_LOG_INFO, "DIGEST_INVALID",
                                        "invalid digest");
            break;

        case NGX_HTTP_REGISTRY_OBJ_MANIFEST:
            ngx_http_registry_set_error(e, NGX_HTTP_BAD_REQUEST,
                                        NGX_LOG_INFO, "MANIFEST_INVALID",
                                        "invalid reference");
            break;

        default: /* NGX_HTTP_REGISTRY_OBJ_NAME */
            ngx_http_registry_set_error(e, NGX_HTTP_BAD_REQUEST,
                                        NGX_LOG_INFO, "NAME_INVALID",
                                        "invalid repository name");
        }

        break;

    case BLOBSTORE_EUNSUPPORTED:
        ngx_http_registry_set_error(e, NGX_HTTP_BAD_REQUEST, NGX_LOG_INFO,
                                    "DIGEST_INVALID",
                                    "unsupported digest algorithm");
        break;

    case BLOBSTORE_EDIGEST:
        ngx_http_registry_set_error(e, NGX_HTTP_BAD_REQUEST, NGX_LOG_INFO,
                                    "DIGEST_INVALID",
                                    "provided digest did not match "
                                    "uploaded content");
        break;

    case BLOBSTORE_ERANGE:
    case BLOBSTORE_EBUSY:
        ngx_http_registry_set_error(e, NGX_HTTP_RANGE_NOT_SATISFIABLE,
                                    NGX_LOG_INFO, "BLOB_UPLOAD_INVALID",
                                    "blob upload invalid");
        break;

    case BLOBSTORE_EMANIFEST:
        ngx_http_registry_set_error(e, NGX_HTTP_BAD_REQUEST, NGX_LOG_INFO,
                                    "MANIFEST_INVALID", "manifest invalid");
        break;

    case BLOBSTORE_EBLOBUNKNOWN:
        ngx_http_registry_set_error(e, NGX_HTTP_BAD_REQUEST, NGX_LOG_INFO,
                                    "MANIFEST_BLOB_UNKNOWN",
                                    "blob unknown to registry");
        break;

    case BLOBSTORE_ETOOBIG:
        ngx_http_registry_set_error(e, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                    NGX_LOG_INFO, "MANIFEST_INVALID",
                                    "manifest too big");
        break;

    case BLOBSTORE_ENOSPC:
        ngx_http_registry_set_error(e, NGX_HTTP_INSUFFICIENT_STORAGE,
                                    NGX_LOG_CRIT, "UNKNOWN",
                                    "no space left on device");
        break;

    default: /* BLOBSTORE_EIO, BLOBSTORE_ENOMEM */
        ngx_http_registry_set_error(e, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                    NGX_LOG_CRIT, "UNKNOWN",
                                    "unknown error");
    }
}


/*
 * Logs a failed library call and answers it.  op names the call, subject
 * is what it was about (a digest, a reference, an upload id or a name).
 */

ngx_int_t
ngx_http_registry_storage_error(ngx_http_request_t *r, ngx_uint_t object,
    int rc, blobstore_error_t *err, char *op, char *subject)
{
    char                       *text;
    ngx_err_t                   errnum;
    ngx_str_t                   detail, *dp;
    ngx_http_registry_error_t   e;

    ngx_http_registry_map_error(rc, object, &e);

    err->message[sizeof(err->message) - 1] = '\0';
    err->detail[sizeof(err->detail) - 1] = '\0';

    text = err->message[0] ? err->message : (char *) blobstore_strerror(rc);
    errnum = (e.level <= NGX_LOG_CRIT) ? err->sys_errno : 0;

    ngx_log_error(e.level, r->connection->log, errnum,
                  "registry: %s \"%s\" failed: %s", op, subject, text);

    dp = NULL;

    if (rc == BLOBSTORE_EBLOBUNKNOWN && err->detail[0]) {
        detail.data = (u_char *) err->detail;
        detail.len = ngx_strlen(err->detail);
        dp = &detail;

    } else if (rc == BLOBSTORE_EMANIFEST && err->message[0]) {

        /* what is wrong with it: the library's words name no path */

        detail.data = (u_char *) err->message;
        detail.len = ngx_strlen(err->message);
        dp = &detail;

    } else if (rc == BLOBSTORE_ENOTFOUND
               && object != NGX_HTTP_REGISTRY_OBJ_UPLOAD)
    {
        detail.data = (u_char *) subject;
        detail.len = ngx_strlen(subject);
        dp = &detail;
    }

    return ngx_http_registry_send_error(r, e.status, e.code, e.message, dp);
}


ngx_int_t
ngx_http_registry_check_digest(char *digest)
{
    if (ngx_strlen(digest) > BLOBSTORE_DIGEST_MAX) {
        return BLOBSTORE_EINVAL;
    }

    return blobstore_digest_valid(digest);
}


ngx_int_t
ngx_http_registry_digest_error(ngx_http_request_t *r, char *digest)
{
    char       *message;
    ngx_str_t   detail;

    if (ngx_http_registry_check_digest(digest) == BLOBSTORE_EUNSUPPORTED) {
        message = "unsupported digest algorithm";

    } else {
        message = "invalid digest";
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "registry: client sent %s \"%s\"", message, digest);

    detail.data = (u_char *) digest;
    detail.len = ngx_strlen(digest);

    return ngx_http_registry_send_error(r, NGX_HTTP_BAD_REQUEST,
                                        "DIGEST_INVALID", message, &detail);
}


/*
 * {"errors":[{"code":"...","message":"...","detail":...}]}, where detail
 * is a JSON string, or {} when there is none.
 */

ngx_int_t
ngx_http_registry_send_error(ngx_http_request_t *r, ngx_uint_t status,
    char *code, char *message, ngx_str_t *detail)
{
    size_t   len;
    u_char  *body, *p;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    len = sizeof("{\"errors\":[{\"code\":\"\",\"message\":\"\","
                 "\"detail\":{}}]}") - 1
          + ngx_strlen(code)
          + ngx_http_registry_json_len((u_char *) message,
                                       ngx_strlen(message));

    if (detail) {
        len += ngx_http_registry_json_len(detail->data, detail->len);
    }

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(body, "{\"errors\":[{\"code\":\"",
                   sizeof("{\"errors\":[{\"code\":\"") - 1);
    p = ngx_cpymem(p, code, ngx_strlen(code));
    p = ngx_cpymem(p, "\",\"message\":\"", sizeof("\",\"message\":\"") - 1);
    p = ngx_http_registry_json_copy(p, (u_char *) message,
                                    ngx_strlen(message));
    p = ngx_cpymem(p, "\",\"detail\":", sizeof("\",\"detail\":") - 1);

    if (detail) {
        *p++ = '"';
        p = ngx_http_registry_json_copy(p, detail->data, detail->len);
        *p++ = '"';

    } else {
        *p++ = '{';
        *p++ = '}';
    }

    p = ngx_cpymem(p, "}]}", sizeof("}]}") - 1);

    r->headers_out.status = status;

    return ngx_http_registry_send_body(r, NULL, body, p - body);
}


/* the length of s inside a JSON string, quotes excluded */

size_t
ngx_http_registry_json_len(u_char *s, size_t len)
{
    size_t  n;

    for (n = len; len; len--, s++) {
        if (*s == '"' || *s == '\\') {
            n++;

        } else if (*s < 0x20 || *s >= 0x7f) {
            n += sizeof("\\u00ff") - 2;
        }
    }

    return n;
}


/*
 * Bytes outside of printable ASCII are written as \u00XX: the result is
 * valid JSON whatever a client sent, and the names that the grammars allow
 * are copied as they are.
 */

u_char *
ngx_http_registry_json_copy(u_char *dst, u_char *s, size_t len)
{
    static u_char  hex[] = "0123456789abcdef";

    for ( /* void */ ; len; len--, s++) {

        if (*s == '"' || *s == '\\') {
            *dst++ = '\\';
            *dst++ = *s;

        } else if (*s < 0x20 || *s >= 0x7f) {
            dst = ngx_cpymem(dst, "\\u00", 4);
            *dst++ = hex[*s >> 4];
            *dst++ = hex[*s & 0xf];

        } else {
            *dst++ = *s;
        }
    }

    return dst;
}
