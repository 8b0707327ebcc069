
/*
 * Copyright (C) Hephaestus developers
 */


#include <sys/stat.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blobstore_int.h"


/* the most we read of a stored manifest to learn its media type */
#define MANIFEST_READ_MAX  (4 * BLOBSTORE_MANIFEST_MAX)


static int media_type_known(const char *mt);
static int media_type_is_index(const char *mt);
static void content_type_strip(char *out, size_t size, const char *ct);
static int check_descriptor(json_t *desc, blobstore__digest_t *d,
    blobstore_error_t *err);
static int blob_unknown(int rc, const blobstore__digest_t *d,
    const char *message, blobstore_error_t *err);
static int manifest_linked(const blobstore_t *bs, const char *repo,
    const blobstore__digest_t *d, blobstore_error_t *err);
static int check_image(blobstore_t *bs, const char *repo, json_t *root,
    blobstore_error_t *err);
static int check_index(blobstore_t *bs, const char *repo, json_t *root,
    blobstore_error_t *err);
static int check_manifest(char *mt_out, blobstore__digest_t *subject,
    blobstore_t *bs, const char *repo, const char *content_type,
    const void *data, size_t len, blobstore_error_t *err);
static int store_manifest(blobstore_t *bs, const char *repo,
    const char *tag, const blobstore__digest_t *d,
    const blobstore__digest_t *subject, const void *data, size_t len,
    blobstore_error_t *err);
static int resolve(blobstore__digest_t *out, blobstore_t *bs,
    const char *repo, const char *reference, blobstore_error_t *err);
static int scan_media_type(char *out, size_t size, const char *p,
    const char *end);
static const char *skip_string(const char *p, const char *end);
static const char *skip_value(const char *p, const char *end);
static int read_all(char **out, size_t *len_out, int fd, size_t size,
    blobstore_error_t *err);
static int read_into(char *buf, size_t *len_out, int fd, size_t size,
    blobstore_error_t *err);
static int manifest_load(json_t **out, int *fd_out, char *ubuf,
    size_t usize, size_t *ulen, blobstore_info_t *info,
    const blobstore_t *bs, blobstore__mcache_t *mc, const char *repo,
    const blobstore__digest_t *d, blobstore_error_t *err);
static blobstore__mcache_slot_t *mcache_slot(blobstore__mcache_t *mc,
    const blobstore__digest_t *d);
static int mcache_get(blobstore__mcache_t *mc, const blobstore__digest_t *d,
    char *buf, size_t size, size_t *len_out, blobstore_info_t *info);
static void mcache_put(blobstore__mcache_t *mc, const blobstore__digest_t *d,
    const char *data, const blobstore_info_t *info);
static void info_fill(blobstore_info_t *info, json_t *root);
static int delete_tags_of(int *matched, blobstore_t *bs, const char *repo,
    const blobstore__digest_t *d, blobstore_error_t *err);


static const char  *media_types[] = {
    BLOBSTORE__MT_DOCKER_MANIFEST,
    BLOBSTORE__MT_DOCKER_LIST,
    BLOBSTORE__MT_OCI_MANIFEST,
    BLOBSTORE__MT_OCI_INDEX,
    NULL
};


static int
media_type_known(const char *mt)
{
    size_t  i;

    for (i = 0; media_types[i] != NULL; i++) {
        if (strcmp(mt, media_types[i]) == 0) {
            return 1;
        }
    }

    return 0;
}


static int
media_type_is_index(const char *mt)
{
    return strcmp(mt, BLOBSTORE__MT_DOCKER_LIST) == 0
           || strcmp(mt, BLOBSTORE__MT_OCI_INDEX) == 0;
}


/*
 * "type/subtype; charset=x" -> "type/subtype", without white space.
 */

static void
content_type_strip(char *out, size_t size, const char *ct)
{
    size_t  len;

    out[0] = '\0';
    if (ct == NULL) {
        return;
    }

    while (*ct == ' ' || *ct == '\t') {
        ct++;
    }

    len = strcspn(ct, ";");
    while (len > 0 && (ct[len - 1] == ' ' || ct[len - 1] == '\t')) {
        len--;
    }

    if (len >= size) {
        len = size - 1;
    }

    memcpy(out, ct, len);
    out[len] = '\0';
}


/*
 * The media type of a manifest: its mediaType field, else what its
 * fields make it.  NULL when nothing fits.
 */

const char *
blobstore__manifest_media_type(json_t *root)
{
    json_t  *v;

    v = json_object_get(root, "mediaType");
    if (v != NULL) {
        return json_is_string(v) ? json_string_value(v) : NULL;
    }

    if (json_object_get(root, "config") != NULL) {
        return BLOBSTORE__MT_OCI_MANIFEST;
    }

    if (json_object_get(root, "manifests") != NULL) {
        return BLOBSTORE__MT_OCI_INDEX;
    }

    return NULL;
}


static int
check_descriptor(json_t *desc, blobstore__digest_t *d,
    blobstore_error_t *err)
{
    json_t  *v;

    if (!json_is_object(desc)) {
        return blobstore__error(err, BLOBSTORE_EMANIFEST, 0,
                                "descriptor is not an object");
    }

    v = json_object_get(desc, "digest");
    if (!json_is_string(v)
        || blobstore__digest_parse(d, json_string_value(v), NULL)
           != BLOBSTORE_OK)
    {
        return blobstore__error(err, BLOBSTORE_EMANIFEST, 0,
                                "descriptor has no valid digest");
    }

    v = json_object_get(desc, "size");
    if (v != NULL && (!json_is_integer(v) || json_integer_value(v) < 0)) {
        return blobstore__error(err, BLOBSTORE_EMANIFEST, 0,
                                "descriptor has an invalid size");
    }

    v = json_object_get(desc, "mediaType");
    if (v != NULL && !json_is_string(v)) {
        return blobstore__error(err, BLOBSTORE_EMANIFEST, 0,
                                "descriptor has an invalid media type");
    }

    return BLOBSTORE_OK;
}


/*
 * rc, but ENOTFOUND becomes EBLOBUNKNOWN with message, and d as the
 * detail: the client learns which of its descriptors the repository
 * lacks.
 */

static int
blob_unknown(int rc, const blobstore__digest_t *d, const char *message,
    blobstore_error_t *err)
{
    if (rc != BLOBSTORE_ENOTFOUND) {
        return rc;
    }

    rc = blobstore__error(err, BLOBSTORE_EBLOBUNKNOWN, 0, "%s", message);
    if (err != NULL) {
        memcpy(err->detail, d->full, strlen(d->full) + 1);
    }

    return rc;
}


/*
 * BLOBSTORE_OK when the revision link of d in repo names d; ENOTFOUND,
 * with no message of its own, when there is none.
 */

static int
manifest_linked(const blobstore_t *bs, const char *repo,
    const blobstore__digest_t *d, blobstore_error_t *err)
{
    int   rc;
    char  path[BLOBSTORE__PATH_MAX];

    rc = blobstore__path(path, bs, err,
                         "/repositories/%s/_manifests/revisions/%s/%s/link",
                         repo, d->alg_name, d->hex);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    /* published by rename: it is whole if it is there at all */

    if (!blobstore__exists(path)) {
        return blobstore__error(err, BLOBSTORE_ENOTFOUND, 0,
                                "manifest unknown");
    }

    return BLOBSTORE_OK;
}


static int
check_image(blobstore_t *bs, const char *repo, json_t *root,
    blobstore_error_t *err)
{
    int                  rc;
    size_t               i;
    json_t              *layers, *layer, *urls;
    blobstore__digest_t  d;

    layers = json_object_get(root, "layers");
    if (!json_is_array(layers)) {
        return blobstore__error(err, BLOBSTORE_EMANIFEST, 0,
                                "manifest has no layers array");
    }

    rc = check_descriptor(json_object_get(root, "config"), &d, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    rc = blobstore__layer_linked(bs, repo, &d, err);
    rc = blob_unknown(rc, &d, "config blob unknown to repository", err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    for (i = 0; i < json_array_size(layers); i++) {
        layer = json_array_get(layers, i);

        rc = check_descriptor(layer, &d, err);
        if (rc != BLOBSTORE_OK) {
            return rc;
        }

        urls = json_object_get(layer, "urls");
        if (json_is_array(urls) && json_array_size(urls) > 0) {
            /* a foreign layer: its blob lives elsewhere */
            continue;
        }

        rc = blobstore__layer_linked(bs, repo, &d, err);
        rc = blob_unknown(rc, &d, "layer blob unknown to repository", err);
        if (rc != BLOBSTORE_OK) {
            return rc;
        }
    }

    return BLOBSTORE_OK;
}


static int
check_index(blobstore_t *bs, const char *repo, json_t *root,
    blobstore_error_t *err)
{
    int                  rc;
    size_t               i;
    json_t              *manifests;
    blobstore__digest_t  d;

    manifests = json_object_get(root, "manifests");
    if (!json_is_array(manifests)) {
        return blobstore__error(err, BLOBSTORE_EMANIFEST, 0,
                                "index has no manifests array");
    }

    for (i = 0; i < json_array_size(manifests); i++) {
        rc = check_descriptor(json_array_get(manifests, i), &d, err);
        if (rc != BLOBSTORE_OK) {
            return rc;
        }

        rc = manifest_linked(bs, repo, &d, err);
        rc = blob_unknown(rc, &d, "child manifest unknown to repository",
                          err);
        if (rc != BLOBSTORE_OK) {
            return rc;
        }
    }

    return BLOBSTORE_OK;
}


static int
check_manifest(char *mt_out, blobstore__digest_t *subject, blobstore_t *bs,
    const char *repo, const char *content_type, const void *data,
    size_t len, blobstore_error_t *err)
{
    int           rc;
    char          ct[BLOBSTORE_MEDIA_TYPE_MAX + 1];
    json_t       *root, *v;
    const char   *mt, *field;
    json_error_t  jerr;

    root = json_loadb(data, len, 0, &jerr);
    if (root == NULL) {
        return blobstore__error(err, BLOBSTORE_EMANIFEST, 0,
                                "invalid json: %s", jerr.text);
    }

    if (!json_is_object(root)) {
        rc = blobstore__error(err, BLOBSTORE_EMANIFEST, 0,
                              "manifest is not an object");
        goto cleanup;
    }

    v = json_object_get(root, "schemaVersion");
    if (!json_is_integer(v) || json_integer_value(v) != 2) {
        rc = blobstore__error(err, BLOBSTORE_EMANIFEST, 0,
                              "schemaVersion is not 2");
        goto cleanup;
    }

    v = json_object_get(root, "mediaType");
    if (v != NULL && !json_is_string(v)) {
        rc = blobstore__error(err, BLOBSTORE_EMANIFEST, 0,
                              "mediaType is not a string");
        goto cleanup;
    }

    field = (v != NULL) ? json_string_value(v) : NULL;
    content_type_strip(ct, sizeof(ct), content_type);

    if (ct[0] != '\0') {
        if (!media_type_known(ct)) {
            rc = blobstore__error(err, BLOBSTORE_EMANIFEST, 0,
                                  "unsupported manifest media type");
            goto cleanup;
        }

        if (field != NULL && strcmp(field, ct) != 0) {
            rc = blobstore__error(err, BLOBSTORE_EMANIFEST, 0,
                                  "mediaType does not match content type");
            goto cleanup;
        }

        /*
         * Only OCI makes the field optional; the type is read back from
         * the field, so a Docker manifest without it would change type.
         */

        if (field == NULL && strncmp(ct, "application/vnd.docker.", 23) == 0)
        {
            rc = blobstore__error(err, BLOBSTORE_EMANIFEST, 0,
                                  "a Docker manifest needs its mediaType "
                                  "field");
            goto cleanup;
        }

        mt = ct;

    } else {
        mt = blobstore__manifest_media_type(root);
        if (mt == NULL || !media_type_known(mt)) {
            rc = blobstore__error(err, BLOBSTORE_EMANIFEST, 0,
                                  "unsupported manifest media type");
            goto cleanup;
        }
    }

    if (media_type_is_index(mt)) {
        rc = check_index(bs, repo, root, err);

    } else {
        rc = check_image(bs, repo, root, err);
    }

    if (rc != BLOBSTORE_OK) {
        goto cleanup;
    }

    subject->full[0] = '\0';

    v = json_object_get(root, "subject");
    if (v != NULL) {
        rc = check_descriptor(v, subject, err);
        if (rc != BLOBSTORE_OK) {
            goto cleanup;
        }
    }

    memcpy(mt_out, mt, strlen(mt) + 1);

cleanup:

    json_decref(root);
    return rc;
}


static int
store_manifest(blobstore_t *bs, const char *repo, const char *tag,
    const blobstore__digest_t *d, const blobstore__digest_t *subject,
    const void *data, size_t len, blobstore_error_t *err)
{
    int   rc, created;
    char  path[BLOBSTORE__PATH_MAX];

    rc = blobstore__blob_path(path, bs, d, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    if (!blobstore__exists(path)) {
        rc = blobstore__path(path, bs, err, "/blobs/%s/%.2s/%s",
                             d->alg_name, d->hex, d->hex);
        if (rc != BLOBSTORE_OK) {
            return rc;
        }

        rc = blobstore__write_atomic(bs, path, "data", data, len, err);
        if (rc != BLOBSTORE_OK) {
            return rc;
        }
    }

    /* a repository is born with its first manifest: see catalog.c */

    created = !blobstore__repo_exists(bs, repo);

    rc = blobstore__path(path, bs, err,
                         "/repositories/%s/_manifests/revisions/%s/%s",
                         repo, d->alg_name, d->hex);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    rc = blobstore__write_link(bs, path, d, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    if (created) {
        blobstore__catalog_note(bs, repo);
    }

    if (subject->full[0] != '\0') {
        rc = blobstore__path(path, bs, err,
                             "/repositories/%s/_referrers/%s/%s/%s/%s",
                             repo, subject->alg_name, subject->hex,
                             d->alg_name, d->hex);
        if (rc != BLOBSTORE_OK) {
            return rc;
        }

        rc = blobstore__write_link(bs, path, d, err);
        if (rc != BLOBSTORE_OK) {
            return rc;
        }
    }

    if (tag == NULL) {
        return BLOBSTORE_OK;
    }

    rc = blobstore__path(path, bs, err,
                         "/repositories/%s/_manifests/tags/%s/index/%s/%s",
                         repo, tag, d->alg_name, d->hex);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    rc = blobstore__write_link(bs, path, d, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    rc = blobstore__path(path, bs, err,
                         "/repositories/%s/_manifests/tags/%s/current",
                         repo, tag);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    return blobstore__write_link(bs, path, d, err);
}


BLOBSTORE_EXTERN(int)
blobstore_manifest_put(blobstore_info_t *info, blobstore_t *bs,
    const char *repo, const char *reference, const char *content_type,
    const void *data, size_t len, blobstore_error_t *err)
{
    int                  rc, alg;
    char                 mt[BLOBSTORE_MEDIA_TYPE_MAX + 1];
    char                 path[BLOBSTORE__PATH_MAX];
    const char          *tag;
    struct stat          st;
    blobstore__digest_t  ref, d, subject;

    blobstore__error_clear(err);
    if (info != NULL) {
        memset(info, 0, sizeof(blobstore_info_t));
    }

    rc = blobstore__check_repo(repo, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    if (reference == NULL) {
        return blobstore__error(err, BLOBSTORE_EINVAL, 0, "no reference");
    }

    if (strchr(reference, ':') != NULL) {
        rc = blobstore__digest_parse(&ref, reference, err);
        if (rc != BLOBSTORE_OK) {
            return rc;
        }

        tag = NULL;
        alg = ref.alg;

    } else {
        if (blobstore_tag_valid(reference) != BLOBSTORE_OK) {
            return blobstore__error(err, BLOBSTORE_EINVAL, 0,
                                    "invalid reference");
        }

        tag = reference;
        alg = BLOBSTORE__SHA256;
    }

    if (len > BLOBSTORE_MANIFEST_MAX) {
        return blobstore__error(err, BLOBSTORE_ETOOBIG, 0,
                                "manifest too big");
    }

    if (data == NULL && len > 0) {
        return blobstore__error(err, BLOBSTORE_EINVAL, 0, "no data");
    }

    if (data == NULL) {
        data = "";
    }

    blobstore__hash_buf(&d, alg, data, len);

    if (tag == NULL && strcmp(d.full, ref.full) != 0) {
        return blobstore__error(err, BLOBSTORE_EDIGEST, 0,
                                "manifest has digest %s", d.full);
    }

    rc = check_manifest(mt, &subject, bs, repo, content_type, data, len,
                        err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    rc = store_manifest(bs, repo, tag, &d, &subject, data, len, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    if (info != NULL) {
        info->size = (int64_t) len;
        memcpy(info->digest, d.full, strlen(d.full) + 1);
        memcpy(info->media_type, mt, strlen(mt) + 1);
        memcpy(info->subject, subject.full, strlen(subject.full) + 1);

        info->mtime = (int64_t) time(NULL);
        if (blobstore__blob_path(path, bs, &d, NULL) == BLOBSTORE_OK
            && stat(path, &st) == 0)
        {
            info->mtime = (int64_t) st.st_mtime;
        }
    }

    return BLOBSTORE_OK;
}


static int
resolve(blobstore__digest_t *out, blobstore_t *bs, const char *repo,
    const char *reference, blobstore_error_t *err)
{
    int   rc;
    char  path[BLOBSTORE__PATH_MAX];

    rc = blobstore__check_repo(repo, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    if (reference == NULL) {
        return blobstore__error(err, BLOBSTORE_EINVAL, 0, "no reference");
    }

    if (strchr(reference, ':') != NULL) {
        return blobstore__digest_parse(out, reference, err);
    }

    if (blobstore_tag_valid(reference) != BLOBSTORE_OK) {
        return blobstore__error(err, BLOBSTORE_EINVAL, 0,
                                "invalid reference");
    }

    rc = blobstore__path(path, bs, err,
                         "/repositories/%s/_manifests/tags/%s/current/link",
                         repo, reference);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    rc = blobstore__read_link(out, path, err);
    if (rc == BLOBSTORE_ENOTFOUND) {
        return blobstore__error(err, BLOBSTORE_ENOTFOUND, 0,
                                "manifest unknown");
    }

    return rc;
}


/*
 * The top-level mediaType of a stored manifest, found without building
 * its tree: a GET needs nothing more.  The bytes were checked as JSON when
 * they were stored, so this only has to walk them.  The last occurrence
 * wins, as in the parse the PUT was checked with.  Returns 0 when there
 * is none in plain form (no escapes), and the caller parses then.
 */

static int
scan_media_type(char *out, size_t size, const char *p, const char *end)
{
    int          found;
    size_t       len;
    const char  *key, *key_end, *val;

    found = 0;

    while (p < end && isspace((unsigned char) *p)) {
        p++;
    }

    if (p == end || *p++ != '{') {
        return 0;
    }

    for ( ;; ) {
        while (p < end && isspace((unsigned char) *p)) {
            p++;
        }

        if (p == end || *p != '"') {
            return found;
        }

        key = p + 1;
        p = skip_string(p, end);
        if (p == NULL) {
            return 0;
        }

        key_end = p - 1;

        /* an escaped key may spell mediaType: only a parse can tell */

        if (memchr(key, '\\', (size_t) (key_end - key)) != NULL) {
            return 0;
        }

        while (p < end && isspace((unsigned char) *p)) {
            p++;
        }

        if (p == end || *p++ != ':') {
            return 0;
        }

        while (p < end && isspace((unsigned char) *p)) {
            p++;
        }

        val = p;
        p = skip_value(p, end);
        if (p == NULL) {
            return 0;
        }

        if (key_end - key == sizeof("mediaType") - 1
            && memcmp(key, "mediaType", sizeof("mediaType") - 1) == 0)
        {
            len = (size_t) (p - val);

            if (len < 2 || *val != '"' || memchr(val, '\\', len) != NULL
                || len - 2 >= size)
            {
                return 0;
            }

            memcpy(out, val + 1, len - 2);
            out[len - 2] = '\0';
            found = 1;
        }

        while (p < end && isspace((unsigned char) *p)) {
            p++;
        }

        if (p == end || *p != ',') {
            return found;
        }

        p++;
    }
}


/* p is at a '"': returns the position after the closing one */

static const char *
skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\') {
            p++;

        } else if (*p == '"') {
            return p + 1;
        }
    }

    return NULL;
}


static const char *
skip_value(const char *p, const char *end)
{
    int  depth;

    if (p < end && *p == '"') {
        return skip_string(p, end);
    }

    depth = 0;

    while (p < end) {
        switch (*p) {

        case '"':
            p = skip_string(p, end);
            if (p == NULL) {
                return NULL;
            }

            continue;

        case '{':
        case '[':
            depth++;
            break;

        case '}':
        case ']':
            if (depth == 0) {
                return p;
            }

            if (--depth == 0) {
                return p + 1;
            }

            break;

        case ',':
            if (depth == 0) {
                return p;
            }

            break;
        }

        p++;
    }

    return (depth == 0) ? p : NULL;
}


static int
read_all(char **out, size_t *len_out, int fd, size_t size,
    blobstore_error_t *err)
{
    int    rc;
    char  *buf;

    buf = malloc(size + 1);
    if (buf == NULL) {
        return blobstore__error(err, BLOBSTORE_ENOMEM, ENOMEM,
                                "out of memory");
    }

    rc = read_into(buf, len_out, fd, size, err);
    if (rc != BLOBSTORE_OK) {
        free(buf);
        return rc;
    }

    buf[*len_out] = '\0';
    *out = buf;

    return BLOBSTORE_OK;
}


/* Reads up to size bytes from the start of fd into buf. */

static int
read_into(char *buf, size_t *len_out, int fd, size_t size,
    blobstore_error_t *err)
{
    size_t   len;
    ssize_t  n;

    len = 0;

    while (len < size) {
        n = pread(fd, buf + len, size - len, (off_t) len);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }

            return blobstore__sys_error(err, errno, "pread() failed");
        }

        if (n == 0) {
            break;
        }

        len += (size_t) n;
    }

    *len_out = len;

    return BLOBSTORE_OK;
}


static void
info_fill(blobstore_info_t *info, json_t *root)
{
    json_t      *v;
    const char  *mt;

    info->media_type[0] = '\0';
    info->subject[0] = '\0';

    if (!json_is_object(root)) {
        return;
    }

    mt = blobstore__manifest_media_type(root);
    if (mt != NULL && strlen(mt) <= BLOBSTORE_MEDIA_TYPE_MAX) {
        memcpy(info->media_type, mt, strlen(mt) + 1);
    }

    v = json_object_get(json_object_get(root, "subject"), "digest");
    if (json_is_string(v)
        && blobstore_digest_valid(json_string_value(v)) == BLOBSTORE_OK)
    {
        memcpy(info->subject, json_string_value(v),
               strlen(json_string_value(v)) + 1);
    }
}


/*
 * Opens and parses the manifest d of repo.  *out (may be NULL) gets the
 * parsed JSON, or NULL if the stored bytes are not JSON.
 */

int
blobstore__manifest_load(json_t **out, int *fd_out, blobstore_info_t *info,
    const blobstore_t *bs, const char *repo, const blobstore__digest_t *d,
    blobstore_error_t *err)
{
    return manifest_load(out, fd_out, NULL, 0, NULL, info, bs, NULL, repo, d,
                         err);
}


/*
 * As blobstore__manifest_load(); with ubuf, a manifest of at most usize
 * bytes is read into it (*ulen) and not left open (*fd_out is -1).
 */

static int
manifest_load(json_t **out, int *fd_out, char *ubuf, size_t usize,
    size_t *ulen, blobstore_info_t *info, const blobstore_t *bs,
    blobstore__mcache_t *mc, const char *repo, const blobstore__digest_t *d,
    blobstore_error_t *err)
{
    int                  rc, fd, in_ubuf;
    char                 path[BLOBSTORE__PATH_MAX], *buf, *data;
    char                 mt[BLOBSTORE_MEDIA_TYPE_MAX + 1];
    size_t               len;
    json_t              *root;
    struct stat          st;

    if (out != NULL) {
        *out = NULL;
    }

    if (ulen != NULL) {
        *ulen = 0;
    }

    mt[0] = '\0';

    rc = manifest_linked(bs, repo, d, err);
    if (rc == BLOBSTORE_ENOTFOUND) {
        return blobstore__error(err, BLOBSTORE_ENOTFOUND, 0,
                                "manifest unknown");
    }

    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    /* the link is checked above, every time: then the bytes may be known */

    if (mc != NULL && ubuf != NULL && fd_out != NULL && info != NULL
        && out == NULL && mcache_get(mc, d, ubuf, usize, ulen, info))
    {
        *fd_out = -1;
        return BLOBSTORE_OK;
    }

    rc = blobstore__blob_path(path, bs, d, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    rc = blobstore__open_stat(&fd, &st, path, "manifest data missing", err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    root = NULL;
    buf = NULL;
    len = 0;
    in_ubuf = (ubuf != NULL && fd_out != NULL
               && (uint64_t) st.st_size <= usize
               && st.st_size <= MANIFEST_READ_MAX);

    if (st.st_size <= MANIFEST_READ_MAX) {
        if (in_ubuf) {
            rc = read_into(ubuf, &len, fd, (size_t) st.st_size, err);
            data = ubuf;

        } else {
            rc = read_all(&buf, &len, fd, (size_t) st.st_size, err);
            data = buf;
        }

        if (rc == BLOBSTORE_OK && in_ubuf && len != (size_t) st.st_size) {
            rc = blobstore__error(err, BLOBSTORE_EIO, 0,
                                  "manifest data \"%s\" changed size",
                                  path);
        }

        if (rc != BLOBSTORE_OK) {
            free(buf);
            close(fd);
            return rc;
        }

        if (out != NULL || info == NULL
            || !scan_media_type(mt, sizeof(mt), data, data + len)
            || !media_type_known(mt))
        {
            root = json_loadb(data, len, 0, NULL);
        }

        free(buf);
    }

    if (info != NULL) {
        memset(info, 0, sizeof(blobstore_info_t));
        info->size = (int64_t) st.st_size;
        info->mtime = (int64_t) st.st_mtime;
        memcpy(info->digest, d->full, strlen(d->full) + 1);

        if (root != NULL) {
            info_fill(info, root);

        } else {
            memcpy(info->media_type, mt, strlen(mt) + 1);
        }
    }

    if (out != NULL) {
        *out = root;

    } else {
        json_decref(root);
    }

    if (in_ubuf) {
        *ulen = len;
        *fd_out = -1;
        close(fd);

        if (mc != NULL && info != NULL && len <= BLOBSTORE__MCACHE_MAX) {
            mcache_put(mc, d, ubuf, info);
        }

    } else if (fd_out != NULL) {
        *fd_out = fd;

    } else {
        close(fd);
    }

    return BLOBSTORE_OK;
}


BLOBSTORE_EXTERN(int)
blobstore_manifest_open(int *fd_out, blobstore_info_t *info,
    blobstore_t *bs, const char *repo, const char *reference,
    blobstore_error_t *err)
{
    size_t  len;

    return blobstore_manifest_read(fd_out, NULL, 0, &len, info, bs, repo,
                                   reference, err);
}


BLOBSTORE_EXTERN(int)
blobstore_manifest_read(int *fd_out, void *buf, size_t size, size_t *len_out,
    blobstore_info_t *info, blobstore_t *bs, const char *repo,
    const char *reference, blobstore_error_t *err)
{
    int                  rc;
    blobstore__digest_t  d;

    blobstore__error_clear(err);
    *fd_out = -1;
    *len_out = 0;

    rc = resolve(&d, bs, repo, reference, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    return manifest_load(NULL, fd_out, buf, size, len_out, info, bs,
                         &bs->mcache, repo, &d, err);
}


void
blobstore__mcache_init(blobstore_t *bs)
{
    bs->mcache.locked = (pthread_mutex_init(&bs->mcache.lock, NULL) == 0);
}


void
blobstore__mcache_free(blobstore_t *bs)
{
    size_t  i;

    for (i = 0; i < BLOBSTORE__MCACHE_SLOTS; i++) {
        free(bs->mcache.slots[i].data);
    }

    if (bs->mcache.locked) {
        (void) pthread_mutex_destroy(&bs->mcache.lock);
    }
}


/* A digest's slot: its first hex digits spread digests evenly. */

static blobstore__mcache_slot_t *
mcache_slot(blobstore__mcache_t *mc, const blobstore__digest_t *d)
{
    size_t       h, i;
    const char  *p;
    int          c;

    p = strchr(d->full, ':');
    p = (p != NULL) ? p + 1 : d->full;

    h = 0;

    for (i = 0; i < 4 && p[i] != '\0'; i++) {
        c = (unsigned char) p[i];
        h = h * 16 + (size_t) (isdigit(c) ? c - '0' : (c | 0x20) - 'a' + 10);
    }

    return &mc->slots[h % BLOBSTORE__MCACHE_SLOTS];
}


/* Copies the manifest d into buf if it is known and fits: 1, else 0. */

static int
mcache_get(blobstore__mcache_t *mc, const blobstore__digest_t *d, char *buf,
    size_t size, size_t *len_out, blobstore_info_t *info)
{
    int                        hit;
    blobstore__mcache_slot_t  *slot;

    if (!mc->locked || pthread_mutex_lock(&mc->lock) != 0) {
        return 0;
    }

    slot = mcache_slot(mc, d);

    hit = (slot->data != NULL
           && strcmp(slot->info.digest, d->full) == 0
           && (uint64_t) slot->info.size <= size);

    if (hit) {
        memcpy(buf, slot->data, (size_t) slot->info.size);
        *len_out = (size_t) slot->info.size;
        *info = slot->info;
    }

    (void) pthread_mutex_unlock(&mc->lock);

    return hit;
}


/* Keeps a copy of a manifest just read, in place of its slot's last. */

static void
mcache_put(blobstore__mcache_t *mc, const blobstore__digest_t *d,
    const char *data, const blobstore_info_t *info)
{
    char                      *copy;
    blobstore__mcache_slot_t  *slot;

    if (!mc->locked || strcmp(info->digest, d->full) != 0) {
        return;
    }

    copy = malloc(info->size > 0 ? (size_t) info->size : 1);
    if (copy == NULL) {
        return;
    }

    memcpy(copy, data, (size_t) info->size);

    if (pthread_mutex_lock(&mc->lock) != 0) {
        free(copy);
        return;
    }

    slot = mcache_slot(mc, d);

    free(slot->data);
    slot->data = copy;
    slot->info = *info;

    (void) pthread_mutex_unlock(&mc->lock);
}


BLOBSTORE_EXTERN(int)
blobstore_manifest_stat(blobstore_info_t *info, blobstore_t *bs,
    const char *repo, const char *reference, blobstore_error_t *err)
{
    int                  rc;
    blobstore__digest_t  d;

    blobstore__error_clear(err);

    rc = resolve(&d, bs, repo, reference, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    return blobstore__manifest_load(NULL, NULL, info, bs, repo, &d, err);
}


static int
delete_tags_of(int *matched, blobstore_t *bs, const char *repo,
    const blobstore__digest_t *d, blobstore_error_t *err)
{
    int                  rc;
    DIR                 *dir;
    char                 tags[BLOBSTORE__PATH_MAX], trash[BLOBSTORE__PATH_MAX];
    char                 path[BLOBSTORE__PATH_MAX];
    struct dirent       *de;
    blobstore__digest_t  cur;

    rc = blobstore__path(tags, bs, err, "/repositories/%s/_manifests/tags",
                         repo);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    rc = blobstore__path(trash, bs, err, "/repositories/%s/_manifests",
                         repo);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    rc = blobstore__open_dir(&dir, tags, err);
    if (rc != BLOBSTORE_OK || dir == NULL) {
        return rc;
    }

    for ( ;; ) {
        rc = blobstore__read_dir(&de, dir, tags, err);
        if (rc != BLOBSTORE_OK || de == NULL) {
            break;
        }

        if (blobstore_tag_valid(de->d_name) != BLOBSTORE_OK) {
            continue;
        }

        rc = blobstore__path(path, bs, err,
                             "/repositories/%s/_manifests/tags/%s"
                             "/current/link", repo, de->d_name);
        if (rc != BLOBSTORE_OK) {
            break;
        }

        if (blobstore__read_link(&cur, path, NULL) != BLOBSTORE_OK
            || strcmp(cur.full, d->full) != 0)
        {
            continue;
        }

        rc = blobstore__path(path, bs, err,
                             "/repositories/%s/_manifests/tags/%s", repo,
                             de->d_name);
        if (rc != BLOBSTORE_OK) {
            break;
        }

        rc = blobstore__remove_tree(bs, path, trash, err);
        if (rc == BLOBSTORE_ENOTFOUND) {
            rc = BLOBSTORE_OK;
            continue;
        }

        if (rc != BLOBSTORE_OK) {
            break;
        }

        *matched = 1;
    }

    closedir(dir);
    return rc;
}


BLOBSTORE_EXTERN(int)
blobstore_manifest_delete(blobstore_t *bs, const char *repo,
    const char *reference, blobstore_error_t *err)
{
    int                  rc, matched;
    char                 path[BLOBSTORE__PATH_MAX], trash[BLOBSTORE__PATH_MAX];
    json_t              *root;
    blobstore_info_t     info;
    blobstore__digest_t  d, subject;

    blobstore__error_clear(err);

    rc = blobstore__check_repo(repo, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    if (reference == NULL) {
        return blobstore__error(err, BLOBSTORE_EINVAL, 0, "no reference");
    }

    if (strchr(reference, ':') == NULL) {
        if (blobstore_tag_valid(reference) != BLOBSTORE_OK) {
            return blobstore__error(err, BLOBSTORE_EINVAL, 0,
                                    "invalid reference");
        }

        rc = blobstore__path(path, bs, err,
                             "/repositories/%s/_manifests/tags/%s/current"
                             "/link", repo, reference);
        if (rc != BLOBSTORE_OK) {
            return rc;
        }

        if (!blobstore__exists(path)) {
            return blobstore__error(err, BLOBSTORE_ENOTFOUND, 0,
                                    "tag unknown");
        }

        rc = blobstore__path(path, bs, err,
                             "/repositories/%s/_manifests/tags/%s", repo,
                             reference);
        if (rc != BLOBSTORE_OK) {
            return rc;
        }

        rc = blobstore__path(trash, bs, err, "/repositories/%s/_manifests",
                             repo);
        if (rc != BLOBSTORE_OK) {
            return rc;
        }

        rc = blobstore__remove_tree(bs, path, trash, err);
        if (rc == BLOBSTORE_ENOTFOUND) {
            return blobstore__error(err, BLOBSTORE_ENOTFOUND, 0,
                                    "tag unknown");
        }

        return rc;
    }

    rc = blobstore__digest_parse(&d, reference, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    matched = 0;
    subject.full[0] = '\0';

    /* learn the subject while the manifest is still there */

    rc = blobstore__manifest_load(&root, NULL, &info, bs, repo, &d, NULL);
    if (rc == BLOBSTORE_OK) {
        if (info.subject[0] != '\0') {
            (void) blobstore__digest_parse(&subject, info.subject, NULL);
        }

        json_decref(root);
    }

    rc = delete_tags_of(&matched, bs, repo, &d, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    if (subject.full[0] != '\0') {
        rc = blobstore__path(path, bs, err,
                             "/repositories/%s/_referrers/%s/%s/%s/%s",
                             repo, subject.alg_name, subject.hex,
                             d.alg_name, d.hex);
        if (rc != BLOBSTORE_OK) {
            return rc;
        }

        rc = blobstore__remove_link_dir(path, err);
        if (rc != BLOBSTORE_OK && rc != BLOBSTORE_ENOTFOUND) {
            return rc;
        }
    }

    rc = blobstore__path(path, bs, err,
                         "/repositories/%s/_manifests/revisions/%s/%s",
                         repo, d.alg_name, d.hex);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    rc = blobstore__remove_link_dir(path, err);
    if (rc == BLOBSTORE_OK) {
        matched = 1;

    } else if (rc != BLOBSTORE_ENOTFOUND) {
        return rc;
    }

    if (!matched) {
        return blobstore__error(err, BLOBSTORE_ENOTFOUND, 0,
                                "manifest unknown");
    }

    blobstore__error_clear(err);
    return BLOBSTORE_OK;
}
