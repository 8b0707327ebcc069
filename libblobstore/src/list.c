
/*
 * Copyright (C) Hephaestus developers
 */


#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blobstore_int.h"


typedef struct {
    char    **items;
    size_t    count;
    size_t    size;
} name_vec;


typedef struct {
    const char  *name;
    size_t       len;
    char        *kids;     /* its subfolders, as "name\0" records */
    size_t       nkids;
    int          read;     /* kids and repo are known */
    int          repo;
    int          nested;   /* it has the entry "name/" */
} cat_child;


typedef struct {
    cat_child  *child;
    int         sub;       /* the entry "name/": the folders inside */
} cat_entry;


typedef struct {
    blobstore_strlist_t  *out;
    size_t                n;
    size_t                size;    /* slots in out->items */
    int                   root;    /* repositories/ */
    int                   done;
    blobstore_error_t    *err;
    char                  rel[BLOBSTORE_NAME_MAX + 2];
} cat_ctx;


static int vec_push(name_vec *v, const char *s, size_t len);
static void vec_free(name_vec *v);
static int cmp_str(const void *a, const void *b);
static int is_dir_entry(int at, struct dirent *de);
static int cat_key_cmp(const char *name, size_t len, int sub,
    const char *s);
static int cat_entry_cmp(const cat_entry *x, const cat_entry *y);
static void cat_sift(cat_entry *ents, size_t k, size_t i);
static int cat_read(cat_ctx *ctx, size_t len, cat_child *c);
static int cat_is_repo(cat_ctx *ctx, size_t len);
static int cat_emit(cat_ctx *ctx, size_t len);
static int cat_folder(cat_ctx *ctx, size_t rel_len, const char *names,
    size_t count, const char *rest, int depth);


static int
vec_push(name_vec *v, const char *s, size_t len)
{
    char   **items, *copy;
    size_t   size;

    if (v->count == v->size) {
        size = (v->size == 0) ? 64 : v->size * 2;
        items = realloc(v->items, size * sizeof(char *));
        if (items == NULL) {
            return -1;
        }

        v->items = items;
        v->size = size;
    }

    copy = malloc(len + 1);
    if (copy == NULL) {
        return -1;
    }

    memcpy(copy, s, len);
    copy[len] = '\0';
    v->items[v->count++] = copy;

    return 0;
}


static void
vec_free(name_vec *v)
{
    size_t  i;

    for (i = 0; i < v->count; i++) {
        free(v->items[i]);
    }

    free(v->items);
    v->items = NULL;
    v->count = 0;
    v->size = 0;
}


static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char * const *) a, *(char * const *) b);
}


/*
 * Sorts items (count of them, malloc()ed, as is the array) and moves
 * the page after last of at most n into out; frees the rest.
 */

int
blobstore__page(blobstore_strlist_t *out, char **items, size_t count,
    const char *last, size_t n, blobstore_error_t *err)
{
    size_t  i, start, k;

    if (count > 1) {
        qsort(items, count, sizeof(char *), cmp_str);
    }

    start = 0;
    if (last != NULL && last[0] != '\0') {
        while (start < count && strcmp(items[start], last) <= 0) {
            start++;
        }
    }

    k = count - start;
    if (k > n) {
        k = n;
    }

    out->items = malloc((k == 0 ? 1 : k) * sizeof(char *));
    if (out->items == NULL) {
        for (i = 0; i < count; i++) {
            free(items[i]);
        }

        free(items);
        return blobstore__error(err, BLOBSTORE_ENOMEM, ENOMEM,
                                "out of memory");
    }

    for (i = 0; i < count; i++) {
        if (i >= start && i < start + k) {
            out->items[i - start] = items[i];

        } else {
            free(items[i]);
        }
    }

    free(items);
    out->count = k;
    out->more = (start + k < count) ? 1 : 0;

    return BLOBSTORE_OK;
}


BLOBSTORE_EXTERN(void)
blobstore_strlist_free(blobstore_strlist_t *list)
{
    size_t  i;

    if (list == NULL) {
        return;
    }

    for (i = 0; i < list->count; i++) {
        free(list->items[i]);
    }

    free(list->items);
    list->items = NULL;
    list->count = 0;
    list->more = 0;
}


BLOBSTORE_EXTERN(int)
blobstore_tags_list(blobstore_strlist_t *out, blobstore_t *bs,
    const char *repo, const char *last, size_t n, blobstore_error_t *err)
{
    int             rc;
    DIR            *dir;
    char            path[BLOBSTORE__PATH_MAX], link[BLOBSTORE_TAG_MAX + 32];
    name_vec        v;
    struct stat     st;
    struct dirent  *de;

    blobstore__error_clear(err);
    memset(out, 0, sizeof(blobstore_strlist_t));
    memset(&v, 0, sizeof(name_vec));

    rc = blobstore__check_repo(repo, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    rc = blobstore__path(path, bs, err, "/repositories/%s/_manifests",
                         repo);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
        return blobstore__error(err, BLOBSTORE_ENOTFOUND, 0,
                                "repository unknown");
    }

    rc = blobstore__path(path, bs, err, "/repositories/%s/_manifests/tags",
                         repo);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    dir = opendir(path);
    if (dir == NULL) {
        if (errno != ENOENT) {
            return blobstore__sys_error(err, errno,
                                        "opendir(\"%s\") failed", path);
        }

        return blobstore__page(out, NULL, 0, last, n, err);
    }

    for ( ;; ) {
        rc = blobstore__read_dir(&de, dir, path, err);
        if (rc != BLOBSTORE_OK || de == NULL) {
            break;
        }

        if (blobstore_tag_valid(de->d_name) != BLOBSTORE_OK) {
            continue;
        }

        memcpy(link, de->d_name, strlen(de->d_name));
        memcpy(link + strlen(de->d_name), "/current/link",
               sizeof("/current/link"));

        if (faccessat(dirfd(dir), link, F_OK, 0) < 0) {
            continue;
        }

        if (vec_push(&v, de->d_name, strlen(de->d_name)) < 0) {
            rc = blobstore__error(err, BLOBSTORE_ENOMEM, ENOMEM,
                                  "out of memory");
            break;
        }
    }

    closedir(dir);

    if (rc != BLOBSTORE_OK) {
        vec_free(&v);
        return rc;
    }

    return blobstore__page(out, v.items, v.count, last, n, err);
}


static int
is_dir_entry(int at, struct dirent *de)
{
    struct stat  st;

    if (de->d_type == DT_DIR) {
        return 1;
    }

    if (de->d_type != DT_UNKNOWN) {
        return 0;
    }

    if (fstatat(at, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        return 0;
    }

    return S_ISDIR(st.st_mode);
}


/*
 * The key of an entry compared with s as strcmp() would: the key is
 * name[0..len), followed by '/' when sub is set.
 */

static int
cat_key_cmp(const char *name, size_t len, int sub, const char *s)
{
    size_t          i;
    unsigned char   a, b;

    for (i = 0; i < len; i++) {
        a = (unsigned char) name[i];
        b = (unsigned char) s[i];

        if (a != b) {
            return (a < b) ? -1 : 1;
        }
    }

    if (sub) {
        b = (unsigned char) s[len];

        if (b != '/') {
            return ('/' < b) ? -1 : 1;
        }

        len++;
    }

    return (s[len] == '\0') ? 0 : -1;
}


static int
cat_entry_cmp(const cat_entry *x, const cat_entry *y)
{
    int                rc;
    size_t             n;
    unsigned char      cx, cy;
    const cat_child   *a, *b;

    a = x->child;
    b = y->child;
    n = (a->len < b->len) ? a->len : b->len;

    rc = memcmp(a->name, b->name, n);
    if (rc != 0) {
        return rc;
    }

    /*
     * One name is a prefix of the other; a name holds no '/' and no NUL,
     * so the byte after the shorter key decides, and equal keys are one
     * entry.
     */

    cx = (n < a->len) ? (unsigned char) a->name[n] : (x->sub ? '/' : 0);
    cy = (n < b->len) ? (unsigned char) b->name[n] : (y->sub ? '/' : 0);

    return (int) cx - (int) cy;
}


/*
 * Moves ents[i] down to its place in the heap ents[0..k) whose least
 * entry is at the top.
 */

static void
cat_sift(cat_entry *ents, size_t k, size_t i)
{
    size_t     j;
    cat_entry  e;

    e = ents[i];

    while (2 * i + 1 < k) {
        j = 2 * i + 1;

        if (j + 1 < k && cat_entry_cmp(&ents[j + 1], &ents[j]) < 0) {
            j++;
        }

        if (cat_entry_cmp(&ents[j], &e) >= 0) {
            break;
        }

        ents[i] = ents[j];
        i = j;
    }

    ents[i] = e;
}


/*
 * Reads the folder rel[0..len), or repositories/ itself when len is 0:
 * whether it holds _manifests, and those of its subfolders whose names
 * are valid components of a repository name.
 */

static int
cat_read(cat_ctx *ctx, size_t len, cat_child *c)
{
    int             fd, rc;
    DIR            *dir;
    char           *p;
    size_t          prefix, nlen, used, size;
    struct dirent  *de;

    c->read = 1;
    c->repo = 0;
    c->kids = NULL;
    c->nkids = 0;

    ctx->rel[len] = '\0';

    fd = openat(ctx->root, (len == 0) ? "." : ctx->rel,
                O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            return BLOBSTORE_OK;
        }

        return blobstore__sys_error(ctx->err, errno, "open(\"%s\") failed",
                                    (len == 0) ? "repositories" : ctx->rel);
    }

    dir = fdopendir(fd);
    if (dir == NULL) {
        rc = blobstore__sys_error(ctx->err, errno, "fdopendir() failed");
        close(fd);
        return rc;
    }

    rc = BLOBSTORE_OK;
    prefix = (len == 0) ? 0 : len + 1;
    used = 0;
    size = 0;

    for ( ;; ) {
        errno = 0;
        de = readdir(dir);
        if (de == NULL) {
            if (errno != 0) {
                rc = blobstore__sys_error(ctx->err, errno,
                                          "readdir() failed");
            }

            break;
        }

        if (de->d_name[0] == '_') {
            if (strcmp(de->d_name, "_manifests") == 0
                && is_dir_entry(dirfd(dir), de))
            {
                c->repo = 1;
            }

            continue;
        }

        /* a component begins with [a-z0-9], so "." and ".." go here */

        nlen = strlen(de->d_name);
        if (prefix + nlen > BLOBSTORE_NAME_MAX
            || blobstore_name_valid(de->d_name) != BLOBSTORE_OK
            || !is_dir_entry(dirfd(dir), de))
        {
            continue;
        }

        /* size grows by at least 1024 and nlen is at most 255 */

        if (size - used <= nlen) {
            size = (size == 0) ? 1024 : size * 2;
            p = realloc(c->kids, size);
            if (p == NULL) {
                rc = blobstore__error(ctx->err, BLOBSTORE_ENOMEM, ENOMEM,
                                      "out of memory");
                break;
            }

            c->kids = p;
        }

        memcpy(c->kids + used, de->d_name, nlen + 1);
        used += nlen + 1;
        c->nkids++;
    }

    closedir(dir);

    if (rc != BLOBSTORE_OK) {
        free(c->kids);
        c->kids = NULL;
        c->nkids = 0;
    }

    return rc;
}


static int
cat_is_repo(cat_ctx *ctx, size_t len)
{
    char         path[BLOBSTORE_NAME_MAX + sizeof("/_manifests")];
    struct stat  st;

    memcpy(path, ctx->rel, len);
    memcpy(path + len, "/_manifests", sizeof("/_manifests"));

    if (fstatat(ctx->root, path, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        return 0;
    }

    return S_ISDIR(st.st_mode);
}


/* Whether repo, a valid name, holds _manifests. */

int
blobstore__repo_exists(const blobstore_t *bs, const char *repo)
{
    char         path[BLOBSTORE__PATH_MAX];
    struct stat  st;

    if (blobstore__path(path, bs, NULL, "/repositories/%s/_manifests", repo)
        != BLOBSTORE_OK
        || lstat(path, &st) < 0)
    {
        return 0;
    }

    return S_ISDIR(st.st_mode);
}


/*
 * Adds rel[0..len) to the page, or notes that there is more once the
 * page is full.
 */

static int
cat_emit(cat_ctx *ctx, size_t len)
{
    char    **items, *name;
    size_t    size;

    if (ctx->out->count == ctx->n) {
        ctx->out->more = 1;
        ctx->done = 1;
        return BLOBSTORE_OK;
    }

    if (ctx->out->count == ctx->size) {
        size = ctx->size * 2;
        if (size > ctx->n) {
            size = ctx->n;
        }

        items = realloc(ctx->out->items, size * sizeof(char *));
        if (items == NULL) {
            return blobstore__error(ctx->err, BLOBSTORE_ENOMEM, ENOMEM,
                                    "out of memory");
        }

        ctx->out->items = items;
        ctx->size = size;
    }

    name = malloc(len + 1);
    if (name == NULL) {
        return blobstore__error(ctx->err, BLOBSTORE_ENOMEM, ENOMEM,
                                "out of memory");
    }

    memcpy(name, ctx->rel, len);
    name[len] = '\0';
    ctx->out->items[ctx->out->count++] = name;

    return BLOBSTORE_OK;
}


/*
 * Lists, in byte order, the repositories in the folder whose name
 * relative to repositories/ is rel[0..rel_len), empty or ending in '/',
 * and whose subfolders are names[0..count).  A subfolder c gives two
 * entries: c itself, a repository if it holds _manifests, and "c/", the
 * repositories nested in it.  Every name in "c/" begins with "c/", so
 * taking the entries in the order of their keys yields the names in
 * order.  rest is NULL when every name here comes after last, else the
 * part of last after rel; entries holding no name after last are left
 * out unread.  Stops once the page is full and one more name is found.
 */

static int
cat_folder(cat_ctx *ctx, size_t rel_len, const char *names, size_t count,
    const char *rest, int depth)
{
    int           rc;
    size_t        i, k, len;
    cat_child    *kids, *c;
    cat_entry    *ents, e;
    const char   *p, *sub_rest;

    if (count == 0) {
        return BLOBSTORE_OK;
    }

    kids = malloc(count * sizeof(cat_child));
    ents = malloc(2 * count * sizeof(cat_entry));
    if (kids == NULL || ents == NULL) {
        free(kids);
        free(ents);
        return blobstore__error(ctx->err, BLOBSTORE_ENOMEM, ENOMEM,
                                "out of memory");
    }

    k = 0;
    p = names;

    for (i = 0; i < count; i++) {
        len = strlen(p);

        c = &kids[i];
        c->name = p;
        c->len = len;
        c->kids = NULL;
        c->nkids = 0;
        c->read = 0;
        c->repo = 0;

        /* names in "c/" have at least rel_len + len + 2 bytes */

        c->nested = rel_len + len + 2 <= BLOBSTORE_NAME_MAX
                    && depth + 1 < BLOBSTORE__TREE_DEPTH
                    && (rest == NULL
                        || (strncmp(rest, p, len) == 0 && rest[len] == '/')
                        || cat_key_cmp(p, len, 1, rest) > 0);

        if (rest == NULL || cat_key_cmp(p, len, 0, rest) > 0) {
            ents[k].child = c;
            ents[k].sub = 0;
            k++;
        }

        if (c->nested) {
            ents[k].child = c;
            ents[k].sub = 1;
            k++;
        }

        p += len + 1;
    }

    /* a heap, not a sort: the page is often full long before the end */

    for (i = k / 2; i > 0; i--) {
        cat_sift(ents, k, i - 1);
    }

    rc = BLOBSTORE_OK;

    while (k > 0 && !ctx->done) {
        e = ents[0];
        k--;
        ents[0] = ents[k];
        cat_sift(ents, k, 0);

        c = e.child;
        memcpy(ctx->rel + rel_len, c->name, c->len);

        /*
         * For c itself: "c/" comes later and reads the folder anyway, so
         * reading it now also tells whether it holds _manifests; a stat
         * is cheaper when there is no "c/", or when the page is full and
         * only "more" is left to learn.
         */

        if (!e.sub) {
            if (c->nested && ctx->out->count < ctx->n) {
                rc = cat_read(ctx, rel_len + c->len, c);
                if (rc == BLOBSTORE_OK && c->repo) {
                    rc = cat_emit(ctx, rel_len + c->len);
                }

            } else if (cat_is_repo(ctx, rel_len + c->len)) {
                rc = cat_emit(ctx, rel_len + c->len);
            }

            if (rc != BLOBSTORE_OK) {
                break;
            }

            continue;
        }

        if (!c->read) {
            rc = cat_read(ctx, rel_len + c->len, c);
            if (rc != BLOBSTORE_OK) {
                break;
            }
        }

        sub_rest = NULL;
        if (rest != NULL && strncmp(rest, c->name, c->len) == 0
            && rest[c->len] == '/')
        {
            sub_rest = rest + c->len + 1;
        }

        ctx->rel[rel_len + c->len] = '/';

        rc = cat_folder(ctx, rel_len + c->len + 1, c->kids, c->nkids,
                        sub_rest, depth + 1);

        free(c->kids);
        c->kids = NULL;

        if (rc != BLOBSTORE_OK) {
            break;
        }
    }

    for (i = 0; i < count; i++) {
        free(kids[i].kids);
    }

    free(ents);
    free(kids);

    return rc;
}


/*
 * Reads the repositories after last from the folders, at most n of
 * them: the catalog when no list is kept in memory, and how that list is
 * made.
 */

int
blobstore__catalog_walk(blobstore_strlist_t *out, blobstore_t *bs,
    const char *last, size_t n, blobstore_error_t *err)
{
    int         rc;
    char        path[BLOBSTORE__PATH_MAX];
    cat_ctx     ctx;
    cat_child   top;

    blobstore__error_clear(err);
    memset(out, 0, sizeof(blobstore_strlist_t));

    rc = blobstore__path(path, bs, err, "/repositories");
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    /* items is never NULL on success, as with blobstore__page() */

    memset(&ctx, 0, sizeof(cat_ctx));
    ctx.out = out;
    ctx.n = n;
    ctx.size = (n < 64) ? ((n == 0) ? 1 : n) : 64;
    ctx.err = err;

    out->items = malloc(ctx.size * sizeof(char *));
    if (out->items == NULL) {
        return blobstore__error(err, BLOBSTORE_ENOMEM, ENOMEM,
                                "out of memory");
    }

    ctx.root = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (ctx.root < 0) {
        if (errno == ENOENT) {
            return BLOBSTORE_OK;
        }

        rc = blobstore__sys_error(err, errno, "open(\"%s\") failed", path);
        blobstore_strlist_free(out);
        return rc;
    }

    rc = cat_read(&ctx, 0, &top);
    if (rc == BLOBSTORE_OK) {
        rc = cat_folder(&ctx, 0, top.kids, top.nkids,
                        (last != NULL && last[0] != '\0') ? last : NULL, 0);
    }

    free(top.kids);
    close(ctx.root);

    if (rc != BLOBSTORE_OK) {
        blobstore_strlist_free(out);
        return rc;
    }

    return BLOBSTORE_OK;
}
