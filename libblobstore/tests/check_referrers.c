
/*
 * Copyright (C) Hephaestus developers
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "check_fixture.h"


#define SIG_TYPE   "application/vnd.example.signature"
#define SBOM_TYPE  "application/vnd.example.sbom"


static json_t *referrers(const char *subject, const char *artifact_type);


static json_t *
referrers(const char *subject, const char *artifact_type)
{
    char               *json;
    size_t              len;
    json_t             *root;
    blobstore_error_t   err;

    ck_assert_int_eq(blobstore_referrers(&json, &len, fx.bs, "r", subject,
                                         artifact_type, &err),
                     BLOBSTORE_OK);
    ck_assert_uint_eq(strlen(json), len);

    root = json_loadb(json, len, 0, NULL);
    ck_assert_ptr_nonnull(root);
    blobstore_free(json);

    ck_assert_int_eq(json_integer_value(json_object_get(root,
                                                        "schemaVersion")),
                     2);
    ck_assert_str_eq(json_string_value(json_object_get(root, "mediaType")),
                     FX_OCI_INDEX);
    ck_assert(json_is_array(json_object_get(root, "manifests")));

    return root;
}


START_TEST(test_referrers_subject)
{
    char               *m, subject[80], sig[80], sbom[80], config[80];
    char                rel[400], *first, *second;
    json_t             *root, *list, *desc;
    blobstore_info_t    info;
    blobstore_error_t   err;

    fx_push_image(subject, "r", "v1", "base layer", NULL, NULL);
    fx_push_image(sig, "r", NULL, "signature", subject, SIG_TYPE);

    /* no artifactType: the config media type stands in */
    fx_push_blob(config, "r", "sbom config");
    m = malloc(2048);
    ck_assert_ptr_nonnull(m);
    snprintf(m, 2048, "{\"schemaVersion\":2,\"mediaType\":\"%s\","
             "\"config\":{\"mediaType\":\"%s\",\"digest\":\"%s\","
             "\"size\":11},\"layers\":[],\"subject\":{\"mediaType\":"
             "\"%s\",\"digest\":\"%s\",\"size\":1},\"annotations\":"
             "{\"org.example.k\":\"v\"}}", FX_OCI_MANIFEST, SBOM_TYPE,
             config, FX_OCI_MANIFEST, subject);
    fx_sha256(sbom, m, strlen(m));
    ck_assert_int_eq(blobstore_manifest_put(&info, fx.bs, "r", "sbom", "",
                                            m, strlen(m), &err),
                     BLOBSTORE_OK);
    ck_assert_str_eq(info.subject, subject);
    free(m);

    snprintf(rel, sizeof(rel), "repositories/r/_referrers/sha256/%s/sha256"
             "/%s/link", subject + 7, sig + 7);
    ck_assert(fx_exists(rel));

    root = referrers(subject, NULL);
    list = json_object_get(root, "manifests");
    ck_assert_uint_eq(json_array_size(list), 2);

    first = strcmp(sig, sbom) < 0 ? sig : sbom;
    second = (first == sig) ? sbom : sig;
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(list, 0), "digest")), first);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(list, 1), "digest")), second);

    desc = json_array_get(list, (first == sbom) ? 0 : 1);
    ck_assert_str_eq(json_string_value(json_object_get(desc,
                                                       "artifactType")),
                     SBOM_TYPE);
    ck_assert_str_eq(json_string_value(json_object_get(desc, "mediaType")),
                     FX_OCI_MANIFEST);
    ck_assert_int_gt(json_integer_value(json_object_get(desc, "size")), 0);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(desc, "annotations"),
                         "org.example.k")), "v");

    desc = json_array_get(list, (first == sig) ? 0 : 1);
    ck_assert_str_eq(json_string_value(json_object_get(desc,
                                                       "artifactType")),
                     SIG_TYPE);
    ck_assert_ptr_null(json_object_get(desc, "annotations"));
    json_decref(root);

    root = referrers(subject, SIG_TYPE);
    list = json_object_get(root, "manifests");
    ck_assert_uint_eq(json_array_size(list), 1);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(list, 0), "digest")), sig);
    json_decref(root);

    root = referrers(subject, "application/none");
    ck_assert_uint_eq(json_array_size(json_object_get(root, "manifests")),
                      0);
    json_decref(root);

    /* deleting a referrer drops it from the index */
    ck_assert_int_eq(blobstore_manifest_delete(fx.bs, "r", sig, &err),
                     BLOBSTORE_OK);
    ck_assert(!fx_exists(rel));
    root = referrers(subject, NULL);
    list = json_object_get(root, "manifests");
    ck_assert_uint_eq(json_array_size(list), 1);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(list, 0), "digest")), sbom);
    json_decref(root);
}
END_TEST


START_TEST(test_referrers_empty)
{
    char               *json, d[80];
    size_t              len;
    blobstore_error_t   err;

    fx_sha256(d, "nothing", 7);

    ck_assert_int_eq(blobstore_referrers(&json, &len, fx.bs, "unknown", d,
                                         NULL, &err),
                     BLOBSTORE_OK);
    ck_assert_str_eq(json, "{\"schemaVersion\":2,\"mediaType\":\""
                     FX_OCI_INDEX "\",\"manifests\":[]}");
    blobstore_free(json);

    ck_assert_int_eq(blobstore_referrers(&json, &len, fx.bs, "r",
                                         "sha256:1", NULL, &err),
                     BLOBSTORE_EINVAL);
    ck_assert_ptr_null(json);
    ck_assert_int_eq(blobstore_referrers(&json, &len, fx.bs, "r",
                                         "md5:1", NULL, &err),
                     BLOBSTORE_EUNSUPPORTED);
}
END_TEST


START_TEST(test_referrers_scoped)
{
    char     subject[80], sig[80];
    json_t  *root;

    fx_push_image(subject, "r", "v1", "base layer", NULL, NULL);
    fx_push_image(sig, "other", NULL, "signature", subject, SIG_TYPE);

    root = referrers(subject, NULL);
    ck_assert_uint_eq(json_array_size(json_object_get(root, "manifests")),
                      0);
    json_decref(root);
}
END_TEST


Suite *
referrers_suite(void)
{
    TCase  *tc;
    Suite  *s;

    s = suite_create("referrers");

    tc = tcase_create("index");
    tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
    tcase_add_test(tc, test_referrers_subject);
    tcase_add_test(tc, test_referrers_empty);
    tcase_add_test(tc, test_referrers_scoped);
    suite_add_tcase(s, tc);

    return s;
}
