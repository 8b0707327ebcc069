
/*
 * Copyright (C) Hephaestus developers
 */


#define _XOPEN_SOURCE 700

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "check_fixture.h"


static int rm_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw);
static void to_hex(char *out, const char *alg, const unsigned char *md,
    size_t n);


fixture_t  fx;


void
fx_setup(void)
{
    blobstore_options_t  opts = BLOBSTORE_OPTIONS_INIT;

    /* fsync costs time and proves nothing in a unit test */
    opts.fsync = 0;

    strcpy(fx.dir, "/tmp/check-blobstore-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(fx.dir));
    ck_assert_int_eq(blobstore_open(&fx.bs, fx.dir, &opts, NULL),
                     BLOBSTORE_OK);
}


static int
rm_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;

    return remove(path);
}


void
fx_teardown(void)
{
    blobstore_close(fx.bs);
    fx.bs = NULL;
    nftw(fx.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}


static void
to_hex(char *out, const char *alg, const unsigned char *md, size_t n)
{
    size_t  i, len;

    len = (size_t) sprintf(out, "%s:", alg);

    for (i = 0; i < n; i++) {
        sprintf(out + len + 2 * i, "%02x", md[i]);
    }
}


void
fx_sha256(char *out, const void *data, size_t len)
{
    unsigned char  md[SHA256_DIGEST_LENGTH];

    SHA256(data, len, md);
    to_hex(out, "sha256", md, sizeof(md));
}


void
fx_sha512(char *out, const void *data, size_t len)
{
    unsigned char  md[SHA512_DIGEST_LENGTH];

    SHA512(data, len, md);
    to_hex(out, "sha512", md, sizeof(md));
}


void
fx_path(char *out, size_t size, const char *rel)
{
    snprintf(out, size, "%s/docker/registry/v2/%s", fx.dir, rel);
}


int
fx_exists(const char *rel)
{
    char  path[4096];

    fx_path(path, sizeof(path), rel);
    return access(path, F_OK) == 0;
}


size_t
fx_read(char *buf, size_t size, const char *rel)
{
    FILE    *f;
    char     path[4096];
    size_t   n;

    fx_path(path, sizeof(path), rel);
    f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);

    n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);

    return n;
}


void
fx_push_blob(char *digest_out, const char *repo, const char *data)
{
    char               uuid[BLOBSTORE_UUID_LEN + 1];
    int64_t            size;
    blobstore_error_t  err;

    fx_sha256(digest_out, data, strlen(data));

    ck_assert_int_eq(blobstore_upload_start(uuid, fx.bs, repo, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_upload_append(&size, fx.bs, repo, uuid, -1,
                                             data, strlen(data), &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_upload_commit(fx.bs, repo, uuid, digest_out,
                                             &err),
                     BLOBSTORE_OK);
}


char *
fx_image(const char *media_type, const char *config_digest,
    const char *config_type, const char *layer_digest, const char *subject,
    const char *artifact_type)
{
    char  *buf, mt[200], layers[300], subj[300], at[200];

    buf = malloc(4096);
    ck_assert_ptr_nonnull(buf);

    mt[0] = layers[0] = subj[0] = at[0] = '\0';

    if (media_type != NULL) {
        snprintf(mt, sizeof(mt), "\"mediaType\":\"%s\",", media_type);
    }

    if (layer_digest != NULL) {
        snprintf(layers, sizeof(layers),
                 "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
                 "\"digest\":\"%s\",\"size\":1}", layer_digest);
    }

    if (subject != NULL) {
        snprintf(subj, sizeof(subj),
                 ",\"subject\":{\"mediaType\":\"%s\",\"digest\":\"%s\","
                 "\"size\":10}", FX_OCI_MANIFEST, subject);
    }

    if (artifact_type != NULL) {
        snprintf(at, sizeof(at), ",\"artifactType\":\"%s\"", artifact_type);
    }

    snprintf(buf, 4096,
             "{\"schemaVersion\":2,%s\"config\":{\"mediaType\":\"%s\","
             "\"digest\":\"%s\",\"size\":2},\"layers\":[%s]%s%s}",
             mt, config_type, config_digest, layers, subj, at);

    return buf;
}


/*
 * Pushes a config, a layer and an OCI manifest of them into repo.
 */

void
fx_push_image(char *digest_out, const char *repo, const char *tag,
    const char *layer_text, const char *subject, const char *artifact_type)
{
    char               *m, config[80], layer[80];
    blobstore_info_t    info;
    blobstore_error_t   err;

    fx_push_blob(config, repo, "{}");
    fx_push_blob(layer, repo, layer_text);

    m = fx_image(FX_OCI_MANIFEST, config,
                 "application/vnd.oci.image.config.v1+json", layer, subject,
                 artifact_type);

    fx_sha256(digest_out, m, strlen(m));
    ck_assert_int_eq(blobstore_manifest_put(&info, fx.bs, repo,
                                            tag ? tag : digest_out,
                                            FX_OCI_MANIFEST, m, strlen(m),
                                            &err),
                     BLOBSTORE_OK);
    ck_assert_str_eq(info.digest, digest_out);
    free(m);
}


/* another handle on the fixture's store, unsynced, with a catalog_ttl */

blobstore_t *
fx_open_ttl(unsigned int ttl)
{
    blobstore_t          *bs;
    blobstore_options_t   opts = BLOBSTORE_OPTIONS_INIT;

    opts.fsync = 0;
    opts.catalog_ttl = ttl;
    ck_assert_int_eq(blobstore_open(&bs, fx.dir, &opts, NULL),
                     BLOBSTORE_OK);

    return bs;
}
