
/*
 * Copyright (C) Hephaestus developers
 */


#include <sys/stat.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check_fixture.h"


static void tag(const char *repo, const char *name);
static void make_dirs(const char *rel);
static void make_repo_dirs(const char *repo);
static void check_page(const char **names, size_t count, const char *last,
    size_t n);
static int cmp_name(const void *a, const void *b);
static int in_list(char **list, size_t count, const char *name);
static void reopen(unsigned int ttl);
static int listed(blobstore_t *bs, const char *name);
static void append_journal(const char *text);


static char  digest[80];


/* in strcmp() order, which puts '-' < '.' < '/' < '_' < [a-z] */

static const char  *order_names[] = {
    "a", "a-c", "a.b", "a/b", "a/b/c", "a/b/c/d", "a__b", "a_b", "ab",
    "x/y/z"
};


/* after each of these too, every page must match order_names */

static const char  *order_lasts[] = {
    "", "0", "a-", "a/", "a/a", "a/b/", "a/b/c/", "a/b/c/d/e", "a/c", "a_",
    "a~", "b", "plain", "plain/dir", "x", "x/y", "x/y/z/w", "zzz", "\xff"
};


static void
tag(const char *repo, const char *name)
{
    char               *m, config[80];
    blobstore_error_t   err;

    fx_push_blob(config, repo, "{}");
    m = fx_image(FX_OCI_MANIFEST, config, "application/x", NULL, NULL,
                 NULL);
    fx_sha256(digest, m, strlen(m));
    ck_assert_int_eq(blobstore_manifest_put(NULL, fx.bs, repo, name, "", m,
                                            strlen(m), &err),
                     BLOBSTORE_OK);
    free(m);
}


/* mkdir -p repositories/rel */

static void
make_dirs(const char *rel)
{
    char    path[4096];
    size_t  i, len;

    len = (size_t) snprintf(path, sizeof(path),
                            "%s/docker/registry/v2/repositories/%s",
                            fx.dir, rel);

    for (i = strlen(fx.dir) + 1; i <= len; i++) {
        if (path[i] == '/' || path[i] == '\0') {
            path[i] = '\0';
            mkdir(path, 0755);
            path[i] = (i == len) ? '\0' : '/';
        }
    }
}


static void
make_repo_dirs(const char *repo)
{
    char  rel[4096];

    snprintf(rel, sizeof(rel), "%s/_manifests", repo);
    make_dirs(rel);
}


/*
 * The catalog tests run twice (_i): reading the folders on every call,
 * then from the list kept in memory.
 */

static void
reopen(unsigned int ttl)
{
    blobstore_close(fx.bs);
    fx.bs = fx_open_ttl(ttl);
}


static int
listed(blobstore_t *bs, const char *name)
{
    int                  found;
    size_t               i;
    blobstore_error_t    err;
    blobstore_strlist_t  list;

    ck_assert_int_eq(blobstore_catalog(&list, bs, NULL, SIZE_MAX, &err),
                     BLOBSTORE_OK);

    found = 0;
    for (i = 0; i < list.count; i++) {
        if (strcmp(list.items[i], name) == 0) {
            found = 1;
        }
    }

    blobstore_strlist_free(&list);
    return found;
}


static void
append_journal(const char *text)
{
    char   path[4096];
    FILE  *f;

    snprintf(path, sizeof(path), "%s/docker/registry/v2/heph-repositories",
             fx.dir);
    f = fopen(path, "a");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}


/*
 * Checks the catalog page after last of at most n against names, all the
 * repositories in strcmp() order.
 */

static void
check_page(const char **names, size_t count, const char *last, size_t n)
{
    size_t               i, start, k;
    blobstore_error_t    err;
    blobstore_strlist_t  list;

    start = 0;
    if (last != NULL && last[0] != '\0') {
        while (start < count && strcmp(names[start], last) <= 0) {
            start++;
        }
    }

    k = count - start;
    if (k > n) {
        k = n;
    }

    ck_assert_int_eq(blobstore_catalog(&list, fx.bs, last, n, &err),
                     BLOBSTORE_OK);
    ck_assert_msg(list.count == k, "after \"%s\", n %zu: %zu names, not %zu",
                  (last != NULL) ? last : "(null)", n, list.count, k);
    ck_assert_ptr_nonnull(list.items);

    for (i = 0; i < k; i++) {
        ck_assert_str_eq(list.items[i], names[start + i]);
    }

    ck_assert_msg(list.more == (start + k < count),
                  "after \"%s\", n %zu: more is %d",
                  (last != NULL) ? last : "(null)", n, list.more);
    blobstore_strlist_free(&list);
}


static int
cmp_name(const void *a, const void *b)
{
    return strcmp(*(char * const *) a, *(char * const *) b);
}


START_TEST(test_list_tags_sorted)
{
    blobstore_error_t    err;
    blobstore_strlist_t  list;

    tag("r", "b");
    tag("r", "a1");
    tag("r", "C");
    tag("r", "a");
    tag("r", "_z");

    /* a tag folder without a current link is no tag */
    make_repo_dirs("r/_manifests/tags/broken");

    ck_assert_int_eq(blobstore_tags_list(&list, fx.bs, "r", NULL, SIZE_MAX,
                                         &err),
                     BLOBSTORE_OK);
    ck_assert_uint_eq(list.count, 5);
    ck_assert_int_eq(list.more, 0);
    ck_assert_str_eq(list.items[0], "C");
    ck_assert_str_eq(list.items[1], "_z");
    ck_assert_str_eq(list.items[2], "a");
    ck_assert_str_eq(list.items[3], "a1");
    ck_assert_str_eq(list.items[4], "b");
    blobstore_strlist_free(&list);
    ck_assert_ptr_null(list.items);
    ck_assert_uint_eq(list.count, 0);
}
END_TEST


START_TEST(test_list_tags_paging)
{
    blobstore_error_t    err;
    blobstore_strlist_t  list;

    tag("r", "t1");
    tag("r", "t2");
    tag("r", "t3");

    ck_assert_int_eq(blobstore_tags_list(&list, fx.bs, "r", "", 2, &err),
                     BLOBSTORE_OK);
    ck_assert_uint_eq(list.count, 2);
    ck_assert_int_eq(list.more, 1);
    ck_assert_str_eq(list.items[1], "t2");
    blobstore_strlist_free(&list);

    ck_assert_int_eq(blobstore_tags_list(&list, fx.bs, "r", "t2", 2, &err),
                     BLOBSTORE_OK);
    ck_assert_uint_eq(list.count, 1);
    ck_assert_int_eq(list.more, 0);
    ck_assert_str_eq(list.items[0], "t3");
    blobstore_strlist_free(&list);

    ck_assert_int_eq(blobstore_tags_list(&list, fx.bs, "r", "t", 0, &err),
                     BLOBSTORE_OK);
    ck_assert_uint_eq(list.count, 0);
    ck_assert_int_eq(list.more, 1);
    blobstore_strlist_free(&list);

    ck_assert_int_eq(blobstore_tags_list(&list, fx.bs, "r", "t3", 10, &err),
                     BLOBSTORE_OK);
    ck_assert_uint_eq(list.count, 0);
    ck_assert_int_eq(list.more, 0);
    blobstore_strlist_free(&list);

    ck_assert_int_eq(blobstore_tags_list(&list, fx.bs, "nope", NULL, 10,
                                         &err),
                     BLOBSTORE_ENOTFOUND);
    ck_assert_int_eq(blobstore_tags_list(&list, fx.bs, "No", NULL, 10,
                                         &err),
                     BLOBSTORE_EINVAL);
}
END_TEST


START_TEST(test_list_catalog_nested)
{
    char                 d[80];
    blobstore_error_t    err;
    blobstore_strlist_t  list;

    reopen(_i == 0 ? 0 : 3600);

    tag("a/b", "x");
    tag("a", "x");
    tag("a/b/c", "x");
    tag("z", "x");
    tag("lib/x", "x");
    fx_push_blob(d, "blobs-only", "data");

    ck_assert_int_eq(blobstore_catalog(&list, fx.bs, NULL, SIZE_MAX, &err),
                     BLOBSTORE_OK);
    ck_assert_uint_eq(list.count, 5);
    ck_assert_str_eq(list.items[0], "a");
    ck_assert_str_eq(list.items[1], "a/b");
    ck_assert_str_eq(list.items[2], "a/b/c");
    ck_assert_str_eq(list.items[3], "lib/x");
    ck_assert_str_eq(list.items[4], "z");
    blobstore_strlist_free(&list);

    ck_assert_int_eq(blobstore_catalog(&list, fx.bs, "a/b", 2, &err),
                     BLOBSTORE_OK);
    ck_assert_uint_eq(list.count, 2);
    ck_assert_int_eq(list.more, 1);
    ck_assert_str_eq(list.items[0], "a/b/c");
    ck_assert_str_eq(list.items[1], "lib/x");
    blobstore_strlist_free(&list);

    ck_assert_int_eq(blobstore_catalog(&list, fx.bs, "lib/x", 2, &err),
                     BLOBSTORE_OK);
    ck_assert_uint_eq(list.count, 1);
    ck_assert_int_eq(list.more, 0);
    blobstore_strlist_free(&list);
}
END_TEST


START_TEST(test_list_catalog_empty)
{
    blobstore_error_t    err;
    blobstore_strlist_t  list;

    reopen(_i == 0 ? 0 : 3600);

    ck_assert_int_eq(blobstore_catalog(&list, fx.bs, NULL, 100, &err),
                     BLOBSTORE_OK);
    ck_assert_uint_eq(list.count, 0);
    ck_assert_int_eq(list.more, 0);
    blobstore_strlist_free(&list);
}
END_TEST


/*
 * Many repositories under few organisations: the first page is the right
 * one.  How fast it comes is measured by make bench, not here.
 */

START_TEST(test_list_catalog_many)
{
    int                  i;
    char                 name[64];
    blobstore_error_t    err;
    blobstore_strlist_t  list;

    reopen(_i == 0 ? 0 : 3600);

    for (i = 0; i < 2000; i++) {
        snprintf(name, sizeof(name), "org%d/repo%d", i % 20, i);
        make_repo_dirs(name);
    }

    ck_assert_int_eq(blobstore_catalog(&list, fx.bs, NULL, 1000, &err),
                     BLOBSTORE_OK);
    ck_assert_uint_eq(list.count, 1000);
    ck_assert_int_eq(list.more, 1);
    ck_assert_str_eq(list.items[0], "org0/repo0");
    ck_assert_str_eq(list.items[1], "org0/repo100");
    ck_assert_str_eq(list.items[999], "org17/repo997");
    blobstore_strlist_free(&list);
}
END_TEST


static int
in_list(char **list, size_t count, const char *name)
{
    size_t  i;

    for (i = 0; i < count; i++) {
        if (strcmp(list[i], name) == 0) {
            return 1;
        }
    }

    return 0;
}


START_TEST(test_list_catalog_order)
{
    char                 path[4096];
    size_t               i, j, count;
    const size_t         ns[] = { 0, 1, 2, 3, SIZE_MAX };
    blobstore_error_t    err;
    blobstore_strlist_t  list;

    reopen(_i == 0 ? 0 : 3600);

    count = sizeof(order_names) / sizeof(order_names[0]);

    for (i = count; i > 0; i--) {
        make_repo_dirs(order_names[i - 1]);
    }

    /* none of these is a repository */

    make_dirs("plain/dir");
    make_dirs("A/_manifests");
    make_dirs("a/_x/y/_manifests");
    make_dirs(".hidden/_manifests");
    make_dirs("a/b/c/d/_layers/z/_manifests");
    make_dirs("g");
    fx_path(path, sizeof(path), "repositories/g/_manifests");
    fclose(fopen(path, "w"));
    fx_path(path, sizeof(path), "repositories/f");
    fclose(fopen(path, "w"));
    fx_path(path, sizeof(path), "repositories/s");
    ck_assert_int_eq(symlink("a", path), 0);

    check_page(order_names, count, NULL, SIZE_MAX);

    /* last inside a subtree */

    ck_assert_int_eq(blobstore_catalog(&list, fx.bs, "a/b/c", 2, &err),
                     BLOBSTORE_OK);
    ck_assert_uint_eq(list.count, 2);
    ck_assert_int_eq(list.more, 1);
    ck_assert_str_eq(list.items[0], "a/b/c/d");
    ck_assert_str_eq(list.items[1], "a__b");
    blobstore_strlist_free(&list);

    /* last is a folder that is no repository */

    ck_assert_int_eq(blobstore_catalog(&list, fx.bs, "x/y", 10, &err),
                     BLOBSTORE_OK);
    ck_assert_uint_eq(list.count, 1);
    ck_assert_int_eq(list.more, 0);
    ck_assert_str_eq(list.items[0], "x/y/z");
    blobstore_strlist_free(&list);

    /* n = 0 only tells whether there is more */

    ck_assert_int_eq(blobstore_catalog(&list, fx.bs, NULL, 0, &err),
                     BLOBSTORE_OK);
    ck_assert_uint_eq(list.count, 0);
    ck_assert_int_eq(list.more, 1);
    blobstore_strlist_free(&list);

    ck_assert_int_eq(blobstore_catalog(&list, fx.bs, "x/y/z", 0, &err),
                     BLOBSTORE_OK);
    ck_assert_uint_eq(list.count, 0);
    ck_assert_int_eq(list.more, 0);
    blobstore_strlist_free(&list);

    /* n is exactly what is left */

    ck_assert_int_eq(blobstore_catalog(&list, fx.bs, "a__b", 3, &err),
                     BLOBSTORE_OK);
    ck_assert_uint_eq(list.count, 3);
    ck_assert_int_eq(list.more, 0);
    ck_assert_str_eq(list.items[0], "a_b");
    ck_assert_str_eq(list.items[2], "x/y/z");
    blobstore_strlist_free(&list);

    for (j = 0; j < sizeof(ns) / sizeof(ns[0]); j++) {
        for (i = 0; i < count; i++) {
            check_page(order_names, count, order_names[i], ns[j]);
        }

        for (i = 0; i < sizeof(order_lasts) / sizeof(order_lasts[0]); i++) {
            check_page(order_names, count, order_lasts[i], ns[j]);
        }
    }
}
END_TEST


/*
 * Random trees of components that differ in the bytes around '/': every
 * page after every repository and every other folder must be right.
 */

START_TEST(test_list_catalog_random)
{
    char          *names[64], *folders[32], name[64];
    size_t         i, j, k, count, nfolders, depth;
    unsigned int   seed;
    const size_t   ns[] = { 0, 1, 4, SIZE_MAX };
    const char    *parts[] = { "a", "b", "a-b", "a.b", "a_b", "a__b", "ab",
                               "a0", "0" };

    reopen(_i == 0 ? 0 : 3600);

    seed = 20240601;
    count = 0;
    nfolders = 0;

    for (i = 0; i < 96; i++) {
        seed = seed * 1103515245 + 12345;
        depth = 1 + (seed >> 16) % 3;
        name[0] = '\0';

        for (j = 0; j < depth; j++) {
            seed = seed * 1103515245 + 12345;
            k = (seed >> 16) % (sizeof(parts) / sizeof(parts[0]));
            if (j > 0) {
                strcat(name, "/");
            }

            strcat(name, parts[k]);
        }

        if (in_list(names, count, name) || in_list(folders, nfolders, name)) {
            continue;
        }

        if (i % 4 == 3 && nfolders < 32) {
            folders[nfolders++] = strdup(name);
            continue;
        }

        if (count < 64) {
            names[count++] = strdup(name);
        }
    }

    for (i = 0; i < nfolders; i++) {
        make_dirs(folders[i]);
    }

    for (i = 0; i < count; i++) {
        make_repo_dirs(names[i]);
    }

    qsort(names, count, sizeof(char *), cmp_name);

    for (j = 0; j < sizeof(ns) / sizeof(ns[0]); j++) {
        check_page((const char **) names, count, NULL, ns[j]);

        for (i = 0; i < count; i++) {
            check_page((const char **) names, count, names[i], ns[j]);
            snprintf(name, sizeof(name), "%s/", names[i]);
            check_page((const char **) names, count, name, ns[j]);
        }

        for (i = 0; i < nfolders; i++) {
            check_page((const char **) names, count, folders[i], ns[j]);
        }
    }

    for (i = 0; i < count; i++) {
        free(names[i]);
    }

    for (i = 0; i < nfolders; i++) {
        free(folders[i]);
    }
}
END_TEST


/*
 * A repository made through one handle shows at once in the list that
 * another handle keeps; one made behind the library's back shows when
 * the list is catalog_ttl old, as does one removed.
 */

START_TEST(test_list_catalog_journal)
{
    char          m[80], path[4096], text[4200];
    size_t        len;
    blobstore_t  *other, *mine;

    other = fx_open_ttl(3600);
    mine = fx.bs;

    ck_assert_int_eq(listed(other, "new/repo"), 0);

    tag("new/repo", "v1");
    ck_assert_int_eq(listed(other, "new/repo"), 1);

    /* a second manifest adds no line */

    tag("new/repo", "v2");
    fx_push_image(m, "other", "v1", "layer", NULL, NULL);
    len = fx_read(text, sizeof(text), "heph-repositories");
    text[len] = '\0';
    ck_assert_str_eq(text, "\nnew/repo\n\nother\n");
    ck_assert_int_eq(listed(other, "other"), 1);

    make_repo_dirs("by/hand");
    ck_assert_int_eq(listed(other, "by/hand"), 0);

    fx.bs = fx_open_ttl(1);
    ck_assert_int_eq(listed(fx.bs, "by/hand"), 1);
    ck_assert_int_eq(listed(fx.bs, "new/repo"), 1);

    snprintf(path, sizeof(path),
             "%s/docker/registry/v2/repositories/other/_manifests", fx.dir);
    snprintf(text, sizeof(text), "rm -rf '%s'", path);
    ck_assert_int_eq(system(text), 0);
    ck_assert_int_eq(listed(fx.bs, "other"), 1);

    sleep(2);
    ck_assert_int_eq(listed(fx.bs, "other"), 0);
    ck_assert_int_eq(listed(fx.bs, "by/hand"), 1);

    blobstore_close(fx.bs);
    blobstore_close(other);
    fx.bs = mine;
}
END_TEST


/*
 * Lines of the journal that name no repository here, torn or made up,
 * are skipped, and a name written after a torn line is still read.
 */

START_TEST(test_list_catalog_journal_junk)
{
    blobstore_t          *other;
    blobstore_error_t     err;
    blobstore_strlist_t   list;

    other = fx_open_ttl(3600);
    tag("first", "v1");
    ck_assert_int_eq(listed(other, "first"), 1);

    make_repo_dirs("sneaky");
    append_journal("\nno/such/repo\n\n../../etc\n\nBAD\n\nsneak");
    tag("second", "v1");

    ck_assert_int_eq(blobstore_catalog(&list, other, NULL, 10, &err),
                     BLOBSTORE_OK);
    ck_assert_uint_eq(list.count, 2);
    ck_assert_str_eq(list.items[0], "first");
    ck_assert_str_eq(list.items[1], "second");
    blobstore_strlist_free(&list);

    /* a line naming a real repository counts, whoever wrote it */

    append_journal("\nsneaky\n");
    ck_assert_int_eq(listed(other, "sneaky"), 1);

    blobstore_close(other);
}
END_TEST


Suite *
list_suite(void)
{
    TCase  *tc;
    Suite  *s;

    s = suite_create("list");

    tc = tcase_create("tags");
    tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
    tcase_add_test(tc, test_list_tags_sorted);
    tcase_add_test(tc, test_list_tags_paging);
    suite_add_tcase(s, tc);

    tc = tcase_create("catalog");
    tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, test_list_catalog_nested, 0, 2);
    tcase_add_loop_test(tc, test_list_catalog_empty, 0, 2);
    tcase_add_loop_test(tc, test_list_catalog_order, 0, 2);
    tcase_add_loop_test(tc, test_list_catalog_random, 0, 2);
    tcase_add_loop_test(tc, test_list_catalog_many, 0, 2);
    suite_add_tcase(s, tc);

    tc = tcase_create("catalog list in memory");
    tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
    tcase_add_test(tc, test_list_catalog_journal);
    tcase_add_test(tc, test_list_catalog_journal_junk);
    suite_add_tcase(s, tc);

    return s;
}
