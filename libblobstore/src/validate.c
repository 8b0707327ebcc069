
/*
 * Copyright (C) Hephaestus developers
 */


#include <string.h>

#include "blobstore_int.h"


static int is_lower_alnum(int c);
static int is_lower_hex(int c);
static int is_alg_char(int c);
static int is_enc_char(int c);
static int component_valid(const char *p, size_t len);


static int
is_lower_alnum(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}


static int
is_lower_hex(int c)
{
    return (c >= 'a' && c <= 'f') || (c >= '0' && c <= '9');
}


static int
is_alg_char(int c)
{
    return is_lower_alnum(c) || c == '+' || c == '.' || c == '_'
           || c == '-';
}


static int
is_enc_char(int c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '='
           || c == '_' || c == '-';
}


/*
 * One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
 */

static int
component_valid(const char *p, size_t len)
{
    size_t  i, run;

    if (len == 0 || !is_lower_alnum((unsigned char) p[0])) {
        return 0;
    }

    i = 0;

    while (i < len) {
        if (is_lower_alnum((unsigned char) p[i])) {
            i++;
            continue;
        }

        if (p[i] == '.') {
            i++;

        } else if (p[i] == '_') {
            run = 0;
            while (i < len && p[i] == '_') {
                i++;
                run++;
            }

            if (run > 2) {
                return 0;
            }

        } else if (p[i] == '-') {
            while (i < len && p[i] == '-') {
                i++;
            }

        } else {
            return 0;
        }

        if (i >= len || !is_lower_alnum((unsigned char) p[i])) {
            return 0;
        }
    }

    return 1;
}


BLOBSTORE_EXTERN(int)
blobstore_name_valid(const char *name)
{
    size_t       len;
    const char  *p, *slash;

    if (name == NULL) {
        return BLOBSTORE_EINVAL;
    }

    len = strlen(name);
    if (len == 0 || len > BLOBSTORE_NAME_MAX) {
        return BLOBSTORE_EINVAL;
    }

    p = name;

    for ( ;; ) {
        slash = strchr(p, '/');
        len = (slash == NULL) ? strlen(p) : (size_t) (slash - p);

        if (!component_valid(p, len)) {
            return BLOBSTORE_EINVAL;
        }

        if (slash == NULL) {
            return BLOBSTORE_OK;
        }

        p = slash + 1;
    }
}


BLOBSTORE_EXTERN(int)
blobstore_tag_valid(const char *tag)
{
    size_t  i;

    if (tag == NULL || tag[0] == '\0') {
        return BLOBSTORE_EINVAL;
    }

    for (i = 0; tag[i] != '\0'; i++) {
        if (i >= BLOBSTORE_TAG_MAX) {
            return BLOBSTORE_EINVAL;
        }

        if ((tag[i] >= 'a' && tag[i] <= 'z')
            || (tag[i] >= 'A' && tag[i] <= 'Z')
            || (tag[i] >= '0' && tag[i] <= '9')
            || tag[i] == '_')
        {
            continue;
        }

        if (i > 0 && (tag[i] == '.' || tag[i] == '-')) {
            continue;
        }

        return BLOBSTORE_EINVAL;
    }

    return BLOBSTORE_OK;
}


BLOBSTORE_EXTERN(int)
blobstore_digest_valid(const char *digest)
{
    return blobstore__digest_parse(NULL, digest, NULL);
}


/*
 * Grammar of the OCI image specification: algorithm
 * [a-z0-9]+([+._-][a-z0-9]+)*, a colon, encoded [a-zA-Z0-9=_-]+.
 */

int
blobstore__digest_parse(blobstore__digest_t *out, const char *digest,
    blobstore_error_t *err)
{
    size_t       i, alg_len, hex_len, want;
    const char  *colon, *enc;

    if (digest == NULL) {
        return blobstore__error(err, BLOBSTORE_EINVAL, 0, "no digest");
    }

    colon = strchr(digest, ':');
    if (colon == NULL || colon == digest || colon[1] == '\0'
        || strlen(digest) > 1024)
    {
        return blobstore__error(err, BLOBSTORE_EINVAL, 0,
                                "invalid digest");
    }

    alg_len = colon - digest;
    enc = colon + 1;

    for (i = 0; i < alg_len; i++) {
        if (!is_alg_char((unsigned char) digest[i])) {
            return blobstore__error(err, BLOBSTORE_EINVAL, 0,
                                    "invalid digest");
        }

        if (!is_lower_alnum((unsigned char) digest[i])
            && (i == 0 || i == alg_len - 1
                || !is_lower_alnum((unsigned char) digest[i - 1])))
        {
            return blobstore__error(err, BLOBSTORE_EINVAL, 0,
                                    "invalid digest");
        }
    }

    for (i = 0; enc[i] != '\0'; i++) {
        if (!is_enc_char((unsigned char) enc[i])) {
            return blobstore__error(err, BLOBSTORE_EINVAL, 0,
                                    "invalid digest");
        }
    }

    hex_len = i;

    if (alg_len == 6 && memcmp(digest, "sha256", 6) == 0) {
        want = 64;

    } else if (alg_len == 6 && memcmp(digest, "sha512", 6) == 0) {
        want = 128;

    } else {
        return blobstore__error(err, BLOBSTORE_EUNSUPPORTED, 0,
                                "unsupported digest algorithm");
    }

    if (hex_len != want) {
        return blobstore__error(err, BLOBSTORE_EINVAL, 0,
                                "invalid digest length");
    }

    for (i = 0; i < hex_len; i++) {
        if (!is_lower_hex((unsigned char) enc[i])) {
            return blobstore__error(err, BLOBSTORE_EINVAL, 0,
                                    "invalid digest");
        }
    }

    if (out != NULL) {
        out->alg = (want == 64) ? BLOBSTORE__SHA256 : BLOBSTORE__SHA512;
        memcpy(out->alg_name, digest, 6);
        out->alg_name[6] = '\0';
        memcpy(out->hex, enc, hex_len + 1);
        memcpy(out->full, digest, alg_len + 1 + hex_len + 1);
    }

    return BLOBSTORE_OK;
}


int
blobstore__uuid_valid(const char *uuid)
{
    size_t  i;

    if (uuid == NULL) {
        return 0;
    }

    for (i = 0; i < BLOBSTORE_UUID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (uuid[i] != '-') {
                return 0;
            }

            continue;
        }

        if (!is_lower_hex((unsigned char) uuid[i])) {
            return 0;
        }
    }

    return uuid[BLOBSTORE_UUID_LEN] == '\0';
}


int
blobstore__check_repo(const char *repo, blobstore_error_t *err)
{
    if (blobstore_name_valid(repo) != BLOBSTORE_OK) {
        return blobstore__error(err, BLOBSTORE_EINVAL, 0,
                                "invalid repository name");
    }

    return BLOBSTORE_OK;
}
