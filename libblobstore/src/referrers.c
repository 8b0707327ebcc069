
/*
 * Copyright (C) Hephaestus developers
 */


#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blobstore_int.h"


typedef struct {
    json_t  **items;
    size_t    count;
    size_t    size;
} desc_vec;


static int cmp_desc(const void *a, const void *b);
static int vec_add(desc_vec *v, json_t *desc);
static json_t *descriptor(json_t *root, const blobstore_info_t *info);
static int add_referrer(desc_vec *v, blobstore_t *bs, const char *repo,
    const char *alg, const char *hex, const char *artifact_type,
    blobstore_error_t *err);
static int scan_alg(desc_vec *v, blobstore_t *bs, const char *repo,
    const char *dir_path, const char *alg, const char *artifact_type,
    blobstore_error_t *err);
static int dump(char **json_out, size_t *len_out, desc_vec *v,
    blobstore_error_t *err);


static int
cmp_desc(const void *a, const void *b)
{
    json_t  *x, *y;

    x = json_object_get(*(json_t * const *) a, "digest");
    y = json_object_get(*(json_t * const *) b, "digest");

    return strcmp(json_string_value(x), json_string_value(y));
}


static int
vec_add(desc_vec *v, json_t *desc)
{
    size_t    size;
    json_t  **items;

    if (v->count == v->size) {
        size = (v->size == 0) ? 16 : v->size * 2;
        items = realloc(v->items, size * sizeof(json_t *));
        if (items == NULL) {
            return -1;
        }

        v->items = items;
        v->size = size;
    }

    v->items[v->count++] = desc;
    return 0;
}


static json_t *
descriptor(json_t *root, const blobstore_info_t *info)
{
    json_t      *desc, *v;
    const char  *artifact;

    desc = json_object();
    if (desc == NULL) {
        return NULL;
    }

    artifact = NULL;

    v = json_object_get(root, "artifactType");
    if (json_is_string(v) && json_string_length(v) > 0) {
        artifact = json_string_value(v);

    } else if (json_object_get(root, "manifests") == NULL) {
        v = json_object_get(json_object_get(root, "config"), "mediaType");
        if (json_is_string(v) && json_string_length(v) > 0) {
            artifact = json_string_value(v);
        }
    }

    if (json_object_set_new(desc, "mediaType",
                            json_string(info->media_type)) < 0
        || json_object_set_new(desc, "digest", json_string(info->digest))
           < 0
        || json_object_set_new(desc, "size", json_integer(info->size)) < 0
        || (artifact != NULL
            && json_object_set_new(desc, "artifactType",
                                   json_string(artifact)) < 0))
    {
        json_decref(desc);
        return NULL;
    }

    v = json_object_get(root, "annotations");
    if (json_is_object(v) && json_object_size(v) > 0
        && json_object_set(desc, "annotations", v) < 0)
    {
        json_decref(desc);
        return NULL;
    }

    return desc;
}


static int
add_referrer(desc_vec *v, blobstore_t *bs, const char *repo,
    const char *alg, const char *hex, const char *artifact_type,
    blobstore_error_t *err)
{
    int                  rc, n;
    char                 text[BLOBSTORE_DIGEST_MAX + 2];
    json_t              *root, *desc, *at;
    blobstore_info_t     info;
    blobstore__digest_t  d;

    n = snprintf(text, sizeof(text), "%s:%s", alg, hex);
    if (n < 0 || (size_t) n >= sizeof(text)
        || blobstore__digest_parse(&d, text, NULL) != BLOBSTORE_OK)
    {
        return BLOBSTORE_OK;
    }

    rc = blobstore__manifest_load(&root, NULL, &info, bs, repo, &d, err);
    if (rc == BLOBSTORE_ENOTFOUND) {
        /* deleted since it was indexed */
        blobstore__error_clear(err);
        return BLOBSTORE_OK;
    }

    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    if (!json_is_object(root)) {
        json_decref(root);
        return BLOBSTORE_OK;
    }

    desc = descriptor(root, &info);
    json_decref(root);

    if (desc != NULL && artifact_type != NULL && artifact_type[0] != '\0') {
        at = json_object_get(desc, "artifactType");
        if (!json_is_string(at)
            || strcmp(json_string_value(at), artifact_type) != 0)
        {
            json_decref(desc);
            return BLOBSTORE_OK;
        }
    }

    if (desc == NULL || vec_add(v, desc) < 0) {
        json_decref(desc);
        return blobstore__error(err, BLOBSTORE_ENOMEM, ENOMEM,
                                "out of memory");
    }

    return BLOBSTORE_OK;
}


static int
scan_alg(desc_vec *v, blobstore_t *bs, const char *repo,
    const char *dir_path, const char *alg, const char *artifact_type,
    blobstore_error_t *err)
{
    int             rc, n;
    DIR            *dir;
    char            path[BLOBSTORE__PATH_MAX];
    struct dirent  *de;

    n = snprintf(path, sizeof(path), "%s/%s", dir_path, alg);
    if (n < 0 || (size_t) n >= sizeof(path)) {
        return BLOBSTORE_OK;
    }

    rc = blobstore__open_dir(&dir, path, err);
    if (rc != BLOBSTORE_OK || dir == NULL) {
        return rc;
    }

    for ( ;; ) {
        rc = blobstore__read_dir(&de, dir, path, err);
        if (rc != BLOBSTORE_OK || de == NULL) {
            break;
        }

        rc = add_referrer(v, bs, repo, alg, de->d_name, artifact_type, err);
        if (rc != BLOBSTORE_OK) {
            break;
        }
    }

    closedir(dir);
    return rc;
}


static int
dump(char **json_out, size_t *len_out, desc_vec *v, blobstore_error_t *err)
{
    int      rc;
    char    *buf;
    size_t   i, len;
    json_t  *index, *manifests;

    if (v->count > 1) {
        qsort(v->items, v->count, sizeof(json_t *), cmp_desc);
    }

    rc = BLOBSTORE_OK;
    buf = NULL;

    index = json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2,
                      "mediaType", BLOBSTORE__MT_OCI_INDEX, "manifests");
    if (index == NULL) {
        return blobstore__error(err, BLOBSTORE_ENOMEM, ENOMEM,
                                "out of memory");
    }

    manifests = json_object_get(index, "manifests");

    for (i = 0; i < v->count; i++) {
        if (json_array_append(manifests, v->items[i]) < 0) {
            rc = blobstore__error(err, BLOBSTORE_ENOMEM, ENOMEM,
                                  "out of memory");
            goto cleanup;
        }
    }

    len = json_dumpb(index, NULL, 0, JSON_COMPACT);
    if (len == 0) {
        rc = blobstore__error(err, BLOBSTORE_ENOMEM, ENOMEM,
                              "json_dumpb() failed");
        goto cleanup;
    }

    buf = malloc(len + 1);
    if (buf == NULL) {
        rc = blobstore__error(err, BLOBSTORE_ENOMEM, ENOMEM,
                              "out of memory");
        goto cleanup;
    }

    if (json_dumpb(index, buf, len, JSON_COMPACT) != len) {
        free(buf);
        buf = NULL;
        rc = blobstore__error(err, BLOBSTORE_ENOMEM, ENOMEM,
                              "json_dumpb() failed");
        goto cleanup;
    }

    buf[len] = '\0';
    *json_out = buf;
    *len_out = len;

cleanup:

    json_decref(index);
    return rc;
}


BLOBSTORE_EXTERN(int)
blobstore_referrers(char **json_out, size_t *len_out, blobstore_t *bs,
    const char *repo, const char *digest, const char *artifact_type,
    blobstore_error_t *err)
{
    int                  rc;
    DIR                 *dir;
    char                 path[BLOBSTORE__PATH_MAX];
    size_t               i;
    desc_vec             v;
    struct dirent       *de;
    blobstore__digest_t  subject;

    blobstore__error_clear(err);
    *json_out = NULL;
    *len_out = 0;
    memset(&v, 0, sizeof(desc_vec));

    rc = blobstore__check_repo(repo, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    rc = blobstore__digest_parse(&subject, digest, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    rc = blobstore__path(path, bs, err, "/repositories/%s/_referrers/%s/%s",
                         repo, subject.alg_name, subject.hex);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    rc = blobstore__open_dir(&dir, path, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    if (dir != NULL) {
        for ( ;; ) {
            rc = blobstore__read_dir(&de, dir, path, err);
            if (rc != BLOBSTORE_OK || de == NULL) {
                break;
            }

            rc = scan_alg(&v, bs, repo, path, de->d_name, artifact_type,
                          err);
            if (rc != BLOBSTORE_OK) {
                break;
            }
        }

        closedir(dir);
    }

    if (rc == BLOBSTORE_OK) {
        rc = dump(json_out, len_out, &v, err);
    }

    for (i = 0; i < v.count; i++) {
        json_decref(v.items[i]);
    }

    free(v.items);
    return rc;
}
