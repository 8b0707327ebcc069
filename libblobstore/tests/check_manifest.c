
/*
 * Copyright (C) Hephaestus developers
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_fixture.h"


#define CONFIG_TYPE  "application/vnd.oci.image.config.v1+json"


static char  config[80], layer[80];


static void push_blobs(void);
static int put(blobstore_info_t *info, const char *ref, const char *ct,
    const char *m, blobstore_error_t *err);
static char *index_of(const char *media_type, const char *child);


static void
push_blobs(void)
{
    fx_push_blob(config, "r", "{}");
    fx_push_blob(layer, "r", "layer data");
}


static int
put(blobstore_info_t *info, const char *ref, const char *ct, const char *m,
    blobstore_error_t *err)
{
    return blobstore_manifest_put(info, fx.bs, "r", ref, ct, m, strlen(m),
                                  err);
}


static char *
index_of(const char *media_type, const char *child)
{
    char  *buf;

    buf = malloc(1024);
    ck_assert_ptr_nonnull(buf);

    snprintf(buf, 1024,
             "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":["
             "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":100,"
             "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}]}",
             media_type, FX_OCI_MANIFEST, child);

    return buf;
}


START_TEST(test_manifest_media_types)
{
    char               *m, *idx, d[80];
    blobstore_info_t    info;
    blobstore_error_t   err;

    push_blobs();

    m = fx_image(FX_DOCKER_MANIFEST, config,
                 "application/vnd.docker.container.image.v1+json", layer,
                 NULL, NULL);
    ck_assert_int_eq(put(&info, "docker", FX_DOCKER_MANIFEST, m, &err),
                     BLOBSTORE_OK);
    ck_assert_str_eq(info.media_type, FX_DOCKER_MANIFEST);
    fx_sha256(d, m, strlen(m));
    ck_assert_str_eq(info.digest, d);
    ck_assert_int_eq(info.size, (int64_t) strlen(m));
    ck_assert_str_eq(info.subject, "");
    free(m);

    m = fx_image(FX_OCI_MANIFEST, config, CONFIG_TYPE, layer, NULL, NULL);
    ck_assert_int_eq(put(&info, "oci", FX_OCI_MANIFEST, m, &err),
                     BLOBSTORE_OK);
    ck_assert_str_eq(info.media_type, FX_OCI_MANIFEST);
    fx_sha256(d, m, strlen(m));
    free(m);

    idx = index_of(FX_OCI_INDEX, d);
    ck_assert_int_eq(put(&info, "index", FX_OCI_INDEX, idx, &err),
                     BLOBSTORE_OK);
    ck_assert_str_eq(info.media_type, FX_OCI_INDEX);
    free(idx);

    idx = index_of(FX_DOCKER_LIST, d);
    ck_assert_int_eq(put(&info, "list", NULL, idx, &err), BLOBSTORE_OK);
    ck_assert_str_eq(info.media_type, FX_DOCKER_LIST);
    ck_assert_int_eq(blobstore_manifest_stat(&info, fx.bs, "r", "list",
                                             &err),
                     BLOBSTORE_OK);
    ck_assert_str_eq(info.media_type, FX_DOCKER_LIST);
    free(idx);

    /* no mediaType field: the content type decides, or the fields do */
    m = fx_image(NULL, config, CONFIG_TYPE, layer, NULL, NULL);
    ck_assert_int_eq(put(&info, "bare", "", m, &err), BLOBSTORE_OK);
    ck_assert_str_eq(info.media_type, FX_OCI_MANIFEST);
    ck_assert_int_eq(blobstore_manifest_stat(&info, fx.bs, "r", "bare",
                                             &err),
                     BLOBSTORE_OK);
    ck_assert_str_eq(info.media_type, FX_OCI_MANIFEST);
    ck_assert_int_eq(put(&info, "bare2", FX_OCI_MANIFEST
                         " ; charset=utf-8", m, &err),
                     BLOBSTORE_OK);
    free(m);
}
END_TEST


/*
 * GET reads the stored type without a full parse: the top-level field
 * only, the last one when it repeats (as the parse at PUT time took it),
 * and an escaped one still comes out right.
 */

START_TEST(test_manifest_media_type_read_back)
{
    char               m[1024];
    blobstore_info_t    info;
    blobstore_error_t   err;

    push_blobs();

    snprintf(m, sizeof(m), "{\"mediaType\":\"%s\",\"schemaVersion\":2,"
             "\"config\":{\"mediaType\":\"%s\",\"digest\":\"%s\","
             "\"size\":1},\"layers\":[{\"mediaType\":\"x/y\",\"digest\":"
             "\"%s\",\"size\":1}],\"annotations\":{\"k\":\"[{\\\"\"},"
             "\"mediaType\" : \"%s\" }", FX_DOCKER_MANIFEST, CONFIG_TYPE,
             config, layer, FX_OCI_MANIFEST);
    ck_assert_int_eq(put(&info, "twice", FX_OCI_MANIFEST, m, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_manifest_stat(&info, fx.bs, "r", "twice",
                                             &err),
                     BLOBSTORE_OK);
    ck_assert_str_eq(info.media_type, FX_OCI_MANIFEST);

    snprintf(m, sizeof(m), "{\"schemaVersion\":2,\"mediaType\":"
             "\"application\\/vnd.oci.image.manifest.v1+json\","
             "\"config\":{\"mediaType\":\"%s\",\"digest\":\"%s\","
             "\"size\":1},\"layers\":[]}", CONFIG_TYPE, config);
    ck_assert_int_eq(put(&info, "escaped", FX_OCI_MANIFEST, m, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_manifest_stat(&info, fx.bs, "r", "escaped",
                                             &err),
                     BLOBSTORE_OK);
    ck_assert_str_eq(info.media_type, FX_OCI_MANIFEST);

    /* found in review: an escaped key is the same key to the parser */
    snprintf(m, sizeof(m), "{\"schemaVersion\":2,\"mediaType\":"
             "\"text/html\",\"manifests\":[],\"x\":\"<script>\","
             "\"media\\u0054ype\":\"%s\"}", FX_OCI_INDEX);
    ck_assert_int_eq(put(&info, "html", FX_OCI_INDEX, m, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_manifest_stat(&info, fx.bs, "r", "html",
                                             &err),
                     BLOBSTORE_OK);
    ck_assert_str_eq(info.media_type, FX_OCI_INDEX);
}
END_TEST


START_TEST(test_manifest_invalid)
{
    char               *m, big_ref[200];
    char               *big;
    blobstore_info_t    info;
    blobstore_error_t   err;

    push_blobs();

    m = fx_image(FX_OCI_MANIFEST, config, CONFIG_TYPE, layer, NULL, NULL);

    ck_assert_int_eq(put(&info, "t", FX_DOCKER_MANIFEST, m, &err),
                     BLOBSTORE_EMANIFEST);
    ck_assert_int_eq(put(&info, "t", "application/json", m, &err),
                     BLOBSTORE_EMANIFEST);
    ck_assert_int_eq(put(&info, "-bad", FX_OCI_MANIFEST, m, &err),
                     BLOBSTORE_EINVAL);
    ck_assert_int_eq(put(&info, "sha256:abc", FX_OCI_MANIFEST, m, &err),
                     BLOBSTORE_EINVAL);
    ck_assert_int_eq(put(&info, "foo:bar", FX_OCI_MANIFEST, m, &err),
                     BLOBSTORE_EUNSUPPORTED);
    ck_assert_int_eq(blobstore_manifest_put(&info, fx.bs, "R", "t",
                                            FX_OCI_MANIFEST, m, strlen(m),
                                            &err),
                     BLOBSTORE_EINVAL);
    free(m);

    ck_assert_int_eq(put(&info, "t", "", "not json", &err),
                     BLOBSTORE_EMANIFEST);
    ck_assert_int_eq(put(&info, "t", "", "[]", &err), BLOBSTORE_EMANIFEST);
    ck_assert_int_eq(put(&info, "t", "", "{\"schemaVersion\":1}", &err),
                     BLOBSTORE_EMANIFEST);
    ck_assert_int_eq(put(&info, "t", "", "{\"schemaVersion\":2}", &err),
                     BLOBSTORE_EMANIFEST);
    ck_assert_int_eq(put(&info, "t", FX_OCI_MANIFEST,
                         "{\"schemaVersion\":2,\"config\":{\"digest\":"
                         "\"sha256:zz\"},\"layers\":[]}", &err),
                     BLOBSTORE_EMANIFEST);
    ck_assert_int_eq(put(&info, "t", FX_OCI_MANIFEST,
                         "{\"schemaVersion\":2,\"layers\":[]}", &err),
                     BLOBSTORE_EMANIFEST);
    ck_assert_int_eq(put(&info, "t", FX_OCI_INDEX,
                         "{\"schemaVersion\":2,\"manifests\":{}}", &err),
                     BLOBSTORE_EMANIFEST);

    big = malloc(BLOBSTORE_MANIFEST_MAX + 2);
    ck_assert_ptr_nonnull(big);
    memset(big, ' ', BLOBSTORE_MANIFEST_MAX + 1);
    ck_assert_int_eq(blobstore_manifest_put(&info, fx.bs, "r", "t", "", big,
                                            BLOBSTORE_MANIFEST_MAX + 1,
                                            &err),
                     BLOBSTORE_ETOOBIG);
    free(big);

    memset(big_ref, 'a', 129);
    big_ref[129] = '\0';
    ck_assert_int_eq(put(&info, big_ref, "", "{}", &err), BLOBSTORE_EINVAL);

    ck_assert_int_eq(blobstore_tags_list(&(blobstore_strlist_t) { 0 },
                                         fx.bs, "r", NULL, SIZE_MAX, &err),
                     BLOBSTORE_ENOTFOUND);

    /* a Docker manifest must name its type; an OCI one need not */
    m = fx_image(NULL, config, CONFIG_TYPE, layer, NULL, NULL);
    ck_assert_int_eq(put(&info, "t", FX_DOCKER_MANIFEST, m, &err),
                     BLOBSTORE_EMANIFEST);
    ck_assert_int_eq(put(&info, "t", FX_OCI_MANIFEST, m, &err),
                     BLOBSTORE_OK);
    ck_assert_str_eq(info.media_type, FX_OCI_MANIFEST);
    ck_assert_int_eq(blobstore_manifest_delete(fx.bs, "r", info.digest,
                                               &err),
                     BLOBSTORE_OK);
    free(m);
}
END_TEST


START_TEST(test_manifest_missing_blob)
{
    char               *m, missing[80], child[80];
    blobstore_info_t    info;
    blobstore_error_t   err;

    push_blobs();
    fx_sha256(missing, "missing", 7);

    m = fx_image(FX_OCI_MANIFEST, config, CONFIG_TYPE, missing, NULL, NULL);
    ck_assert_int_eq(put(&info, "t", FX_OCI_MANIFEST, m, &err),
                     BLOBSTORE_EBLOBUNKNOWN);
    ck_assert_str_eq(err.detail, missing);
    free(m);

    m = fx_image(FX_OCI_MANIFEST, missing, CONFIG_TYPE, layer, NULL, NULL);
    ck_assert_int_eq(put(&info, "t", FX_OCI_MANIFEST, m, &err),
                     BLOBSTORE_EBLOBUNKNOWN);
    ck_assert_str_eq(err.detail, missing);
    free(m);

    /* linked elsewhere is not enough */
    fx_push_blob(missing, "elsewhere", "missing");
    m = fx_image(FX_OCI_MANIFEST, config, CONFIG_TYPE, missing, NULL, NULL);
    ck_assert_int_eq(put(&info, "t", FX_OCI_MANIFEST, m, &err),
                     BLOBSTORE_EBLOBUNKNOWN);
    free(m);

    /* a foreign layer need not be here */
    m = malloc(1024);
    ck_assert_ptr_nonnull(m);
    snprintf(m, 1024, "{\"schemaVersion\":2,\"mediaType\":\"%s\","
             "\"config\":{\"mediaType\":\"%s\",\"digest\":\"%s\","
             "\"size\":2},\"layers\":[{\"mediaType\":\"application/"
             "vnd.docker.image.rootfs.foreign.diff.tar.gzip\",\"digest\":"
             "\"%s\",\"size\":7,\"urls\":[\"https://example.com/x\"]}]}",
             FX_DOCKER_MANIFEST, CONFIG_TYPE, config, missing);
    ck_assert_int_eq(put(&info, "foreign", FX_DOCKER_MANIFEST, m, &err),
                     BLOBSTORE_OK);
    free(m);

    /* a child manifest must be in the repository */
    fx_sha256(child, "child", 5);
    m = index_of(FX_OCI_INDEX, child);
    ck_assert_int_eq(put(&info, "t", FX_OCI_INDEX, m, &err),
                     BLOBSTORE_EBLOBUNKNOWN);
    ck_assert_str_eq(err.detail, child);
    free(m);

    /* a subject need not exist */
    m = fx_image(FX_OCI_MANIFEST, config, CONFIG_TYPE, layer, child, NULL);
    ck_assert_int_eq(put(&info, "t", FX_OCI_MANIFEST, m, &err),
                     BLOBSTORE_OK);
    ck_assert_str_eq(info.subject, child);
    free(m);
}
END_TEST


START_TEST(test_manifest_digest_reference)
{
    char               *m, d[200], wrong[80], rel[300];
    blobstore_info_t    info;
    blobstore_error_t   err;

    push_blobs();
    m = fx_image(FX_OCI_MANIFEST, config, CONFIG_TYPE, layer, NULL, NULL);
    fx_sha256(d, m, strlen(m));
    fx_sha256(wrong, "x", 1);

    ck_assert_int_eq(put(&info, wrong, FX_OCI_MANIFEST, m, &err),
                     BLOBSTORE_EDIGEST);
    ck_assert_int_eq(put(&info, d, FX_OCI_MANIFEST, m, &err), BLOBSTORE_OK);
    ck_assert_str_eq(info.digest, d);

    snprintf(rel, sizeof(rel), "repositories/r/_manifests/revisions/sha256"
             "/%s/link", d + 7);
    ck_assert(fx_exists(rel));
    ck_assert(!fx_exists("repositories/r/_manifests/tags"));

    fx_sha512(d, m, strlen(m));
    ck_assert_int_eq(put(&info, d, FX_OCI_MANIFEST, m, &err), BLOBSTORE_OK);
    ck_assert_str_eq(info.digest, d);
    ck_assert_int_eq(blobstore_manifest_stat(&info, fx.bs, "r", d, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(info.size, (int64_t) strlen(m));
    free(m);
}
END_TEST


START_TEST(test_manifest_exact_bytes)
{
    int                fd;
    char               m[1024], buf[1024], d[80];
    ssize_t            n;
    blobstore_info_t   info;
    blobstore_error_t  err;

    push_blobs();

    snprintf(m, sizeof(m), "{\n   \"schemaVersion\" : 2,\n\t\"mediaType\": "
             "\"%s\",\"config\": {\"mediaType\":\"%s\",\"digest\":\"%s\","
             "\"size\":2}, \"layers\": [ ] ,\"zz\":\"\\u00e9\"}\n\n",
             FX_OCI_MANIFEST, CONFIG_TYPE, config);
    fx_sha256(d, m, strlen(m));

    ck_assert_int_eq(put(&info, "v1", FX_OCI_MANIFEST, m, &err),
                     BLOBSTORE_OK);
    ck_assert_str_eq(info.digest, d);

    ck_assert_int_eq(blobstore_manifest_open(&fd, &info, fx.bs, "r", "v1",
                                             &err),
                     BLOBSTORE_OK);
    n = read(fd, buf, sizeof(buf));
    close(fd);
    ck_assert_int_eq(n, (ssize_t) strlen(m));
    ck_assert(memcmp(buf, m, strlen(m)) == 0);
    ck_assert_str_eq(info.digest, d);
    ck_assert_str_eq(info.media_type, FX_OCI_MANIFEST);
    ck_assert_int_eq(info.size, (int64_t) strlen(m));

    ck_assert_int_eq(blobstore_manifest_open(&fd, &info, fx.bs, "r", d,
                                             &err),
                     BLOBSTORE_OK);
    close(fd);

    ck_assert_int_eq(blobstore_manifest_open(&fd, &info, fx.bs, "r", "v2",
                                             &err),
                     BLOBSTORE_ENOTFOUND);
    ck_assert_int_eq(fd, -1);
    ck_assert_int_eq(blobstore_manifest_stat(&info, fx.bs, "other", "v1",
                                             &err),
                     BLOBSTORE_ENOTFOUND);
    ck_assert_int_eq(blobstore_manifest_stat(&info, fx.bs, "r", "-x",
                                             &err),
                     BLOBSTORE_EINVAL);
}
END_TEST


/* read into the caller's buffer when it fits, opened when it does not */

START_TEST(test_manifest_read_into)
{
    int                fd;
    char               m[1024], buf[1024], d[80];
    size_t             len;
    ssize_t            n;
    blobstore_info_t   info;
    blobstore_error_t  err;

    push_blobs();

    snprintf(m, sizeof(m), "{\"schemaVersion\":2,\"mediaType\":\"%s\","
             "\"config\":{\"mediaType\":\"%s\",\"digest\":\"%s\","
             "\"size\":2},\"layers\":[]}", FX_OCI_MANIFEST, CONFIG_TYPE,
             config);
    fx_sha256(d, m, strlen(m));

    ck_assert_int_eq(put(&info, "v1", FX_OCI_MANIFEST, m, &err),
                     BLOBSTORE_OK);

    memset(buf, 'x', sizeof(buf));
    ck_assert_int_eq(blobstore_manifest_read(&fd, buf, strlen(m), &len,
                                             &info, fx.bs, "r", "v1", &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(fd, -1);
    ck_assert_uint_eq(len, strlen(m));
    ck_assert(memcmp(buf, m, len) == 0);
    ck_assert_int_eq(buf[len], 'x');
    ck_assert_str_eq(info.digest, d);
    ck_assert_str_eq(info.media_type, FX_OCI_MANIFEST);
    ck_assert_int_eq(info.size, (int64_t) strlen(m));

    /* one byte short: the file is handed over instead */

    memset(buf, 'x', sizeof(buf));
    ck_assert_int_eq(blobstore_manifest_read(&fd, buf, strlen(m) - 1, &len,
                                             &info, fx.bs, "r", d, &err),
                     BLOBSTORE_OK);
    ck_assert_int_ge(fd, 0);
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(buf[0], 'x');
    ck_assert_str_eq(info.media_type, FX_OCI_MANIFEST);
    n = read(fd, buf, sizeof(buf));
    close(fd);
    ck_assert_int_eq(n, (ssize_t) strlen(m));
    ck_assert(memcmp(buf, m, strlen(m)) == 0);

    ck_assert_int_eq(blobstore_manifest_read(&fd, buf, sizeof(buf), &len,
                                             &info, fx.bs, "r", "v2", &err),
                     BLOBSTORE_ENOTFOUND);
    ck_assert_int_eq(fd, -1);
    ck_assert_uint_eq(len, 0);

    /* read again (kept in memory by now): the same bytes and facts */

    memset(buf, 'x', sizeof(buf));
    memset(&info, 0, sizeof(info));
    ck_assert_int_eq(blobstore_manifest_read(&fd, buf, sizeof(buf), &len,
                                             &info, fx.bs, "r", d, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(fd, -1);
    ck_assert_uint_eq(len, strlen(m));
    ck_assert(memcmp(buf, m, len) == 0);
    ck_assert_str_eq(info.digest, d);
    ck_assert_str_eq(info.media_type, FX_OCI_MANIFEST);
    ck_assert_int_eq(info.size, (int64_t) strlen(m));
    ck_assert_int_gt(info.mtime, 0);

    /* known bytes do not make it known elsewhere, nor after a delete */

    ck_assert_int_eq(blobstore_manifest_read(&fd, buf, sizeof(buf), &len,
                                             &info, fx.bs, "other", d, &err),
                     BLOBSTORE_ENOTFOUND);
    ck_assert_int_eq(blobstore_manifest_delete(fx.bs, "r", d, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_manifest_read(&fd, buf, sizeof(buf), &len,
                                             &info, fx.bs, "r", d, &err),
                     BLOBSTORE_ENOTFOUND);
    ck_assert_int_eq(blobstore_manifest_read(&fd, buf, sizeof(buf), &len,
                                             &info, fx.bs, "r", "v1", &err),
                     BLOBSTORE_ENOTFOUND);
    ck_assert_int_eq(fd, -1);
}
END_TEST


START_TEST(test_manifest_tag_move)
{
    char               *a, *b, da[80], db[80], rel[300], buf[300];
    blobstore_info_t    info;
    blobstore_error_t   err;

    push_blobs();
    a = fx_image(FX_OCI_MANIFEST, config, CONFIG_TYPE, layer, NULL, NULL);
    b = fx_image(FX_OCI_MANIFEST, config, CONFIG_TYPE, NULL, NULL, NULL);
    fx_sha256(da, a, strlen(a));
    fx_sha256(db, b, strlen(b));

    ck_assert_int_eq(put(&info, "latest", FX_OCI_MANIFEST, a, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(put(&info, "latest", FX_OCI_MANIFEST, b, &err),
                     BLOBSTORE_OK);

    ck_assert_int_eq(blobstore_manifest_stat(&info, fx.bs, "r", "latest",
                                             &err),
                     BLOBSTORE_OK);
    ck_assert_str_eq(info.digest, db);

    ck_assert_uint_eq(fx_read(buf, sizeof(buf), "repositories/r/_manifests"
                              "/tags/latest/current/link"), 71);
    ck_assert_str_eq(buf, db);

    snprintf(rel, sizeof(rel), "repositories/r/_manifests/tags/latest/index"
             "/sha256/%s/link", da + 7);
    ck_assert(fx_exists(rel));
    snprintf(rel, sizeof(rel), "repositories/r/_manifests/tags/latest/index"
             "/sha256/%s/link", db + 7);
    ck_assert(fx_exists(rel));

    /* the old one is still there by digest */
    ck_assert_int_eq(blobstore_manifest_stat(&info, fx.bs, "r", da, &err),
                     BLOBSTORE_OK);

    free(a);
    free(b);
}
END_TEST


START_TEST(test_manifest_delete)
{
    char                  *a, *b, da[80], db[80];
    blobstore_info_t       info;
    blobstore_error_t      err;
    blobstore_strlist_t    list;

    push_blobs();
    a = fx_image(FX_OCI_MANIFEST, config, CONFIG_TYPE, layer, NULL, NULL);
    b = fx_image(FX_OCI_MANIFEST, config, CONFIG_TYPE, NULL, NULL, NULL);
    fx_sha256(da, a, strlen(a));
    fx_sha256(db, b, strlen(b));

    ck_assert_int_eq(put(&info, "t1", "", a, &err), BLOBSTORE_OK);
    ck_assert_int_eq(put(&info, "t2", "", a, &err), BLOBSTORE_OK);
    ck_assert_int_eq(put(&info, "t3", "", b, &err), BLOBSTORE_OK);

    /* by tag: the tag goes, the manifest stays */
    ck_assert_int_eq(blobstore_manifest_delete(fx.bs, "r", "t1", &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_manifest_stat(&info, fx.bs, "r", "t1", &err),
                     BLOBSTORE_ENOTFOUND);
    ck_assert(!fx_exists("repositories/r/_manifests/tags/t1"));
    ck_assert_int_eq(blobstore_manifest_stat(&info, fx.bs, "r", da, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_manifest_delete(fx.bs, "r", "t1", &err),
                     BLOBSTORE_ENOTFOUND);

    /* by digest: the manifest goes with its tags */
    ck_assert_int_eq(blobstore_manifest_delete(fx.bs, "r", da, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_manifest_stat(&info, fx.bs, "r", da, &err),
                     BLOBSTORE_ENOTFOUND);
    ck_assert_int_eq(blobstore_manifest_stat(&info, fx.bs, "r", "t2", &err),
                     BLOBSTORE_ENOTFOUND);
    ck_assert_int_eq(blobstore_manifest_stat(&info, fx.bs, "r", "t3", &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_manifest_delete(fx.bs, "r", da, &err),
                     BLOBSTORE_ENOTFOUND);
    ck_assert_int_eq(blobstore_manifest_delete(fx.bs, "r", "nope", &err),
                     BLOBSTORE_ENOTFOUND);
    ck_assert_int_eq(blobstore_manifest_delete(fx.bs, "r", "sha256:12",
                                               &err),
                     BLOBSTORE_EINVAL);

    ck_assert_int_eq(blobstore_tags_list(&list, fx.bs, "r", NULL, SIZE_MAX,
                                         &err),
                     BLOBSTORE_OK);
    ck_assert_uint_eq(list.count, 1);
    ck_assert_str_eq(list.items[0], "t3");
    blobstore_strlist_free(&list);

    /* nothing hidden is left behind in the tags folder */
    ck_assert(!fx_exists("repositories/r/_manifests/tags/t2"));

    free(a);
    free(b);
}
END_TEST


Suite *
manifest_suite(void)
{
    TCase  *tc;
    Suite  *s;

    s = suite_create("manifest");

    tc = tcase_create("put");
    tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
    tcase_add_test(tc, test_manifest_media_types);
    tcase_add_test(tc, test_manifest_media_type_read_back);
    tcase_add_test(tc, test_manifest_invalid);
    tcase_add_test(tc, test_manifest_missing_blob);
    tcase_add_test(tc, test_manifest_digest_reference);
    suite_add_tcase(s, tc);

    tc = tcase_create("get");
    tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
    tcase_add_test(tc, test_manifest_exact_bytes);
    tcase_add_test(tc, test_manifest_read_into);
    tcase_add_test(tc, test_manifest_tag_move);
    suite_add_tcase(s, tc);

    tc = tcase_create("delete");
    tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
    tcase_add_test(tc, test_manifest_delete);
    suite_add_tcase(s, tc);

    return s;
}
