
/*
 * Copyright (C) Hephaestus developers
 */


#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check_fixture.h"


START_TEST(test_blob_open_stat)
{
    int                fd;
    char               d[80], buf[64];
    ssize_t            n;
    blobstore_info_t   info;
    blobstore_error_t  err;

    fx_push_blob(d, "r", "blob content");

    ck_assert_int_eq(blobstore_blob_stat(&info, fx.bs, "r", d, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(info.size, 12);
    ck_assert_str_eq(info.digest, d);
    ck_assert_int_le(info.mtime, (int64_t) time(NULL));
    ck_assert_int_gt(info.mtime, 0);

    ck_assert_int_eq(blobstore_blob_open(&fd, &info, fx.bs, "r", d, &err),
                     BLOBSTORE_OK);
    n = read(fd, buf, sizeof(buf));
    ck_assert_int_eq(n, 12);
    ck_assert(memcmp(buf, "blob content", 12) == 0);
    close(fd);

    ck_assert_int_eq(blobstore_blob_open(&fd, &info, fx.bs, "r",
                                         "sha256:abc", &err),
                     BLOBSTORE_EINVAL);
    ck_assert_int_eq(fd, -1);
    ck_assert_int_eq(blobstore_blob_stat(&info, fx.bs, "r", "foo:bar",
                                         &err),
                     BLOBSTORE_EUNSUPPORTED);
    ck_assert_int_eq(blobstore_blob_stat(&info, fx.bs, "../r", d, &err),
                     BLOBSTORE_EINVAL);
}
END_TEST


START_TEST(test_blob_repo_scoping)
{
    char               d[80];
    blobstore_info_t   info;
    blobstore_error_t  err;

    fx_push_blob(d, "one", "scoped");

    ck_assert_int_eq(blobstore_blob_stat(&info, fx.bs, "two", d, &err),
                     BLOBSTORE_ENOTFOUND);
    ck_assert_int_eq(err.code, BLOBSTORE_ENOTFOUND);
    ck_assert_int_eq(blobstore_blob_stat(&info, fx.bs, "one/sub", d, &err),
                     BLOBSTORE_ENOTFOUND);
}
END_TEST


START_TEST(test_blob_missing_data)
{
    char               d[80], rel[300], path[4096];
    blobstore_error_t  err;

    fx_push_blob(d, "r", "will vanish");

    snprintf(rel, sizeof(rel), "blobs/sha256/%.2s/%s/data", d + 7, d + 7);
    fx_path(path, sizeof(path), rel);
    ck_assert_int_eq(unlink(path), 0);

    ck_assert_int_eq(blobstore_blob_stat(NULL, fx.bs, "r", d, &err),
                     BLOBSTORE_ENOTFOUND);
}
END_TEST


START_TEST(test_blob_mount)
{
    int                fd;
    char               d[80], other[80];
    blobstore_info_t   info;
    blobstore_error_t  err;

    fx_push_blob(d, "src", "mount me");
    fx_sha256(other, "not here", 8);

    ck_assert_int_eq(blobstore_blob_mount(fx.bs, "dst", d, "src", &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_blob_open(&fd, &info, fx.bs, "dst", d, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(info.size, 8);
    close(fd);

    /* mounting again is harmless */
    ck_assert_int_eq(blobstore_blob_mount(fx.bs, "dst", d, "src", &err),
                     BLOBSTORE_OK);

    ck_assert_int_eq(blobstore_blob_mount(fx.bs, "dst", other, "src", &err),
                     BLOBSTORE_ENOTFOUND);
    ck_assert_int_eq(blobstore_blob_mount(fx.bs, "dst2", d, "nowhere",
                                          &err),
                     BLOBSTORE_ENOTFOUND);
    ck_assert_int_eq(blobstore_blob_stat(NULL, fx.bs, "dst2", d, &err),
                     BLOBSTORE_ENOTFOUND);
    ck_assert_int_eq(blobstore_blob_mount(fx.bs, "dst", d, "Bad", &err),
                     BLOBSTORE_EINVAL);
}
END_TEST


START_TEST(test_blob_delete)
{
    char               d[80], rel[300];
    blobstore_error_t  err;

    fx_push_blob(d, "a", "shared");
    ck_assert_int_eq(blobstore_blob_mount(fx.bs, "b", d, "a", &err),
                     BLOBSTORE_OK);

    ck_assert_int_eq(blobstore_blob_delete(fx.bs, "a", d, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_blob_stat(NULL, fx.bs, "a", d, &err),
                     BLOBSTORE_ENOTFOUND);
    ck_assert_int_eq(blobstore_blob_stat(NULL, fx.bs, "b", d, &err),
                     BLOBSTORE_OK);

    snprintf(rel, sizeof(rel), "repositories/a/_layers/sha256/%s", d + 7);
    ck_assert(!fx_exists(rel));
    snprintf(rel, sizeof(rel), "blobs/sha256/%.2s/%s/data", d + 7, d + 7);
    ck_assert(fx_exists(rel));

    ck_assert_int_eq(blobstore_blob_delete(fx.bs, "a", d, &err),
                     BLOBSTORE_ENOTFOUND);
    ck_assert_int_eq(blobstore_blob_delete(fx.bs, "a", "sha1:00", &err),
                     BLOBSTORE_EUNSUPPORTED);
}
END_TEST


Suite *
blob_suite(void)
{
    TCase  *tc;
    Suite  *s;

    s = suite_create("blob");

    tc = tcase_create("read");
    tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
    tcase_add_test(tc, test_blob_open_stat);
    tcase_add_test(tc, test_blob_repo_scoping);
    tcase_add_test(tc, test_blob_missing_data);
    suite_add_tcase(s, tc);

    tc = tcase_create("link");
    tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
    tcase_add_test(tc, test_blob_mount);
    tcase_add_test(tc, test_blob_delete);
    suite_add_tcase(s, tc);

    return s;
}
