
/*
 * Copyright (C) Hephaestus developers
 */


#include <string.h>

#include "check_fixture.h"


#define SHA256_A                                                             \
    "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"


START_TEST(test_validate_name)
{
    char  name[300];

    ck_assert_int_eq(blobstore_name_valid("a"), BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_name_valid("library/ubuntu"), BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_name_valid("a.b_c__d-e---f/g0"),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_name_valid("a/b/c/d"), BLOBSTORE_OK);

    ck_assert_int_eq(blobstore_name_valid(NULL), BLOBSTORE_EINVAL);
    ck_assert_int_eq(blobstore_name_valid(""), BLOBSTORE_EINVAL);
    ck_assert_int_eq(blobstore_name_valid("A"), BLOBSTORE_EINVAL);
    ck_assert_int_eq(blobstore_name_valid("a/B"), BLOBSTORE_EINVAL);
    ck_assert_int_eq(blobstore_name_valid("a_"), BLOBSTORE_EINVAL);
    ck_assert_int_eq(blobstore_name_valid("_a"), BLOBSTORE_EINVAL);
    ck_assert_int_eq(blobstore_name_valid("a___b"), BLOBSTORE_EINVAL);
    ck_assert_int_eq(blobstore_name_valid("a..b"), BLOBSTORE_EINVAL);
    ck_assert_int_eq(blobstore_name_valid("a.-b"), BLOBSTORE_EINVAL);
    ck_assert_int_eq(blobstore_name_valid("a//b"), BLOBSTORE_EINVAL);
    ck_assert_int_eq(blobstore_name_valid("/a"), BLOBSTORE_EINVAL);
    ck_assert_int_eq(blobstore_name_valid("a/"), BLOBSTORE_EINVAL);
    ck_assert_int_eq(blobstore_name_valid("a/../b"), BLOBSTORE_EINVAL);
    ck_assert_int_eq(blobstore_name_valid("a/./b"), BLOBSTORE_EINVAL);
    ck_assert_int_eq(blobstore_name_valid("a b"), BLOBSTORE_EINVAL);

    memset(name, 'a', 255);
    name[255] = '\0';
    ck_assert_int_eq(blobstore_name_valid(name), BLOBSTORE_OK);
    name[255] = 'a';
    name[256] = '\0';
    ck_assert_int_eq(blobstore_name_valid(name), BLOBSTORE_EINVAL);
}
END_TEST


START_TEST(test_validate_tag)
{
    char  tag[200];

    ck_assert_int_eq(blobstore_tag_valid("latest"), BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_tag_valid("_x"), BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_tag_valid("V1.0-rc_2"), BLOBSTORE_OK);

    ck_assert_int_eq(blobstore_tag_valid(NULL), BLOBSTORE_EINVAL);
    ck_assert_int_eq(blobstore_tag_valid(""), BLOBSTORE_EINVAL);
    ck_assert_int_eq(blobstore_tag_valid(".x"), BLOBSTORE_EINVAL);
    ck_assert_int_eq(blobstore_tag_valid("-x"), BLOBSTORE_EINVAL);
    ck_assert_int_eq(blobstore_tag_valid("a/b"), BLOBSTORE_EINVAL);
    ck_assert_int_eq(blobstore_tag_valid("a:b"), BLOBSTORE_EINVAL);
    ck_assert_int_eq(blobstore_tag_valid(".."), BLOBSTORE_EINVAL);

    memset(tag, 'x', 128);
    tag[128] = '\0';
    ck_assert_int_eq(blobstore_tag_valid(tag), BLOBSTORE_OK);
    tag[128] = 'x';
    tag[129] = '\0';
    ck_assert_int_eq(blobstore_tag_valid(tag), BLOBSTORE_EINVAL);
}
END_TEST


START_TEST(test_validate_digest)
{
    char  d[200];

    ck_assert_int_eq(blobstore_digest_valid(SHA256_A), BLOBSTORE_OK);

    fx_sha512(d, "a", 1);
    ck_assert_int_eq(blobstore_digest_valid(d), BLOBSTORE_OK);

    ck_assert_int_eq(blobstore_digest_valid(NULL), BLOBSTORE_EINVAL);
    ck_assert_int_eq(blobstore_digest_valid(""), BLOBSTORE_EINVAL);
    ck_assert_int_eq(blobstore_digest_valid("sha256"), BLOBSTORE_EINVAL);
    ck_assert_int_eq(blobstore_digest_valid("sha256:"), BLOBSTORE_EINVAL);
    ck_assert_int_eq(blobstore_digest_valid(":abc"), BLOBSTORE_EINVAL);
    ck_assert_int_eq(blobstore_digest_valid("sha256:abc"),
                     BLOBSTORE_EINVAL);
    ck_assert_int_eq(blobstore_digest_valid("Sha256:abc"),
                     BLOBSTORE_EINVAL);
    ck_assert_int_eq(blobstore_digest_valid("sha256:../../x"),
                     BLOBSTORE_EINVAL);

    strcpy(d, SHA256_A);
    d[10] = 'F';
    ck_assert_int_eq(blobstore_digest_valid(d), BLOBSTORE_EINVAL);

    strcpy(d, SHA256_A);
    strcat(d, "0");
    ck_assert_int_eq(blobstore_digest_valid(d), BLOBSTORE_EINVAL);

    ck_assert_int_eq(blobstore_digest_valid("md5:abcdef"),
                     BLOBSTORE_EUNSUPPORTED);
    ck_assert_int_eq(blobstore_digest_valid("sha256+b64u:LCa0a2j_xo_5m0U8"),
                     BLOBSTORE_EUNSUPPORTED);
    ck_assert_int_eq(blobstore_digest_valid("sha384:abc"),
                     BLOBSTORE_EUNSUPPORTED);
    ck_assert_int_eq(blobstore_digest_valid("sha-:abc"), BLOBSTORE_EINVAL);
}
END_TEST


START_TEST(test_validate_open)
{
    char                  uuid[BLOBSTORE_UUID_LEN + 1];
    blobstore_t          *bs;
    blobstore_error_t     err;
    blobstore_strlist_t   list;
    blobstore_options_t   opts = BLOBSTORE_OPTIONS_INIT;

    opts.version = 99;
    ck_assert_int_eq(blobstore_open(&bs, fx.dir, &opts, &err),
                     BLOBSTORE_EINVAL);
    ck_assert_ptr_null(bs);
    ck_assert_int_eq(err.code, BLOBSTORE_EINVAL);

    /* nothing is made until something is written */
    ck_assert_int_eq(blobstore_open(&bs, fx.dir, NULL, &err), BLOBSTORE_OK);
    ck_assert(!fx_exists(""));
    ck_assert_int_eq(blobstore_catalog(&list, bs, NULL, 10, &err),
                     BLOBSTORE_OK);
    ck_assert_uint_eq(list.count, 0);
    blobstore_strlist_free(&list);
    ck_assert_int_eq(blobstore_tags_list(&list, bs, "r", NULL, 10, &err),
                     BLOBSTORE_ENOTFOUND);
    ck_assert_int_eq(blobstore_upload_start(uuid, bs, "r", &err),
                     BLOBSTORE_OK);
    ck_assert(fx_exists("repositories/r/_uploads"));
    blobstore_close(bs);
    blobstore_close(NULL);
    blobstore_free(NULL);

    ck_assert_str_eq(blobstore_strerror(BLOBSTORE_OK), "success");
    ck_assert_str_eq(blobstore_strerror(BLOBSTORE_ENOSPC),
                     "no space left on device");
    ck_assert_str_eq(blobstore_strerror(BLOBSTORE_EAGAIN), "would block");
    ck_assert_str_eq(blobstore_strerror(12345), "unknown error");
}
END_TEST


Suite *
validate_suite(void)
{
    TCase  *tc;
    Suite  *s;

    s = suite_create("validate");

    tc = tcase_create("grammar");
    tcase_add_test(tc, test_validate_name);
    tcase_add_test(tc, test_validate_tag);
    tcase_add_test(tc, test_validate_digest);
    suite_add_tcase(s, tc);

    tc = tcase_create("handle");
    tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
    tcase_add_test(tc, test_validate_open);
    suite_add_tcase(s, tc);

    return s;
}
