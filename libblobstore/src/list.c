
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


static int vec_push(name_vec *v, const char *s, size_t len);
static void vec_free(name_vec *v);
static int cmp_str(const void *a, const void *b);
static int is_dir_entry(int at, struct dirent *de);
static int walk(name_vec *v, int fd_in, char *rel, size_t rel_len,
    int depth, blobstore_error_t *err);


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
        errno = 0;
        de = readdir(dir);
        if (de == NULL) {
            if (errno != 0) {
                rc = blobstore__sys_error(err, errno,
                                          "readdir(\"%s\") failed", path);
            }

            break;
        }

        if (de->d_name[0] == '.'
            || blobstore_tag_valid(de->d_name) != BLOBSTORE_OK)
        {
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
 * Walks the folder fd_in, whose name relative to repositories/ is
 * rel[0..rel_len).  A folder holding _manifests is a repository; folders
 * starting with '_' or '.' are not walked.  Consumes fd_in.
 */

static int
walk(name_vec *v, int fd_in, char *rel, size_t rel_len, int depth,
    blobstore_error_t *err)
{
    int             rc, fd, is_repo;
    DIR            *dir;
    size_t          len;
    struct dirent  *de;

    dir = fdopendir(fd_in);
    if (dir == NULL) {
        rc = blobstore__sys_error(err, errno, "fdopendir() failed");
        close(fd_in);
        return rc;
    }

    rc = BLOBSTORE_OK;
    is_repo = 0;

    for ( ;; ) {
        errno = 0;
        de = readdir(dir);
        if (de == NULL) {
            if (errno != 0) {
                rc = blobstore__sys_error(err, errno, "readdir() failed");
            }

            break;
        }

        if (de->d_name[0] == '.') {
            continue;
        }

        if (de->d_name[0] == '_') {
            if (strcmp(de->d_name, "_manifests") == 0
                && is_dir_entry(dirfd(dir), de))
            {
                is_repo = 1;
            }

            continue;
        }

        len = strlen(de->d_name);
        if (depth >= BLOBSTORE__TREE_DEPTH
            || rel_len + (rel_len > 0) + len > BLOBSTORE_NAME_MAX
            || !is_dir_entry(dirfd(dir), de))
        {
            continue;
        }

        fd = openat(dirfd(dir), de->d_name,
                    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT) {
                continue;
            }

            rc = blobstore__sys_error(err, errno, "open(\"%s\") failed",
                                      de->d_name);
            break;
        }

        if (rel_len > 0) {
            rel[rel_len] = '/';
            memcpy(rel + rel_len + 1, de->d_name, len + 1);
            rc = walk(v, fd, rel, rel_len + 1 + len, depth + 1, err);

        } else {
            memcpy(rel, de->d_name, len + 1);
            rc = walk(v, fd, rel, len, depth + 1, err);
        }

        rel[rel_len] = '\0';

        if (rc != BLOBSTORE_OK) {
            break;
        }
    }

    closedir(dir);

    if (rc == BLOBSTORE_OK && is_repo && rel_len > 0
        && blobstore_name_valid(rel) == BLOBSTORE_OK)
    {
        if (vec_push(v, rel, rel_len) < 0) {
            rc = blobstore__error(err, BLOBSTORE_ENOMEM, ENOMEM,
                                  "out of memory");
        }
    }

    return rc;
}


BLOBSTORE_EXTERN(int)
blobstore_catalog(blobstore_strlist_t *out, blobstore_t *bs,
    const char *last, size_t n, blobstore_error_t *err)
{
    int       rc, fd;
    char      path[BLOBSTORE__PATH_MAX], rel[BLOBSTORE_NAME_MAX + 2];
    name_vec  v;

    blobstore__error_clear(err);
    memset(out, 0, sizeof(blobstore_strlist_t));
    memset(&v, 0, sizeof(name_vec));

    rc = blobstore__path(path, bs, err, "/repositories");
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT) {
            return blobstore__sys_error(err, errno, "open(\"%s\") failed",
                                        path);
        }

        return blobstore__page(out, NULL, 0, last, n, err);
    }

    rel[0] = '\0';

    rc = walk(&v, fd, rel, 0, 0, err);
    if (rc != BLOBSTORE_OK) {
        vec_free(&v);
        return rc;
    }

    return blobstore__page(out, v.items, v.count, last, n, err);
}
