
/*
 * Copyright (C) Hephaestus developers
 */


#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check_fixture.h"


static void tag(const char *repo, const char *name);
static void make_repo_dirs(const char *repo);


static char  digest[80];


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


static void
make_repo_dirs(const char *repo)
{
    char    path[4096];
    size_t  i, len;

    len = (size_t) snprintf(path, sizeof(path),
                            "%s/docker/registry/v2/repositories/%s/"
                            "_manifests", fx.dir, repo);

    for (i = strlen(fx.dir) + 1; i <= len; i++) {
        if (path[i] == '/' || path[i] == '\0') {
            path[i] = '\0';
            mkdir(path, 0755);
            path[i] = (i == len) ? '\0' : '/';
        }
    }
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

    ck_assert_int_eq(blobstore_catalog(&list, fx.bs, NULL, 100, &err),
                     BLOBSTORE_OK);
    ck_assert_uint_eq(list.count, 0);
    ck_assert_int_eq(list.more, 0);
    blobstore_strlist_free(&list);
}
END_TEST


START_TEST(test_list_catalog_fast)
{
    int                  i;
    char                 name[64];
    double               secs;
    struct timespec      t0, t1;
    blobstore_error_t    err;
    blobstore_strlist_t  list;

    for (i = 0; i < 10000; i++) {
        snprintf(name, sizeof(name), "org%d/repo%d", i % 100, i);
        make_repo_dirs(name);
    }

    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(blobstore_catalog(&list, fx.bs, NULL, 1000, &err),
                     BLOBSTORE_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);

    secs = (double) (t1.tv_sec - t0.tv_sec)
           + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
    ck_assert_msg(secs < 1.0, "catalog of 10000 took %.3f s", secs);
    ck_assert_uint_eq(list.count, 1000);
    ck_assert_int_eq(list.more, 1);
    ck_assert_str_eq(list.items[0], "org0/repo0");
    blobstore_strlist_free(&list);
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
    tcase_add_test(tc, test_list_catalog_nested);
    tcase_add_test(tc, test_list_catalog_empty);
    tcase_add_test(tc, test_list_catalog_fast);
    suite_add_tcase(s, tc);

    return s;
}
