
/*
 * Copyright (C) Hephaestus developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_registry_module.h"


#define NGX_HTTP_REGISTRY_WHO_ANYONE  0
#define NGX_HTTP_REGISTRY_WHO_AUTH    1
#define NGX_HTTP_REGISTRY_WHO_USER    2
#define NGX_HTTP_REGISTRY_WHO_GROUP   3

/*
 * names read to filter the catalog, at most: pages of 500 from memory,
 * 20 of them, or the 10,000 in one call in a thread
 */

#define NGX_HTTP_REGISTRY_SCAN_PAGE   500
#define NGX_HTTP_REGISTRY_SCAN_MAX    20

#define NGX_HTTP_REGISTRY_REALM  "Basic realm=\"Hephaestus registry\""


typedef struct {
    ngx_uint_t   actions;
    ngx_uint_t   who;
    ngx_str_t    name;
    ngx_str_t    pattern;
    ngx_uint_t   per_user;
} ngx_http_registry_rule_t;


typedef struct {
    ngx_str_t    name;
    ngx_uint_t   action;
} ngx_http_registry_action_t;


static ngx_int_t ngx_http_registry_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_uint_t ngx_http_registry_action(ngx_http_request_t *r,
    ngx_http_registry_ctx_t *ctx);

static ngx_int_t ngx_http_registry_identify(ngx_http_request_t *r,
    ngx_http_registry_loc_conf_t *rlcf, ngx_http_registry_ctx_t *ctx);
static ngx_uint_t ngx_http_registry_permits(ngx_http_request_t *r,
    ngx_http_registry_loc_conf_t *rlcf, ngx_http_registry_ctx_t *ctx,
    ngx_str_t *repo, ngx_uint_t action);
static ngx_uint_t ngx_http_registry_who(ngx_http_registry_rule_t *rule,
    ngx_http_registry_ctx_t *ctx);
static ngx_uint_t ngx_http_registry_in_list(ngx_str_t *list,
    ngx_str_t *item);
static ngx_uint_t ngx_http_registry_rule_matches(ngx_http_request_t *r,
    ngx_http_registry_rule_t *rule, ngx_http_registry_ctx_t *ctx,
    ngx_str_t *repo);
static ngx_uint_t ngx_http_registry_glob(u_char *p, u_char *pe, u_char *s,
    u_char *se);

static int ngx_http_registry_access_start(ngx_http_request_t *r,
    ngx_http_registry_loc_conf_t *rlcf, ngx_http_registry_ctx_t *ctx,
    blobstore_strlist_t *out, size_t n);
static ngx_int_t ngx_http_registry_access_take(ngx_http_request_t *r,
    ngx_http_registry_loc_conf_t *rlcf, ngx_http_registry_ctx_t *ctx,
    blobstore_strlist_t *page, blobstore_strlist_t *out, size_t n,
    char **last);


static ngx_http_variable_t  ngx_http_registry_vars[] = {

    { ngx_string("registry_repository"), NULL, ngx_http_registry_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("registry_action"), NULL, ngx_http_registry_variable,
      1, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_http_registry_action_t  ngx_http_registry_actions[] = {
    { ngx_string("pull"), NGX_HTTP_REGISTRY_PULL },
    { ngx_string("push"), NGX_HTTP_REGISTRY_PUSH },
    { ngx_string("delete"), NGX_HTTP_REGISTRY_DELETE },
    { ngx_string("catalog"), NGX_HTTP_REGISTRY_LIST },
    { ngx_string("base"), NGX_HTTP_REGISTRY_PING },
    { ngx_string("all"), NGX_HTTP_REGISTRY_ANY_ACTION },
    { ngx_null_string, 0 }
};


ngx_int_t
ngx_http_registry_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_registry_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


/*
 * $registry_repository and $registry_action describe the main request,
 * so that they mean the same in an auth_request subrequest, in a map and
 * in the access log.  Outside of the API both are empty.
 */

static ngx_int_t
ngx_http_registry_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_uint_t                   action;
    ngx_http_request_t          *mr;
    ngx_http_registry_ctx_t      ctx;
    ngx_http_registry_action_t  *a;

    mr = r->main;

    ngx_memzero(&ctx, sizeof(ngx_http_registry_ctx_t));

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->len = 0;
    v->data = (u_char *) "";

    switch (ngx_http_registry_parse(mr, &ctx)) {

    case NGX_ERROR:
        return NGX_ERROR;

    case NGX_DECLINED:
        return NGX_OK;

    default:
        break;
    }

    if (data == 0) {
        v->len = ctx.name.len;
        v->data = ctx.name.data ? ctx.name.data : (u_char *) "";
        return NGX_OK;
    }

    action = ngx_http_registry_action(mr, &ctx);

    for (a = ngx_http_registry_actions; a->name.len; a++) {
        if (a->action == action) {
            v->len = a->name.len;
            v->data = a->name.data;
            break;
        }
    }

    return NGX_OK;
}


/*
 * Reads need pull, whatever writes need push: an upload session, even
 * its status and its cancelling, belongs to a push.
 */

static ngx_uint_t
ngx_http_registry_action(ngx_http_request_t *r, ngx_http_registry_ctx_t *ctx)
{
    switch (ctx->route) {

    case NGX_HTTP_REGISTRY_BASE:
        return NGX_HTTP_REGISTRY_PING;

    case NGX_HTTP_REGISTRY_CATALOG:
        return NGX_HTTP_REGISTRY_LIST;

    case NGX_HTTP_REGISTRY_MANIFEST:
    case NGX_HTTP_REGISTRY_BLOB:

        if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) {
            return NGX_HTTP_REGISTRY_PULL;
        }

        if (r->method == NGX_HTTP_DELETE) {
            return NGX_HTTP_REGISTRY_DELETE;
        }

        return NGX_HTTP_REGISTRY_PUSH;

    case NGX_HTTP_REGISTRY_UPLOADS:
    case NGX_HTTP_REGISTRY_UPLOAD:
        return NGX_HTTP_REGISTRY_PUSH;

    default: /* NGX_HTTP_REGISTRY_TAGS, NGX_HTTP_REGISTRY_REFERRERS */
        return NGX_HTTP_REGISTRY_PULL;
    }
}


/*
 * NGX_OK when the request may go on; NGX_HTTP_UNAUTHORIZED for someone
 * nobody vouched for, NGX_HTTP_FORBIDDEN for a known user without the
 * right.  With no registry_allow at all, everything is allowed.
 */

ngx_int_t
ngx_http_registry_check_access(ngx_http_request_t *r,
    ngx_http_registry_loc_conf_t *rlcf, ngx_http_registry_ctx_t *ctx)
{
    ngx_uint_t  action, ok;

    if (rlcf->rules == NULL) {
        return NGX_OK;
    }

    if (ngx_http_registry_identify(r, rlcf, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    action = ngx_http_registry_action(r, ctx);

    switch (action) {

    case NGX_HTTP_REGISTRY_PING:

        /* "docker login" expects a challenge here unless reads are open */

        ok = ctx->user.len
             || ngx_http_registry_permits(r, rlcf, ctx, NULL,
                                          NGX_HTTP_REGISTRY_ANY_ACTION);
        break;

    case NGX_HTTP_REGISTRY_LIST:

        /* the list itself is filtered */

        ok = ctx->user.len
             || ngx_http_registry_permits(r, rlcf, ctx, NULL,
                                          NGX_HTTP_REGISTRY_PULL
                                          |NGX_HTTP_REGISTRY_LIST);
        break;

    default:
        ok = ngx_http_registry_permits(r, rlcf, ctx, &ctx->name, action);
    }

    if (ok) {
        return NGX_OK;
    }

    return ctx->user.len ? NGX_HTTP_FORBIDDEN : NGX_HTTP_UNAUTHORIZED;
}


ngx_int_t
ngx_http_registry_access_denied(ngx_http_request_t *r,
    ngx_http_registry_ctx_t *ctx, ngx_int_t rc)
{
    if (rc == NGX_HTTP_FORBIDDEN) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "registry: access denied to user \"%V\": %V \"%V\"",
                      &ctx->user, &r->method_name, &r->uri);

        return ngx_http_registry_send_error(r, NGX_HTTP_FORBIDDEN, "DENIED",
                                            "requested access to the "
                                            "resource is denied",
                                            ctx->name.len ? &ctx->name
                                                          : NULL);
    }

    if (rc != NGX_HTTP_UNAUTHORIZED) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "registry: authentication required: %V \"%V\"",
                  &r->method_name, &r->uri);

    r->headers_out.www_authenticate = ngx_list_push(&r->headers_out.headers);
    if (r->headers_out.www_authenticate == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.www_authenticate->hash = 1;
    ngx_str_set(&r->headers_out.www_authenticate->key, "WWW-Authenticate");
    ngx_str_set(&r->headers_out.www_authenticate->value,
                NGX_HTTP_REGISTRY_REALM);

    return ngx_http_registry_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                        "UNAUTHORIZED",
                                        "authentication required", NULL);
}


/* whether the identity of the request may do action in repo */

ngx_uint_t
ngx_http_registry_may(ngx_http_request_t *r,
    ngx_http_registry_loc_conf_t *rlcf, ngx_http_registry_ctx_t *ctx,
    u_char *repo, ngx_uint_t action)
{
    ngx_str_t  name;

    if (rlcf->rules == NULL) {
        return 1;
    }

    if (ngx_http_registry_identify(r, rlcf, ctx) != NGX_OK) {
        return 0;
    }

    name.data = repo;
    name.len = ngx_strlen(repo);

    return ngx_http_registry_permits(r, rlcf, ctx, &name, action);
}


/*
 * The catalog as the user may see it: the repositories that a rule lets
 * them pull or list, n at most, after last.  The library's pages are
 * read until n are found or the catalog ends, and one more is looked
 * for, so that "more" is only set when another page really follows.
 * Items are copied into the request pool: the result must not be given
 * to blobstore_strlist_free().
 *
 * This runs in the event loop, so the pages come from the list the
 * library keeps in memory only.  BLOBSTORE_EAGAIN when that list cannot
 * serve them at once (not made yet, catalog_ttl old, or in a thread's
 * hands): the caller then reads the names in the thread pool with
 * ngx_http_registry_access_scan() and passes them through
 * ngx_http_registry_access_filter().  So it is always where no list is
 * kept (registry_catalog_cache 0): there every page would read the
 * folders, and one thread reads them all at once instead.
 */

int
ngx_http_registry_access_catalog(ngx_http_request_t *r,
    ngx_http_registry_loc_conf_t *rlcf, ngx_http_registry_ctx_t *ctx,
    blobstore_strlist_t *out, char *last, size_t n, blobstore_error_t *err)
{
    int                  rc;
    ngx_int_t            found;
    ngx_uint_t           pages;
    blobstore_strlist_t  page;

    rc = ngx_http_registry_access_start(r, rlcf, ctx, out, n);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    for (pages = 0; pages < NGX_HTTP_REGISTRY_SCAN_MAX; pages++) {

        rc = blobstore_catalog_cached(&page, rlcf->store, last,
                                      NGX_HTTP_REGISTRY_SCAN_PAGE, err);
        if (rc != BLOBSTORE_OK) {
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "registry catalog in a thread: %s",
                           err->message);
            return rc;
        }

        found = ngx_http_registry_access_take(r, rlcf, ctx, &page, out, n,
                                              &last);

        blobstore_strlist_free(&page);

        if (found != NGX_AGAIN) {
            return (found == NGX_OK) ? BLOBSTORE_OK : BLOBSTORE_ENOMEM;
        }
    }

    /*
     * A user who may see few of many repositories gets them over several
     * requests: each one reads a bounded number of names, and the Link
     * header goes on from the last name read, visible or not.
     */

    out->more = 1;
    ctx->catalog_next = last;

    return BLOBSTORE_OK;
}


/*
 * In a thread: the names that ngx_http_registry_access_catalog() reads
 * at most, after t->last, bringing the library's list up to date (or
 * reading the folders, where no list is kept).
 */

void
ngx_http_registry_access_scan(ngx_http_registry_task_t *t)
{
    t->rc = blobstore_catalog(&t->list, t->store, t->last,
                              NGX_HTTP_REGISTRY_SCAN_PAGE
                              * NGX_HTTP_REGISTRY_SCAN_MAX,
                              &t->err);
}


/*
 * Back in the event loop: the names that ngx_http_registry_access_scan()
 * read, filtered as ngx_http_registry_access_catalog() does.
 */

int
ngx_http_registry_access_filter(ngx_http_request_t *r,
    ngx_http_registry_loc_conf_t *rlcf, ngx_http_registry_ctx_t *ctx,
    blobstore_strlist_t *names, blobstore_strlist_t *out, size_t n)
{
    int        rc;
    char      *last;
    ngx_int_t  found;

    rc = ngx_http_registry_access_start(r, rlcf, ctx, out, n);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    found = ngx_http_registry_access_take(r, rlcf, ctx, names, out, n,
                                          &last);

    if (found == NGX_ERROR) {
        return BLOBSTORE_ENOMEM;
    }

    if (found == NGX_AGAIN) {
        out->more = 1;
        ctx->catalog_next = last;
    }

    return BLOBSTORE_OK;
}


static int
ngx_http_registry_access_start(ngx_http_request_t *r,
    ngx_http_registry_loc_conf_t *rlcf, ngx_http_registry_ctx_t *ctx,
    blobstore_strlist_t *out, size_t n)
{
    ngx_memzero(out, sizeof(blobstore_strlist_t));

    if (ngx_http_registry_identify(r, rlcf, ctx) != NGX_OK) {
        return BLOBSTORE_ENOMEM;
    }

    out->items = ngx_pcalloc(r->pool, n * sizeof(char *));
    if (out->items == NULL) {
        return BLOBSTORE_ENOMEM;
    }

    return BLOBSTORE_OK;
}


/*
 * Adds the names of page the user may see to out.  NGX_OK when out is
 * complete: n found and one more seen, or the catalog ended; NGX_AGAIN
 * when the next page must be read, after *last, a copy of the page's
 * last name.
 */

static ngx_int_t
ngx_http_registry_access_take(ngx_http_request_t *r,
    ngx_http_registry_loc_conf_t *rlcf, ngx_http_registry_ctx_t *ctx,
    blobstore_strlist_t *page, blobstore_strlist_t *out, size_t n,
    char **last)
{
    size_t     i;
    ngx_str_t  name;

    for (i = 0; i < page->count; i++) {
        name.data = (u_char *) page->items[i];
        name.len = ngx_strlen(page->items[i]);

        if (!ngx_http_registry_permits(r, rlcf, ctx, &name,
                                       NGX_HTTP_REGISTRY_PULL
                                       |NGX_HTTP_REGISTRY_LIST))
        {
            continue;
        }

        if (out->count == n) {
            out->more = 1;
            return NGX_OK;
        }

        out->items[out->count] = ngx_http_registry_cstr(r->pool, name.data,
                                                        name.len);
        if (out->items[out->count] == NULL) {
            return NGX_ERROR;
        }

        out->count++;
    }

    if (!page->more || page->count == 0) {
        return NGX_OK;
    }

    name.data = (u_char *) page->items[page->count - 1];
    name.len = ngx_strlen(page->items[page->count - 1]);

    *last = ngx_http_registry_cstr(r->pool, name.data, name.len);
    if (*last == NULL) {
        return NGX_ERROR;
    }

    return NGX_AGAIN;
}


/* the user and groups, from registry_identity only, once per request */

static ngx_int_t
ngx_http_registry_identify(ngx_http_request_t *r,
    ngx_http_registry_loc_conf_t *rlcf, ngx_http_registry_ctx_t *ctx)
{
    if (ctx->identified) {
        return NGX_OK;
    }

    if (rlcf->identity_user
        && ngx_http_complex_value(r, rlcf->identity_user, &ctx->user)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (rlcf->identity_groups
        && ngx_http_complex_value(r, rlcf->identity_groups, &ctx->groups)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    ctx->identified = 1;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "registry identity: user \"%V\" groups \"%V\"",
                   &ctx->user, &ctx->groups);

    return NGX_OK;
}


/*
 * Whether some rule grants one of the actions to the identity; repo NULL
 * asks about any repository.
 */

static ngx_uint_t
ngx_http_registry_permits(ngx_http_request_t *r,
    ngx_http_registry_loc_conf_t *rlcf, ngx_http_registry_ctx_t *ctx,
    ngx_str_t *repo, ngx_uint_t action)
{
    ngx_uint_t                 i;
    ngx_http_registry_rule_t  *rule;

    rule = rlcf->rules->elts;

    for (i = 0; i < rlcf->rules->nelts; i++) {

        if (!(rule[i].actions & action)
            || !ngx_http_registry_who(&rule[i], ctx))
        {
            continue;
        }

        if (repo == NULL
            || ngx_http_registry_rule_matches(r, &rule[i], ctx, repo))
        {
            return 1;
        }
    }

    return 0;
}


static ngx_uint_t
ngx_http_registry_who(ngx_http_registry_rule_t *rule,
    ngx_http_registry_ctx_t *ctx)
{
    switch (rule->who) {

    case NGX_HTTP_REGISTRY_WHO_ANYONE:
        return 1;

    case NGX_HTTP_REGISTRY_WHO_AUTH:
        return ctx->user.len != 0;

    case NGX_HTTP_REGISTRY_WHO_USER:
        return ctx->user.len == rule->name.len
               && ngx_strncmp(ctx->user.data, rule->name.data,
                              rule->name.len)
                  == 0;

    default: /* NGX_HTTP_REGISTRY_WHO_GROUP */
        return ctx->user.len != 0
               && ngx_http_registry_in_list(&ctx->groups, &rule->name);
    }
}


/* item is one of the comma separated values of list (spaces trimmed) */

static ngx_uint_t
ngx_http_registry_in_list(ngx_str_t *list, ngx_str_t *item)
{
    u_char  *p, *last, *start, *end;

    p = list->data;
    last = p + list->len;

    while (p < last) {
        start = p;

        while (p < last && *p != ',') {
            p++;
        }

        end = p++;

        while (start < end && *start == ' ') {
            start++;
        }

        while (end > start && end[-1] == ' ') {
            end--;
        }

        if ((size_t) (end - start) == item->len
            && ngx_strncmp(start, item->data, item->len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/*
 * In a pattern "$user" stands for the user's name, taken literally: a
 * name with a wildcard in it, or no name at all, matches nothing.
 */

static ngx_uint_t
ngx_http_registry_rule_matches(ngx_http_request_t *r,
    ngx_http_registry_rule_t *rule, ngx_http_registry_ctx_t *ctx,
    ngx_str_t *repo)
{
    size_t      len;
    u_char     *p, *s, *q, *last, *pat;
    ngx_uint_t  n;

    if (!rule->per_user) {
        return ngx_http_registry_glob(rule->pattern.data,
                                      rule->pattern.data + rule->pattern.len,
                                      repo->data, repo->data + repo->len);
    }

    if (ctx->user.len == 0
        || ngx_strlchr(ctx->user.data, ctx->user.data + ctx->user.len, '*')
        || ngx_strlchr(ctx->user.data, ctx->user.data + ctx->user.len, '?'))
    {
        return 0;
    }

    len = rule->pattern.len + rule->per_user * ctx->user.len;

    pat = ngx_pnalloc(r->pool, len);
    if (pat == NULL) {
        return 0;
    }

    s = rule->pattern.data;
    last = s + rule->pattern.len;
    p = pat;

    for (n = 0; s < last && n <= rule->per_user; n++) {
        q = ngx_strlcasestrn(s, last, (u_char *) "$user", 5 - 1);

        if (q == NULL) {
            q = last;
        }

        p = ngx_cpymem(p, s, q - s);
        s = q;

        if (s < last) {
            p = ngx_cpymem(p, ctx->user.data, ctx->user.len);
            s += 5;
        }
    }

    return ngx_http_registry_glob(pat, p, repo->data, repo->data + repo->len);
}


/*
 * "*" matches any run of characters, "/" included, and "?" any one
 * character.  On a mismatch the last "*" takes one more character: the
 * loop ends within (pattern length + 1) * (name length + 1) steps.
 */

static ngx_uint_t
ngx_http_registry_glob(u_char *p, u_char *pe, u_char *s, u_char *se)
{
    u_char  *star, *mark;

    star = NULL;
    mark = NULL;

    while (s < se) {

        if (p < pe && *p == '*') {
            star = ++p;
            mark = s;
            continue;
        }

        if (p < pe && (*p == '?' || *p == *s)) {
            p++;
            s++;
            continue;
        }

        if (star == NULL) {
            return 0;
        }

        p = star;
        s = ++mark;
    }

    while (p < pe && *p == '*') {
        p++;
    }

    return p == pe;
}


/* registry_identity user [groups]; */

char *
ngx_http_registry_identity(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_registry_loc_conf_t *rlcf = conf;

    ngx_str_t                         *value;
    ngx_uint_t                         i;
    ngx_http_complex_value_t          *cv[2];
    ngx_http_compile_complex_value_t   ccv;

    if (rlcf->identity_user) {
        return "is duplicate";
    }

    value = cf->args->elts;
    cv[1] = NULL;

    for (i = 1; i < cf->args->nelts; i++) {
        cv[i - 1] = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
        if (cv[i - 1] == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

        ccv.cf = cf;
        ccv.value = &value[i];
        ccv.complex_value = cv[i - 1];

        if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    rlcf->identity_user = cv[0];
    rlcf->identity_groups = cv[1];

    return NGX_CONF_OK;
}


/* registry_allow actions pattern who; */

char *
ngx_http_registry_allow(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_registry_loc_conf_t *rlcf = conf;

    u_char                      *p, *last, *start;
    ngx_str_t                   *value;
    ngx_http_registry_rule_t    *rule;
    ngx_http_registry_action_t  *a;

    value = cf->args->elts;

    if (rlcf->rules == NULL) {
        rlcf->rules = ngx_array_create(cf->pool, 4,
                                       sizeof(ngx_http_registry_rule_t));
        if (rlcf->rules == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    rule = ngx_array_push(rlcf->rules);
    if (rule == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(rule, sizeof(ngx_http_registry_rule_t));

    p = value[1].data;
    last = p + value[1].len;

    while (p < last) {
        start = p;

        while (p < last && *p != ',') {
            p++;
        }

        for (a = ngx_http_registry_actions; a->name.len; a++) {
            if (a->action != NGX_HTTP_REGISTRY_PING
                && (size_t) (p - start) == a->name.len
                && ngx_strncmp(start, a->name.data, a->name.len) == 0)
            {
                break;
            }
        }

        if (a->name.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid action \"%*s\" in \"%V\": use "
                               "pull, push, delete, catalog or all",
                               p - start, start, &value[1]);
            return NGX_CONF_ERROR;
        }

        rule->actions |= a->action;
        p++;
    }

    if (rule->actions == 0) {
        return "takes no action";
    }

    rule->pattern = value[2];

    if (rule->pattern.len == 0) {
        return "takes an empty repository pattern";
    }

    p = rule->pattern.data;
    last = p + rule->pattern.len;

    while (p < last) {
        p = ngx_strlcasestrn(p, last, (u_char *) "$user", 5 - 1);

        if (p == NULL) {
            break;
        }

        rule->per_user++;
        p += 5;
    }

    if (value[3].len == sizeof("anonymous") - 1
        && ngx_strncmp(value[3].data, "anonymous", value[3].len) == 0)
    {
        rule->who = NGX_HTTP_REGISTRY_WHO_ANYONE;

    } else if (value[3].len == sizeof("authenticated") - 1
               && ngx_strncmp(value[3].data, "authenticated",
                              value[3].len)
                  == 0)
    {
        rule->who = NGX_HTTP_REGISTRY_WHO_AUTH;

    } else if (value[3].len > sizeof("user:") - 1
               && ngx_strncmp(value[3].data, "user:", 5) == 0)
    {
        rule->who = NGX_HTTP_REGISTRY_WHO_USER;
        rule->name.data = value[3].data + 5;
        rule->name.len = value[3].len - 5;

    } else if (value[3].len > sizeof("group:") - 1
               && ngx_strncmp(value[3].data, "group:", 6) == 0)
    {
        rule->who = NGX_HTTP_REGISTRY_WHO_GROUP;
        rule->name.data = value[3].data + 6;
        rule->name.len = value[3].len - 6;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"%V\": use anonymous, authenticated, "
                           "user:<name> or group:<name>", &value[3]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}
