
/*
 * Copyright (C) Hephaestus developers
 */


#include <stdlib.h>
#include <string.h>

#include "check_fixture.h"
#include "../src/blobstore_int.h"


static unsigned char *pattern(size_t len);


static unsigned char *
pattern(size_t len)
{
    size_t          i;
    unsigned char  *p;

    p = malloc(len);
    ck_assert_ptr_nonnull(p);

    for (i = 0; i < len; i++) {
        p[i] = (unsigned char) ((i * 7919 + (i >> 8)) & 0xff);
    }

    return p;
}


START_TEST(test_digest_known)
{
    char                 want[200];
    blobstore__digest_t  d;

    blobstore__hash_buf(&d, BLOBSTORE__SHA256, "hello", 5);
    ck_assert_str_eq(d.full, "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5"
                     "c1fa7425e73043362938b9824");
    ck_assert_str_eq(d.alg_name, "sha256");

    blobstore__hash_buf(&d, BLOBSTORE__SHA256, "", 0);
    ck_assert_str_eq(d.full, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e"
                     "4649b934ca495991b7852b855");

    blobstore__hash_buf(&d, BLOBSTORE__SHA512, "abc", 3);
    fx_sha512(want, "abc", 3);
    ck_assert_str_eq(d.full, want);
    ck_assert_uint_eq(strlen(d.hex), 128);
}
END_TEST


/*
 * The context is copied byte for byte between chunks, as it is through
 * the state file: the result must equal the one-shot hash.
 */

START_TEST(test_digest_resumed)
{
    char                 want[200];
    size_t               len, off, chunk, i;
    unsigned char        saved[sizeof(blobstore__hash_t)], *data;
    blobstore__hash_t    h;
    blobstore__digest_t  d;

    len = 3 * 1024 * 1024 + 17;
    data = pattern(len);

    blobstore__hash_init(&h, BLOBSTORE__SHA256);
    memcpy(saved, &h, sizeof(h));

    for (off = 0, i = 0; off < len; off += chunk, i++) {
        chunk = 1 + (i * 104729) % 65536;
        if (chunk > len - off) {
            chunk = len - off;
        }

        memcpy(&h, saved, sizeof(h));
        blobstore__hash_update(&h, data + off, chunk);
        memcpy(saved, &h, sizeof(h));

        /* finalizing a copy leaves h usable */
        blobstore__hash_final(&d, &h);
    }

    memcpy(&h, saved, sizeof(h));
    blobstore__hash_final(&d, &h);
    fx_sha256(want, data, len);
    ck_assert_str_eq(d.full, want);

    free(data);
}
END_TEST


START_TEST(test_digest_upload_chunks)
{
    int                i;
    char               uuid[BLOBSTORE_UUID_LEN + 1], want[200];
    size_t             len, off, chunk;
    int64_t            size;
    unsigned char     *data;
    blobstore_info_t   info;
    blobstore_error_t  err;

    len = 100 * 10007;
    data = pattern(len);
    fx_sha256(want, data, len);

    ck_assert_int_eq(blobstore_upload_start(uuid, fx.bs, "r", &err),
                     BLOBSTORE_OK);

    for (i = 0, off = 0; i < 100; i++, off += chunk) {
        chunk = (i == 99) ? len - off : 10007;
        ck_assert_int_eq(blobstore_upload_append(&size, fx.bs, "r", uuid,
                                                 (int64_t) off, data + off,
                                                 chunk, &err),
                         BLOBSTORE_OK);
        ck_assert_int_eq(size, (int64_t) (off + chunk));
    }

    ck_assert_int_eq(blobstore_upload_commit(fx.bs, "r", uuid, want, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_blob_stat(&info, fx.bs, "r", want, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(info.size, (int64_t) len);

    free(data);
}
END_TEST


Suite *
digest_suite(void)
{
    TCase  *tc;
    Suite  *s;

    s = suite_create("digest");

    tc = tcase_create("hash");
    tcase_add_test(tc, test_digest_known);
    tcase_add_test(tc, test_digest_resumed);
    suite_add_tcase(s, tc);

    tc = tcase_create("upload");
    tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
    tcase_add_test(tc, test_digest_upload_chunks);
    suite_add_tcase(s, tc);

    return s;
}
