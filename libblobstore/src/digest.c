
/*
 * Copyright (C) Hephaestus developers
 */


#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blobstore_int.h"


#define HASH_BUF_SIZE  (1024 * 1024)


/*
 * The low-level SHA256_CTX API is used on purpose: the context is a plain
 * struct that an upload session saves to disk and resumes later, so a
 * blob sent in many chunks is hashed once, chunk by chunk.
 */

void
blobstore__hash_init(blobstore__hash_t *h, int alg)
{
    memset(h, 0, sizeof(blobstore__hash_t));
    h->alg = alg;

    if (alg == BLOBSTORE__SHA512) {
        SHA512_Init(&h->ctx.sha512);

    } else {
        h->alg = BLOBSTORE__SHA256;
        SHA256_Init(&h->ctx.sha256);
    }
}


void
blobstore__hash_update(blobstore__hash_t *h, const void *data, size_t len)
{
    if (h->alg == BLOBSTORE__SHA512) {
        SHA512_Update(&h->ctx.sha512, data, len);

    } else {
        SHA256_Update(&h->ctx.sha256, data, len);
    }
}


/*
 * Finalizes a copy, so h itself can go on hashing.
 */

void
blobstore__hash_final(blobstore__digest_t *out, const blobstore__hash_t *h)
{
    size_t             i, n;
    unsigned char      md[SHA512_DIGEST_LENGTH];
    blobstore__hash_t  copy;
    static const char  hex[] = "0123456789abcdef";

    copy = *h;

    if (h->alg == BLOBSTORE__SHA512) {
        SHA512_Final(md, &copy.ctx.sha512);
        n = SHA512_DIGEST_LENGTH;
        memcpy(out->alg_name, "sha512", 7);

    } else {
        SHA256_Final(md, &copy.ctx.sha256);
        n = SHA256_DIGEST_LENGTH;
        memcpy(out->alg_name, "sha256", 7);
    }

    out->alg = h->alg;

    for (i = 0; i < n; i++) {
        out->hex[2 * i] = hex[md[i] >> 4];
        out->hex[2 * i + 1] = hex[md[i] & 0x0f];
    }

    out->hex[2 * n] = '\0';

    memcpy(out->full, out->alg_name, 6);
    out->full[6] = ':';
    memcpy(out->full + 7, out->hex, 2 * n + 1);
}


void
blobstore__hash_buf(blobstore__digest_t *out, int alg, const void *data,
    size_t len)
{
    blobstore__hash_t  h;

    blobstore__hash_init(&h, alg);
    blobstore__hash_update(&h, data, len);
    blobstore__hash_final(out, &h);
}


/*
 * Hashes len bytes of fd from offset 0 (len -1: to the end of file).
 */

int
blobstore__hash_fd(blobstore__digest_t *out, int alg, int fd, int64_t len,
    blobstore_error_t *err)
{
    int                rc;
    blobstore__hash_t  h;

    rc = blobstore__hash_fd_ctx(&h, alg, fd, len, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    blobstore__hash_final(out, &h);
    return BLOBSTORE_OK;
}


/* The same, leaving the context open in *h. */

int
blobstore__hash_fd_ctx(blobstore__hash_t *h, int alg, int fd, int64_t len,
    blobstore_error_t *err)
{
    int             rc;
    off_t           pos;
    size_t          want;
    ssize_t         n;
    unsigned char  *buf;

    buf = malloc(HASH_BUF_SIZE);
    if (buf == NULL) {
        return blobstore__error(err, BLOBSTORE_ENOMEM, ENOMEM,
                                "out of memory");
    }

    blobstore__hash_init(h, alg);
    pos = 0;
    rc = BLOBSTORE_OK;

    while (len < 0 || pos < len) {
        want = HASH_BUF_SIZE;
        if (len >= 0 && (int64_t) want > len - pos) {
            want = (size_t) (len - pos);
        }

        n = pread(fd, buf, want, pos);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }

            rc = blobstore__sys_error(err, errno, "pread() failed");
            goto cleanup;
        }

        if (n == 0) {
            if (len >= 0) {
                rc = blobstore__error(err, BLOBSTORE_EIO, 0,
                                      "file shorter than expected");
                goto cleanup;
            }

            break;
        }

        blobstore__hash_update(h, buf, (size_t) n);
        pos += n;
    }

cleanup:

    free(buf);
    return rc;
}
