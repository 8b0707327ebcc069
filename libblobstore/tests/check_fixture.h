
/*
 * Copyright (C) Hephaestus developers
 */


#ifndef CHECK_FIXTURE_H_INCLUDED
#define CHECK_FIXTURE_H_INCLUDED


#include <stddef.h>

#include <check.h>

#include <blobstore.h>


#define FX_OCI_MANIFEST  "application/vnd.oci.image.manifest.v1+json"
#define FX_OCI_INDEX     "application/vnd.oci.image.index.v1+json"
#define FX_DOCKER_MANIFEST                                                   \
    "application/vnd.docker.distribution.manifest.v2+json"
#define FX_DOCKER_LIST                                                       \
    "application/vnd.docker.distribution.manifest.list.v2+json"


typedef struct {
    char          dir[64];
    blobstore_t  *bs;
} fixture_t;


extern fixture_t  fx;


void fx_setup(void);
void fx_teardown(void);
void fx_sha256(char *out, const void *data, size_t len);
void fx_sha512(char *out, const void *data, size_t len);
void fx_path(char *out, size_t size, const char *rel);
blobstore_t *fx_open_ttl(unsigned int ttl);
int fx_exists(const char *rel);
size_t fx_read(char *buf, size_t size, const char *rel);
void fx_push_blob(char *digest_out, const char *repo, const char *data);
char *fx_image(const char *media_type, const char *config_digest,
    const char *config_type, const char *layer_digest,
    const char *subject, const char *artifact_type);
void fx_push_image(char *digest_out, const char *repo, const char *tag,
    const char *layer_text, const char *subject,
    const char *artifact_type);

Suite *validate_suite(void);
Suite *digest_suite(void);
Suite *upload_suite(void);
Suite *blob_suite(void);
Suite *manifest_suite(void);
Suite *list_suite(void);
Suite *referrers_suite(void);
Suite *purge_suite(void);
Suite *catalog_suite(void);


#endif /* CHECK_FIXTURE_H_INCLUDED */
