
/*
 * Copyright (C) Hephaestus developers
 */


#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blobstore_int.h"


static void error_vset(blobstore_error_t *err, int code, int sys_errno,
    const char *fmt, va_list ap);
static int read_boot_id(unsigned char *boot);


BLOBSTORE_EXTERN(int)
blobstore_open(blobstore_t **out, const char *root,
    const blobstore_options_t *opts, blobstore_error_t *err)
{
    size_t        len;
    blobstore_t  *bs;
    unsigned int  ttl;

    blobstore__error_clear(err);
    *out = NULL;

    if (opts != NULL
        && opts->version != 1 && opts->version != BLOBSTORE_OPTIONS_VERSION)
    {
        return blobstore__error(err, BLOBSTORE_EINVAL, 0,
                                "unknown options version %u",
                                opts->version);
    }

    if (root == NULL || root[0] == '\0') {
        return blobstore__error(err, BLOBSTORE_EINVAL, 0, "empty root");
    }

    len = strlen(root);
    while (len > 1 && root[len - 1] == '/') {
        len--;
    }

    if (len > BLOBSTORE__ROOT_MAX) {
        return blobstore__error(err, BLOBSTORE_EINVAL, 0, "root too long");
    }

    bs = calloc(1, sizeof(blobstore_t));
    if (bs == NULL) {
        return blobstore__error(err, BLOBSTORE_ENOMEM, ENOMEM,
                                "out of memory");
    }

    bs->fsync = (opts == NULL) ? 1 : opts->fsync;
    bs->root_len = len + sizeof("/docker/registry/v2") - 1;
    bs->root = malloc(bs->root_len + 1);
    if (bs->root == NULL) {
        free(bs);
        return blobstore__error(err, BLOBSTORE_ENOMEM, ENOMEM,
                                "out of memory");
    }

    memcpy(bs->root, root, len);
    memcpy(bs->root + len, "/docker/registry/v2",
           sizeof("/docker/registry/v2"));
    if (len == 1 && root[0] == '/') {
        /* the file system root itself: avoid a double slash */
        memmove(bs->root, bs->root + 1, bs->root_len);
        bs->root_len--;
    }

    bs->boot_known = read_boot_id(bs->boot);

    ttl = (opts == NULL || opts->version < 2) ? BLOBSTORE_CATALOG_TTL
                                               : opts->catalog_ttl;

    if (blobstore__catalog_init(bs, ttl) != BLOBSTORE_OK) {
        free(bs->root);
        free(bs);
        return blobstore__error(err, BLOBSTORE_ENOMEM, ENOMEM,
                                "out of memory");
    }

    blobstore__mcache_init(bs);

    *out = bs;
    return BLOBSTORE_OK;
}


/*
 * The kernel's id for this boot (Linux): upload data that was not flushed
 * is trusted only within the boot that wrote it, see upload.c.  Without
 * one every append is flushed.
 */

static int
read_boot_id(unsigned char *boot)
{
    int      fd, v;
    char     text[64];
    size_t   i, k;
    ssize_t  n;

    fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }

    n = read(fd, text, sizeof(text) - 1);
    close(fd);

    if (n <= 0) {
        return 0;
    }

    memset(boot, 0, 16);
    k = 0;

    for (i = 0; i < (size_t) n && k < 32; i++) {
        if (text[i] >= '0' && text[i] <= '9') {
            v = text[i] - '0';

        } else if (text[i] >= 'a' && text[i] <= 'f') {
            v = text[i] - 'a' + 10;

        } else {
            continue;
        }

        boot[k / 2] |= (unsigned char) ((k % 2) ? v : v << 4);
        k++;
    }

    return k == 32;
}


BLOBSTORE_EXTERN(void)
blobstore_close(blobstore_t *bs)
{
    if (bs == NULL) {
        return;
    }

    blobstore__catalog_free(bs);
    blobstore__mcache_free(bs);
    free(bs->root);
    free(bs);
}


BLOBSTORE_EXTERN(const char *)
blobstore_strerror(int code)
{
    switch (code) {
    case BLOBSTORE_OK:
        return "success";
    case BLOBSTORE_ENOTFOUND:
        return "not found";
    case BLOBSTORE_EINVAL:
        return "invalid argument";
    case BLOBSTORE_EUNSUPPORTED:
        return "unsupported digest algorithm";
    case BLOBSTORE_EDIGEST:
        return "content does not match digest";
    case BLOBSTORE_ERANGE:
        return "upload offset is not the current size";
    case BLOBSTORE_EBUSY:
        return "upload in use";
    case BLOBSTORE_EMANIFEST:
        return "manifest invalid";
    case BLOBSTORE_EBLOBUNKNOWN:
        return "manifest refers to an unknown blob";
    case BLOBSTORE_ETOOBIG:
        return "manifest too big";
    case BLOBSTORE_ENOSPC:
        return "no space left on device";
    case BLOBSTORE_EIO:
        return "input/output error";
    case BLOBSTORE_ENOMEM:
        return "out of memory";
    case BLOBSTORE_EAGAIN:
        return "would block";
    default:
        return "unknown error";
    }
}


BLOBSTORE_EXTERN(void)
blobstore_free(void *p)
{
    free(p);
}


void
blobstore__error_clear(blobstore_error_t *err)
{
    if (err == NULL) {
        return;
    }

    err->code = BLOBSTORE_OK;
    err->sys_errno = 0;
    err->message[0] = '\0';
    err->detail[0] = '\0';
}


int
blobstore__error(blobstore_error_t *err, int code, int sys_errno,
    const char *fmt, ...)
{
    va_list  ap;

    va_start(ap, fmt);
    error_vset(err, code, sys_errno, fmt, ap);
    va_end(ap);

    return code;
}


int
blobstore__sys_error(blobstore_error_t *err, int sys_errno,
    const char *fmt, ...)
{
    int      code;
    va_list  ap;

    switch (sys_errno) {
    case ENOSPC:
    case EDQUOT:
        code = BLOBSTORE_ENOSPC;
        break;
    case ENOMEM:
        code = BLOBSTORE_ENOMEM;
        break;
    default:
        code = BLOBSTORE_EIO;
    }

    va_start(ap, fmt);
    error_vset(err, code, sys_errno, fmt, ap);
    va_end(ap);

    return code;
}


static void
error_vset(blobstore_error_t *err, int code, int sys_errno,
    const char *fmt, va_list ap)
{
    char        buf[128];
    size_t      len;
    const char  *text;

    if (err == NULL) {
        return;
    }

    err->code = code;
    err->sys_errno = sys_errno;
    vsnprintf(err->message, sizeof(err->message), fmt, ap);

    if (sys_errno != 0) {
        text = strerror_r(sys_errno, buf, sizeof(buf));
        len = strlen(err->message);
        snprintf(err->message + len, sizeof(err->message) - len, ": %s",
                 text);
    }
}


int
blobstore__path(char *buf, const blobstore_t *bs, blobstore_error_t *err,
    const char *fmt, ...)
{
    int      n;
    va_list  ap;

    memcpy(buf, bs->root, bs->root_len);

    va_start(ap, fmt);
    n = vsnprintf(buf + bs->root_len, BLOBSTORE__PATH_MAX - bs->root_len,
                  fmt, ap);
    va_end(ap);

    if (n < 0 || (size_t) n >= BLOBSTORE__PATH_MAX - bs->root_len) {
        return blobstore__error(err, BLOBSTORE_EINVAL, 0, "path too long");
    }

    return BLOBSTORE_OK;
}
