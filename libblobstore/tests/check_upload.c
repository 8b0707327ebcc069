
/*
 * Copyright (C) Hephaestus developers
 */


#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_fixture.h"
#include "../src/blobstore_int.h"


/* where heph-state keeps its flags: after magic, offset and ctx_size */
#define STATE_FLAGS_AT  20
#define STATE_UNFLUSHED  0x1


static void session_rel(char *out, size_t size, const char *uuid,
    const char *file);
static void start(char *uuid);
static void edit_state(const char *uuid, int flip_boot, int make_v1);
static uint32_t state_flags(const char *uuid);
static void mark_foreign(const char *uuid);
static void cut_data(const char *uuid, const char *content, size_t len);
static void data_replace(const char *uuid, const char *link_to);
static blobstore_t *open_store(int shared, int fsync);


static void
session_rel(char *out, size_t size, const char *uuid, const char *file)
{
    snprintf(out, size, "repositories/r/_uploads/%s%s%s", uuid,
             file ? "/" : "", file ? file : "");
}


static void
start(char *uuid)
{
    ck_assert_int_eq(blobstore_upload_start(uuid, fx.bs, "r", NULL),
                     BLOBSTORE_OK);
}


START_TEST(test_upload_start)
{
    int                i;
    char               uuid[BLOBSTORE_UUID_LEN + 1], other[40], rel[200];
    char               buf[100];
    int64_t            size;
    blobstore_error_t  err;

    start(uuid);
    ck_assert_uint_eq(strlen(uuid), BLOBSTORE_UUID_LEN);

    for (i = 0; i < BLOBSTORE_UUID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            ck_assert_int_eq(uuid[i], '-');

        } else {
            ck_assert(strchr("0123456789abcdef", uuid[i]) != NULL);
        }
    }

    ck_assert_int_eq(uuid[14], '4');

    session_rel(rel, sizeof(rel), uuid, "data");
    ck_assert(fx_exists(rel));
    session_rel(rel, sizeof(rel), uuid, "heph-state");
    ck_assert(fx_exists(rel));
    session_rel(rel, sizeof(rel), uuid, "startedat");
    ck_assert_uint_eq(fx_read(buf, sizeof(buf), rel), 20);
    ck_assert_int_eq(buf[10], 'T');
    ck_assert_int_eq(buf[19], 'Z');

    ck_assert_int_eq(blobstore_upload_status(&size, fx.bs, "r", uuid, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(size, 0);

    start(other);
    ck_assert_str_ne(uuid, other);

    ck_assert_int_eq(blobstore_upload_start(other, fx.bs, "R", &err),
                     BLOBSTORE_EINVAL);
}
END_TEST


START_TEST(test_upload_append_status)
{
    char               uuid[BLOBSTORE_UUID_LEN + 1];
    int64_t            size;
    blobstore_error_t  err;

    start(uuid);

    ck_assert_int_eq(blobstore_upload_append(&size, fx.bs, "r", uuid, 0,
                                             "abc", 3, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(size, 3);
    ck_assert_int_eq(blobstore_upload_append(&size, fx.bs, "r", uuid, -1,
                                             "defg", 4, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(size, 7);
    ck_assert_int_eq(blobstore_upload_append(NULL, fx.bs, "r", uuid, 7,
                                             "", 0, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_upload_status(&size, fx.bs, "r", uuid, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(size, 7);

    /* the session belongs to its repository */
    ck_assert_int_eq(blobstore_upload_status(&size, fx.bs, "other", uuid,
                                             &err),
                     BLOBSTORE_ENOTFOUND);
    ck_assert_int_eq(blobstore_upload_status(&size, fx.bs, "r",
                         "00000000-0000-4000-8000-000000000000", &err),
                     BLOBSTORE_ENOTFOUND);
    ck_assert_int_eq(blobstore_upload_status(&size, fx.bs, "r",
                         "../../../../etc", &err),
                     BLOBSTORE_EINVAL);
    ck_assert_int_eq(blobstore_upload_status(&size, fx.bs, "r",
                         "0000000A-0000-4000-8000-000000000000", &err),
                     BLOBSTORE_EINVAL);
}
END_TEST


START_TEST(test_upload_erange)
{
    char               uuid[BLOBSTORE_UUID_LEN + 1];
    int64_t            size;
    blobstore_error_t  err;

    start(uuid);

    ck_assert_int_eq(blobstore_upload_append(&size, fx.bs, "r", uuid, 0,
                                             "abc", 3, &err),
                     BLOBSTORE_OK);

    size = -5;
    ck_assert_int_eq(blobstore_upload_append(&size, fx.bs, "r", uuid, 5,
                                             "xyz", 3, &err),
                     BLOBSTORE_ERANGE);
    ck_assert_int_eq(size, 3);
    ck_assert_int_eq(err.code, BLOBSTORE_ERANGE);

    ck_assert_int_eq(blobstore_upload_append(&size, fx.bs, "r", uuid, 0,
                                             "xyz", 3, &err),
                     BLOBSTORE_ERANGE);
    ck_assert_int_eq(blobstore_upload_status(&size, fx.bs, "r", uuid, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(size, 3);
}
END_TEST


START_TEST(test_upload_ebusy)
{
    int                fd;
    char               uuid[BLOBSTORE_UUID_LEN + 1], rel[200], path[4096];
    char               d[80];
    int64_t            size;
    blobstore_error_t  err;

    start(uuid);
    fx_sha256(d, "", 0);

    session_rel(rel, sizeof(rel), uuid, NULL);
    fx_path(path, sizeof(path), rel);
    fd = open(path, O_RDONLY | O_DIRECTORY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(flock(fd, LOCK_EX | LOCK_NB), 0);

    ck_assert_int_eq(blobstore_upload_append(&size, fx.bs, "r", uuid, -1,
                                             "abc", 3, &err),
                     BLOBSTORE_EBUSY);
    ck_assert_int_eq(blobstore_upload_commit(fx.bs, "r", uuid, d, &err),
                     BLOBSTORE_EBUSY);
    ck_assert_int_eq(blobstore_upload_cancel(fx.bs, "r", uuid, &err),
                     BLOBSTORE_EBUSY);

    /* reading the size needs no lock */
    ck_assert_int_eq(blobstore_upload_status(&size, fx.bs, "r", uuid, &err),
                     BLOBSTORE_OK);

    close(fd);

    ck_assert_int_eq(blobstore_upload_append(&size, fx.bs, "r", uuid, -1,
                                             "abc", 3, &err),
                     BLOBSTORE_OK);
}
END_TEST


START_TEST(test_upload_commit)
{
    char               uuid[BLOBSTORE_UUID_LEN + 1], d[80], rel[300];
    char               buf[300];
    int64_t            size;
    blobstore_error_t  err;

    start(uuid);
    fx_sha256(d, "hello world", 11);

    ck_assert_int_eq(blobstore_upload_append(&size, fx.bs, "r", uuid, -1,
                                             "hello ", 6, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_upload_append(&size, fx.bs, "r", uuid, -1,
                                             "world", 5, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_upload_commit(fx.bs, "r", uuid, d, &err),
                     BLOBSTORE_OK);

    snprintf(rel, sizeof(rel), "blobs/sha256/%.2s/%s/data", d + 7, d + 7);
    ck_assert_uint_eq(fx_read(buf, sizeof(buf), rel), 11);
    ck_assert_str_eq(buf, "hello world");

    snprintf(rel, sizeof(rel), "repositories/r/_layers/sha256/%s/link",
             d + 7);
    ck_assert_uint_eq(fx_read(buf, sizeof(buf), rel), 71);
    ck_assert_str_eq(buf, d);

    session_rel(rel, sizeof(rel), uuid, NULL);
    ck_assert(!fx_exists(rel));
    ck_assert_int_eq(blobstore_upload_status(&size, fx.bs, "r", uuid, &err),
                     BLOBSTORE_ENOTFOUND);
    ck_assert_int_eq(blobstore_upload_commit(fx.bs, "r", uuid, d, &err),
                     BLOBSTORE_ENOTFOUND);
}
END_TEST


START_TEST(test_upload_commit_sha512)
{
    char               uuid[BLOBSTORE_UUID_LEN + 1], d[200];
    int64_t            size;
    blobstore_info_t   info;
    blobstore_error_t  err;

    start(uuid);
    fx_sha512(d, "sha512 data", 11);

    ck_assert_int_eq(blobstore_upload_append(&size, fx.bs, "r", uuid, -1,
                                             "sha512 data", 11, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_upload_commit(fx.bs, "r", uuid, d, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_blob_stat(&info, fx.bs, "r", d, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(info.size, 11);
    ck_assert_str_eq(info.digest, d);
}
END_TEST


START_TEST(test_upload_commit_wrong_digest)
{
    char               uuid[BLOBSTORE_UUID_LEN + 1], d[200], wrong[200];
    int64_t            size;
    blobstore_error_t  err;

    start(uuid);
    fx_sha256(d, "abc", 3);
    fx_sha256(wrong, "abd", 3);

    ck_assert_int_eq(blobstore_upload_append(&size, fx.bs, "r", uuid, -1,
                                             "abc", 3, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_upload_commit(fx.bs, "r", uuid, wrong, &err),
                     BLOBSTORE_EDIGEST);
    ck_assert_int_eq(err.code, BLOBSTORE_EDIGEST);

    fx_sha512(wrong, "abd", 3);
    ck_assert_int_eq(blobstore_upload_commit(fx.bs, "r", uuid, wrong, &err),
                     BLOBSTORE_EDIGEST);
    ck_assert_int_eq(blobstore_upload_commit(fx.bs, "r", uuid,
                                             "md5:abc", &err),
                     BLOBSTORE_EUNSUPPORTED);
    ck_assert_int_eq(blobstore_upload_commit(fx.bs, "r", uuid,
                                             "sha256:abc", &err),
                     BLOBSTORE_EINVAL);

    ck_assert_int_eq(blobstore_upload_status(&size, fx.bs, "r", uuid, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(size, 3);
    ck_assert_int_eq(blobstore_blob_stat(NULL, fx.bs, "r", wrong, &err),
                     BLOBSTORE_ENOTFOUND);

    ck_assert_int_eq(blobstore_upload_commit(fx.bs, "r", uuid, d, &err),
                     BLOBSTORE_OK);
}
END_TEST


START_TEST(test_upload_cancel)
{
    char               uuid[BLOBSTORE_UUID_LEN + 1], rel[200];
    int64_t            size;
    blobstore_error_t  err;

    start(uuid);
    ck_assert_int_eq(blobstore_upload_append(&size, fx.bs, "r", uuid, -1,
                                             "abc", 3, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_upload_cancel(fx.bs, "r", uuid, &err),
                     BLOBSTORE_OK);

    session_rel(rel, sizeof(rel), uuid, NULL);
    ck_assert(!fx_exists(rel));
    ck_assert_int_eq(blobstore_upload_status(&size, fx.bs, "r", uuid, &err),
                     BLOBSTORE_ENOTFOUND);
    ck_assert_int_eq(blobstore_upload_append(&size, fx.bs, "r", uuid, -1,
                                             "abc", 3, &err),
                     BLOBSTORE_ENOTFOUND);
    ck_assert_int_eq(blobstore_upload_cancel(fx.bs, "r", uuid, &err),
                     BLOBSTORE_ENOTFOUND);
}
END_TEST


/*
 * A crash between writing data and replacing the state leaves data
 * longer than the state says: the extra bytes must not count.
 */

/*
 * Rewrites a session's heph-state as another boot would find it (the
 * boot id, its last 16 bytes, changed), or as version 1 wrote it.
 */

static void
edit_state(const char *uuid, int flip_boot, int make_v1)
{
    int            fd;
    char           rel[200], path[4096];
    size_t         i;
    ssize_t        n;
    unsigned char  buf[512];

    session_rel(rel, sizeof(rel), uuid, "heph-state");
    fx_path(path, sizeof(path), rel);
    fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    n = pread(fd, buf, sizeof(buf), 0);
    ck_assert_int_gt(n, 16);
    ck_assert_int_eq(memcmp(buf, "HEPHUP02", 8), 0);

    if (flip_boot) {
        for (i = (size_t) n - 16; i < (size_t) n; i++) {
            buf[i] ^= 0xff;
        }
    }

    if (make_v1) {
        memcpy(buf, "HEPHUP01", 8);
        n -= 16;
    }

    ck_assert_int_eq(ftruncate(fd, 0), 0);
    ck_assert_int_eq(pwrite(fd, buf, (size_t) n, 0), n);
    close(fd);
}


static uint32_t
state_flags(const char *uuid)
{
    int       fd;
    char      rel[200], path[4096];
    uint32_t  flags;

    session_rel(rel, sizeof(rel), uuid, "heph-state");
    fx_path(path, sizeof(path), rel);
    fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, &flags, sizeof(flags), STATE_FLAGS_AT),
                     (ssize_t) sizeof(flags));
    close(fd);

    return flags;
}


/*
 * Makes a session's state one that counts bytes left unflushed in
 * another boot, whatever the file system of the test.
 */

static void
mark_foreign(const char *uuid)
{
    int       fd;
    char      rel[200], path[4096];
    uint32_t  flags;

    flags = state_flags(uuid) | STATE_UNFLUSHED;

    session_rel(rel, sizeof(rel), uuid, "heph-state");
    fx_path(path, sizeof(path), rel);
    fd = open(path, O_WRONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, &flags, sizeof(flags), STATE_FLAGS_AT),
                     (ssize_t) sizeof(flags));
    close(fd);

    edit_state(uuid, 1, 0);
}


/* Makes a session's data file hold content, as a crash may leave it. */

static void
cut_data(const char *uuid, const char *content, size_t len)
{
    int   fd;
    char  rel[200], path[4096];

    session_rel(rel, sizeof(rel), uuid, "data");
    fx_path(path, sizeof(path), rel);
    fd = open(path, O_WRONLY | O_TRUNC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, content, len), (ssize_t) len);
    close(fd);
}


/*
 * Replaces a session's data file by a symbolic link to link_to, or by a
 * folder when link_to is NULL.
 */

static void
data_replace(const char *uuid, const char *link_to)
{
    char  rel[200], path[4096];

    session_rel(rel, sizeof(rel), uuid, "data");
    fx_path(path, sizeof(path), rel);
    ck_assert_int_eq(unlink(path), 0);

    if (link_to != NULL) {
        ck_assert_int_eq(symlink(link_to, path), 0);

    } else {
        ck_assert_int_eq(mkdir(path, 0755), 0);
    }
}


/*
 * Another handle on the fixture's store: with shared, as on a network
 * file system, where appends are flushed and the state is not marked.
 */

static blobstore_t *
open_store(int shared, int fsync)
{
    blobstore_t          *bs;
    blobstore_options_t   opts = BLOBSTORE_OPTIONS_INIT;

    opts.fsync = fsync;
    ck_assert_int_eq(blobstore_open(&bs, fx.dir, &opts, NULL),
                     BLOBSTORE_OK);
    bs->fs_shared = shared;

    return bs;
}


/*
 * Appends are not flushed: after a machine stop (another boot id in the
 * state) the session is what its data file holds, so bytes the disk
 * lost are asked for again and never published.
 */

START_TEST(test_upload_crash_reboot)
{
    char               uuid[BLOBSTORE_UUID_LEN + 1], d[80];
    int64_t            size;
    blobstore_error_t  err;

    /* the end lost */

    start(uuid);
    ck_assert_int_eq(blobstore_upload_append(&size, fx.bs, "r", uuid, -1,
                                             "hello ", 6, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_upload_append(&size, fx.bs, "r", uuid, -1,
                                             "world", 5, &err),
                     BLOBSTORE_OK);
    cut_data(uuid, "hello wo", 8);
    edit_state(uuid, 1, 0);

    ck_assert_int_eq(blobstore_upload_status(&size, fx.bs, "r", uuid, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(size, 8);
    ck_assert_int_eq(blobstore_upload_append(&size, fx.bs, "r", uuid, 11,
                                             "!", 1, &err),
                     BLOBSTORE_ERANGE);
    ck_assert_int_eq(size, 8);
    ck_assert_int_eq(blobstore_upload_append(&size, fx.bs, "r", uuid, 8,
                                             "rld", 3, &err),
                     BLOBSTORE_OK);
    fx_sha256(d, "hello world", 11);
    ck_assert_int_eq(blobstore_upload_commit(fx.bs, "r", uuid, d, &err),
                     BLOBSTORE_OK);

    /* the middle lost: the sizes agree, the content does not */

    start(uuid);
    ck_assert_int_eq(blobstore_upload_append(&size, fx.bs, "r", uuid, -1,
                                             "hello there", 11, &err),
                     BLOBSTORE_OK);
    cut_data(uuid, "hello\0\0\0\0\0\0", 11);
    edit_state(uuid, 1, 0);

    fx_sha256(d, "hello there", 11);
    ck_assert_int_eq(blobstore_upload_commit(fx.bs, "r", uuid, d, &err),
                     BLOBSTORE_EDIGEST);
    ck_assert_int_eq(blobstore_blob_stat(NULL, fx.bs, "r", d, &err),
                     BLOBSTORE_ENOTFOUND);
    ck_assert_int_eq(blobstore_upload_status(&size, fx.bs, "r", uuid, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(size, 11);
}
END_TEST


/* A session written by version 1 (always flushed) goes on. */

START_TEST(test_upload_state_v1)
{
    char               uuid[BLOBSTORE_UUID_LEN + 1], d[80];
    int64_t            size;
    blobstore_error_t  err;

    start(uuid);
    ck_assert_int_eq(blobstore_upload_append(&size, fx.bs, "r", uuid, -1,
                                             "old ", 4, &err),
                     BLOBSTORE_OK);
    edit_state(uuid, 0, 1);

    ck_assert_int_eq(blobstore_upload_status(&size, fx.bs, "r", uuid, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(size, 4);
    ck_assert_int_eq(blobstore_upload_append(&size, fx.bs, "r", uuid, 4,
                                             "state", 5, &err),
                     BLOBSTORE_OK);
    fx_sha256(d, "old state", 9);
    ck_assert_int_eq(blobstore_upload_commit(fx.bs, "r", uuid, d, &err),
                     BLOBSTORE_OK);
}
END_TEST


/*
 * Which file systems are taken as written by this kernel alone, so that
 * appends may be left unflushed under its boot id.
 */

START_TEST(test_upload_fs_local)
{
    struct statfs  st;

    ck_assert(blobstore__fs_local(0xef53));         /* ext4 */
    ck_assert(blobstore__fs_local(0x58465342));     /* xfs */
    ck_assert(blobstore__fs_local(0x9123683e));     /* btrfs */
    ck_assert(blobstore__fs_local(0x01021994));     /* tmpfs */
    ck_assert(!blobstore__fs_local(0x6969));        /* nfs */
    ck_assert(!blobstore__fs_local(0xff534d42));    /* cifs */
    ck_assert(!blobstore__fs_local(0xfe534d42));    /* smb2 */
    ck_assert(!blobstore__fs_local(0x00c36400));    /* ceph */
    ck_assert(!blobstore__fs_local(0x65735546));    /* fuse */
    ck_assert(!blobstore__fs_local(0x01021997));    /* 9p */
    ck_assert(!blobstore__fs_local(0x01161970));    /* gfs2 */
    ck_assert(!blobstore__fs_local(0x7461636f));    /* ocfs2 */
    ck_assert(!blobstore__fs_local(0));

    if (statfs("/dev/shm", &st) == 0 && st.f_type == 0x01021994) {
        ck_assert(blobstore__fs_local((uint32_t) st.f_type));
    }
}
END_TEST


/*
 * On a shared file system (another machine, another boot id) appends
 * are flushed and leave no mark, so the next machine trusts the state
 * instead of hashing the whole session again: the test changes the
 * data behind the state's back to see that it is not read.  A flushed
 * append also clears the mark of appends this boot left unflushed.
 */

START_TEST(test_upload_shared_fs)
{
    int                expect;
    char               uuid[BLOBSTORE_UUID_LEN + 1], d[80];
    int64_t            size;
    blobstore_t       *bs, *other;
    struct statfs      st;
    blobstore_error_t  err;

    bs = open_store(1, 1);
    other = open_store(1, 1);
    other->boot[0] ^= 0xff;

    ck_assert_int_eq(blobstore_upload_start(uuid, bs, "r", &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_upload_append(&size, bs, "r", uuid, 0,
                                             "hello ", 6, &err),
                     BLOBSTORE_OK);
    ck_assert_uint_eq(state_flags(uuid), 0);

    cut_data(uuid, "HELLO ", 6);
    ck_assert_int_eq(blobstore_upload_append(&size, other, "r", uuid, 6,
                                             "world", 5, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(size, 11);
    ck_assert_uint_eq(state_flags(uuid), 0);

    fx_sha256(d, "hello world", 11);
    ck_assert_int_eq(blobstore_upload_commit(bs, "r", uuid, d, &err),
                     BLOBSTORE_OK);

    /* a local file system: marked, then a flushed append clears it */

    ck_assert_int_eq(statfs(fx.dir, &st), 0);
    expect = fx.bs->boot_known && blobstore__fs_local((uint32_t) st.f_type);

    start(uuid);
    ck_assert_int_eq(blobstore_upload_append(&size, fx.bs, "r", uuid, 0,
                                             "a", 1, &err),
                     BLOBSTORE_OK);
    ck_assert_uint_eq(state_flags(uuid), expect ? STATE_UNFLUSHED : 0);
    ck_assert_int_eq(blobstore_upload_append(&size, bs, "r", uuid, 1,
                                             "b", 1, &err),
                     BLOBSTORE_OK);
    ck_assert_uint_eq(state_flags(uuid), 0);

    blobstore_close(bs);
    blobstore_close(other);
}
END_TEST


/*
 * A failed flush of a session's data drops the session: the kernel
 * reports a write error once, so a retried commit would succeed and
 * publish bytes the disk may not hold.  fdatasync() of /dev/null, as the
 * data file, fails (EINVAL) where a disk's would (EIO).
 */

START_TEST(test_upload_flush_failed)
{
    int                fd;
    char               uuid[BLOBSTORE_UUID_LEN + 1], tmpl[64], d[80];
    char               rel[200];
    int64_t            size;
    blobstore_t       *bs;
    blobstore_error_t  err;

    bs = open_store(1, 1);

    /* an append that flushes */

    ck_assert_int_eq(blobstore_upload_start(uuid, bs, "r", &err),
                     BLOBSTORE_OK);
    data_replace(uuid, "/dev/null");
    ck_assert_int_eq(blobstore_upload_append(&size, bs, "r", uuid, 0,
                                             "abc", 3, &err),
                     BLOBSTORE_EIO);
    ck_assert_int_eq(err.sys_errno, EINVAL);
    ck_assert_int_eq(blobstore_upload_status(&size, bs, "r", uuid, &err),
                     BLOBSTORE_ENOTFOUND);
    session_rel(rel, sizeof(rel), uuid, NULL);
    ck_assert(!fx_exists(rel));

    /* a commit with its last chunk, then the same again */

    strcpy(tmpl, "/tmp/check-blobstore-src-XXXXXX");
    fd = mkstemp(tmpl);
    ck_assert_int_ge(fd, 0);
    unlink(tmpl);
    ck_assert_int_eq(write(fd, "abc", 3), 3);
    fx_sha256(d, "abc", 3);

    ck_assert_int_eq(blobstore_upload_start(uuid, bs, "r", &err),
                     BLOBSTORE_OK);
    data_replace(uuid, "/dev/null");
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    ck_assert_int_eq(blobstore_upload_commit_fd(bs, "r", uuid, 0, fd, NULL,
                                                3, d, &err),
                     BLOBSTORE_EIO);
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    ck_assert_int_eq(blobstore_upload_commit_fd(bs, "r", uuid, 0, fd, NULL,
                                                3, d, &err),
                     BLOBSTORE_ENOTFOUND);
    ck_assert_int_eq(blobstore_upload_commit(bs, "r", uuid, d, &err),
                     BLOBSTORE_ENOTFOUND);
    ck_assert_int_eq(blobstore_blob_stat(NULL, bs, "r", d, &err),
                     BLOBSTORE_ENOTFOUND);

    /* a commit of what the session holds */

    fx_sha256(d, "", 0);
    ck_assert_int_eq(blobstore_upload_start(uuid, bs, "r", &err),
                     BLOBSTORE_OK);
    data_replace(uuid, "/dev/null");
    ck_assert_int_eq(blobstore_upload_commit(bs, "r", uuid, d, &err),
                     BLOBSTORE_EIO);
    ck_assert_int_eq(blobstore_upload_commit(bs, "r", uuid, d, &err),
                     BLOBSTORE_ENOTFOUND);
    ck_assert_int_eq(blobstore_blob_stat(NULL, bs, "r", d, &err),
                     BLOBSTORE_ENOTFOUND);

    close(fd);
    blobstore_close(bs);
}
END_TEST


/*
 * A session from another boot is cancelled without reading its data:
 * here the data cannot be read at all (a folder stands in its place).
 */

START_TEST(test_upload_cancel_suspect)
{
    char               uuid[BLOBSTORE_UUID_LEN + 1], rel[200];
    int64_t            size;
    blobstore_error_t  err;

    start(uuid);
    ck_assert_int_eq(blobstore_upload_append(&size, fx.bs, "r", uuid, 0,
                                             "abc", 3, &err),
                     BLOBSTORE_OK);
    mark_foreign(uuid);
    data_replace(uuid, NULL);

    /* what reads the data fails */
    ck_assert_int_eq(blobstore_upload_append(&size, fx.bs, "r", uuid, -1,
                                             "d", 1, &err),
                     BLOBSTORE_EIO);

    ck_assert_int_eq(blobstore_upload_cancel(fx.bs, "r", uuid, &err),
                     BLOBSTORE_OK);
    session_rel(rel, sizeof(rel), uuid, NULL);
    ck_assert(!fx_exists(rel));
    ck_assert_int_eq(blobstore_upload_status(&size, fx.bs, "r", uuid, &err),
                     BLOBSTORE_ENOTFOUND);
}
END_TEST


START_TEST(test_upload_crash_data_longer)
{
    int                fd;
    char               uuid[BLOBSTORE_UUID_LEN + 1], rel[200], path[4096];
    char               d[80];
    int64_t            size;
    blobstore_error_t  err;

    start(uuid);
    ck_assert_int_eq(blobstore_upload_append(&size, fx.bs, "r", uuid, -1,
                                             "hello", 5, &err),
                     BLOBSTORE_OK);

    session_rel(rel, sizeof(rel), uuid, "data");
    fx_path(path, sizeof(path), rel);
    fd = open(path, O_WRONLY | O_APPEND);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "GARBAGE", 7), 7);
    close(fd);

    ck_assert_int_eq(blobstore_upload_status(&size, fx.bs, "r", uuid, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(size, 5);

    ck_assert_int_eq(blobstore_upload_append(&size, fx.bs, "r", uuid, 5,
                                             " world", 6, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(size, 11);

    fd = open(path, O_WRONLY | O_APPEND);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "MORE", 4), 4);
    close(fd);

    fx_sha256(d, "hello world", 11);
    ck_assert_int_eq(blobstore_upload_commit(fx.bs, "r", uuid, d, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_blob_stat(NULL, fx.bs, "r", d, &err),
                     BLOBSTORE_OK);
}
END_TEST


START_TEST(test_upload_append_fd)
{
    int                fd, pipefd[2];
    char               uuid[BLOBSTORE_UUID_LEN + 1], tmpl[64], d[80];
    int64_t            size;
    blobstore_error_t  err;

    strcpy(tmpl, "/tmp/check-blobstore-src-XXXXXX");
    fd = mkstemp(tmpl);
    ck_assert_int_ge(fd, 0);
    unlink(tmpl);
    ck_assert_int_eq(write(fd, "0123456789", 10), 10);

    start(uuid);

    /* from the current position, len bytes */
    ck_assert_int_eq(lseek(fd, 2, SEEK_SET), 2);
    ck_assert_int_eq(blobstore_upload_append_fd(&size, fx.bs, "r", uuid, 0,
                                                fd, 3, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(size, 3);

    /* to end of file */
    ck_assert_int_eq(blobstore_upload_append_fd(&size, fx.bs, "r", uuid, 3,
                                                fd, -1, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(size, 8);

    /* a source shorter than promised fails and changes nothing */
    ck_assert_int_eq(lseek(fd, 8, SEEK_SET), 8);
    ck_assert_int_eq(blobstore_upload_append_fd(&size, fx.bs, "r", uuid, -1,
                                                fd, 5, &err),
                     BLOBSTORE_EIO);
    ck_assert_int_eq(blobstore_upload_status(&size, fx.bs, "r", uuid, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(size, 8);
    close(fd);

    ck_assert_int_eq(pipe(pipefd), 0);
    ck_assert_int_eq(write(pipefd[1], "ab", 2), 2);
    close(pipefd[1]);
    ck_assert_int_eq(blobstore_upload_append_fd(&size, fx.bs, "r", uuid, -1,
                                                pipefd[0], -1, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(size, 10);
    close(pipefd[0]);

    fx_sha256(d, "23456789ab", 10);
    ck_assert_int_eq(blobstore_upload_commit(fx.bs, "r", uuid, d, &err),
                     BLOBSTORE_OK);
}
END_TEST


START_TEST(test_upload_commit_fd_rollback)
{
    int                fd;
    char               uuid[BLOBSTORE_UUID_LEN + 1], tmpl[64], d[80];
    char               wrong[80];
    int64_t            size;
    blobstore_error_t  err;

    strcpy(tmpl, "/tmp/check-blobstore-src-XXXXXX");
    fd = mkstemp(tmpl);
    ck_assert_int_ge(fd, 0);
    unlink(tmpl);
    ck_assert_int_eq(write(fd, "defgh", 5), 5);

    start(uuid);
    ck_assert_int_eq(blobstore_upload_append(&size, fx.bs, "r", uuid, -1,
                                             "abc", 3, &err),
                     BLOBSTORE_OK);

    /* a last chunk with the wrong digest is taken back */
    fx_sha256(wrong, "abcdefgh!", 9);
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    ck_assert_int_eq(blobstore_upload_commit_fd(fx.bs, "r", uuid, -1, fd,
                                                NULL, 5, wrong, &err),
                     BLOBSTORE_EDIGEST);
    ck_assert_int_eq(blobstore_upload_status(&size, fx.bs, "r", uuid, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(size, 3);

    /* so is one at the wrong offset, before anything is read */
    fx_sha256(d, "abcdefgh", 8);
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    ck_assert_int_eq(blobstore_upload_commit_fd(fx.bs, "r", uuid, 5, fd,
                                                NULL, 5, d, &err),
                     BLOBSTORE_ERANGE);

    /* the same chunk with the right digest publishes the blob */
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    ck_assert_int_eq(blobstore_upload_commit_fd(fx.bs, "r", uuid, 3, fd,
                                                NULL, 5, d, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_blob_stat(NULL, fx.bs, "r", d, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_upload_status(&size, fx.bs, "r", uuid, &err),
                     BLOBSTORE_ENOTFOUND);
    close(fd);
}
END_TEST


/*
 * A whole body on the same file system is linked into an empty session,
 * not copied: the session's data, then the blob, is the caller's inode.
 */

START_TEST(test_upload_append_file_links)
{
    int                fd;
    char               uuid[BLOBSTORE_UUID_LEN + 1], tmpl[64], d[80];
    char               wrong[80], rel[160], path[512];
    int64_t            size;
    struct stat        src, st;
    blobstore_error_t  err;

    strcpy(tmpl, "/tmp/check-blobstore-body-XXXXXX");
    fd = mkstemp(tmpl);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "linked body", 11), 11);
    ck_assert_int_eq(fstat(fd, &src), 0);
    fx_sha256(d, "linked body", 11);
    fx_sha256(wrong, "other", 5);

    /* append: the session's data is now the body's inode */
    start(uuid);
    ck_assert_int_eq(blobstore_upload_append_file(&size, fx.bs, "r", uuid,
                                                  0, fd, tmpl, 11, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(size, 11);
    session_rel(rel, sizeof(rel), uuid, "data");
    fx_path(path, sizeof(path), rel);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_ino, src.st_ino);
    ck_assert_int_eq(blobstore_upload_commit(fx.bs, "r", uuid, d, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_blob_stat(NULL, fx.bs, "r", d, &err),
                     BLOBSTORE_OK);

    /* commit with the body: a wrong digest leaves the session empty */
    start(uuid);
    ck_assert_int_eq(blobstore_upload_commit_fd(fx.bs, "s", uuid, -1, fd,
                                                tmpl, 11, d, &err),
                     BLOBSTORE_ENOTFOUND);
    ck_assert_int_eq(blobstore_upload_commit_fd(fx.bs, "r", uuid, -1, fd,
                                                tmpl, 11, wrong, &err),
                     BLOBSTORE_EDIGEST);
    ck_assert_int_eq(blobstore_upload_status(&size, fx.bs, "r", uuid, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(size, 0);
    session_rel(rel, sizeof(rel), uuid, ".data-link");
    ck_assert(!fx_exists(rel));

    ck_assert_int_eq(blobstore_upload_commit_fd(fx.bs, "r", uuid, -1, fd,
                                                tmpl, 11, d, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_upload_status(&size, fx.bs, "r", uuid, &err),
                     BLOBSTORE_ENOTFOUND);

    unlink(tmpl);
    close(fd);
}
END_TEST


/*
 * Bytes hashed ahead are not read again: the test changes them behind
 * the state's back (which callers must not do) to see that the state is
 * used, and only for the file it hashed and an empty session.
 */

START_TEST(test_upload_ahead)
{
    int                 fd, fd2;
    char                uuid[BLOBSTORE_UUID_LEN + 1], tmpl[64], tmpl2[64];
    char                d[80], d2[80];
    int64_t             size;
    blobstore_ahead_t  *a;
    blobstore_error_t   err;

    strcpy(tmpl, "/tmp/check-blobstore-body-XXXXXX");
    fd = mkstemp(tmpl);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "0123456789abcdef", 16), 16);
    strcpy(tmpl2, "/tmp/check-blobstore-body-XXXXXX");
    fd2 = mkstemp(tmpl2);
    ck_assert_int_ge(fd2, 0);
    ck_assert_int_eq(write(fd2, "0123456789abcdef", 16), 16);
    fx_sha256(d, "0123456789abcdef", 16);
    fx_sha256(d2, "XXXX456789abcdef", 16);

    ck_assert_int_eq(blobstore_ahead_new(&a, &err), BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_ahead_update(a, fd, 6, &err), BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_ahead_update(a, fd, 10, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_ahead_update(a, fd, 17, &err),
                     BLOBSTORE_EINVAL);
    ck_assert_int_eq(blobstore_ahead_update(a, fd2, 12, &err),
                     BLOBSTORE_EINVAL);

    ck_assert_int_eq(pwrite(fd, "XXXX", 4, 0), 4);
    ck_assert_int_eq(pwrite(fd2, "XXXX", 4, 0), 4);

    /* the file it hashed, an empty session: used */
    start(uuid);
    ck_assert_int_eq(blobstore_upload_commit_ahead(fx.bs, "r", uuid, 0, fd,
                                                   tmpl, 16, d, a, &err),
                     BLOBSTORE_OK);

    /* another file: ignored */
    start(uuid);
    ck_assert_int_eq(blobstore_upload_commit_ahead(fx.bs, "r", uuid, 0, fd2,
                                                   tmpl2, 16, d, a, &err),
                     BLOBSTORE_EDIGEST);
    ck_assert_int_eq(blobstore_upload_commit_ahead(fx.bs, "r", uuid, 0, fd2,
                                                   tmpl2, 16, d2, a, &err),
                     BLOBSTORE_OK);

    /* a session that is not empty: ignored */
    start(uuid);
    ck_assert_int_eq(blobstore_upload_append(&size, fx.bs, "r", uuid, 0,
                                             "", 0, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_upload_append(&size, fx.bs, "r", uuid, 0,
                                             "XXXX", 4, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    ck_assert_int_eq(blobstore_upload_append_ahead(&size, fx.bs, "r", uuid,
                                                   4, fd, tmpl, 16, a, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(size, 20);

    blobstore_ahead_free(a);
    unlink(tmpl);
    unlink(tmpl2);
    close(fd);
    close(fd2);
}
END_TEST


/*
 * A state seeded from a session continues it: used for the next chunk
 * while the session is as it was, ignored once it changed.
 */

START_TEST(test_upload_ahead_seeded)
{
    int                 fd;
    char                uuid[BLOBSTORE_UUID_LEN + 1], tmpl[64], d[80];
    int64_t             size;
    blobstore_ahead_t  *a;
    blobstore_error_t   err;

    strcpy(tmpl, "/tmp/check-blobstore-body-XXXXXX");
    fd = mkstemp(tmpl);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "0123456789abcdef", 16), 16);

    start(uuid);
    ck_assert_int_eq(blobstore_upload_append(&size, fx.bs, "r", uuid, 0,
                                             "head:", 5, &err),
                     BLOBSTORE_OK);

    ck_assert_int_eq(blobstore_ahead_new(&a, &err), BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_ahead_seed(a, fx.bs, "r", "0000", &err),
                     BLOBSTORE_EINVAL);
    ck_assert_int_eq(blobstore_ahead_seed(a, fx.bs, "r", uuid, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_ahead_update(a, fd, 12, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_ahead_seed(a, fx.bs, "r", uuid, &err),
                     BLOBSTORE_EINVAL);

    /* used: the bytes changed behind its back are not hashed again */

    ck_assert_int_eq(pwrite(fd, "XXXX", 4, 0), 4);
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    ck_assert_int_eq(blobstore_upload_append_ahead(&size, fx.bs, "r", uuid,
                                                   5, fd, tmpl, 16, a, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(size, 21);
    fx_sha256(d, "head:0123456789abcdef", 21);
    ck_assert_int_eq(blobstore_upload_commit(fx.bs, "r", uuid, d, &err),
                     BLOBSTORE_OK);
    blobstore_ahead_free(a);

    /* ignored: the session grew after the seed */

    start(uuid);
    ck_assert_int_eq(blobstore_ahead_new(&a, &err), BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_ahead_seed(a, fx.bs, "r", uuid, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_ahead_update(a, fd, 16, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_upload_append(&size, fx.bs, "r", uuid, 0,
                                             "head:", 5, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    fx_sha256(d, "head:XXXX456789abcdef", 21);
    ck_assert_int_eq(blobstore_upload_commit_ahead(fx.bs, "r", uuid, 5, fd,
                                                   tmpl, 16, d, a, &err),
                     BLOBSTORE_OK);
    blobstore_ahead_free(a);

    unlink(tmpl);
    close(fd);
}
END_TEST


/*
 * A body spooled on another file system than the store (here a tmpfs)
 * can be neither linked nor copied in the kernel (EXDEV): the bytes
 * hashed ahead are still copied without being hashed again, as the
 * bytes changed behind the state's back show.
 */

START_TEST(test_upload_ahead_other_fs)
{
    int                 fd;
    char                uuid[BLOBSTORE_UUID_LEN + 1], tmpl[64], d[80];
    char                rel[200], buf[64];
    int64_t             size;
    struct stat         shm, store;
    blobstore_ahead_t  *a;
    blobstore_error_t   err;

    if (stat("/dev/shm", &shm) < 0 || stat(fx.dir, &store) < 0
        || shm.st_dev == store.st_dev)
    {
        fprintf(stderr, "test_upload_ahead_other_fs: /dev/shm is not "
                "another file system, nothing tested\n");
        return;
    }

    strcpy(tmpl, "/dev/shm/check-blobstore-body-XXXXXX");
    fd = mkstemp(tmpl);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "0123456789abcdef", 16), 16);

    /* an empty session */

    ck_assert_int_eq(blobstore_ahead_new(&a, &err), BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_ahead_update(a, fd, 10, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(pwrite(fd, "XXXX", 4, 0), 4);

    start(uuid);
    fx_sha256(d, "0123456789abcdef", 16);
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    ck_assert_int_eq(blobstore_upload_commit_ahead(fx.bs, "r", uuid, 0, fd,
                                                   tmpl, 16, d, a, &err),
                     BLOBSTORE_OK);
    snprintf(rel, sizeof(rel), "blobs/sha256/%.2s/%s/data", d + 7, d + 7);
    ck_assert_uint_eq(fx_read(buf, sizeof(buf), rel), 16);
    ck_assert_str_eq(buf, "XXXX456789abcdef");
    blobstore_ahead_free(a);

    /* a session with bytes, seeded */

    ck_assert_int_eq(pwrite(fd, "0123", 4, 0), 4);
    start(uuid);
    ck_assert_int_eq(blobstore_upload_append(&size, fx.bs, "r", uuid, 0,
                                             "head:", 5, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_ahead_new(&a, &err), BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_ahead_seed(a, fx.bs, "r", uuid, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_ahead_update(a, fd, 12, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(pwrite(fd, "XXXX", 4, 0), 4);
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    ck_assert_int_eq(blobstore_upload_append_ahead(&size, fx.bs, "r", uuid,
                                                   5, fd, tmpl, 16, a, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(size, 21);
    session_rel(rel, sizeof(rel), uuid, "data");
    ck_assert_uint_eq(fx_read(buf, sizeof(buf), rel), 21);
    ck_assert_str_eq(buf, "head:XXXX456789abcdef");
    fx_sha256(d, "head:0123456789abcdef", 21);
    ck_assert_int_eq(blobstore_upload_commit(fx.bs, "r", uuid, d, &err),
                     BLOBSTORE_OK);
    blobstore_ahead_free(a);

    unlink(tmpl);
    close(fd);
}
END_TEST


START_TEST(test_upload_same_blob_twice)
{
    char               a[BLOBSTORE_UUID_LEN + 1], b[BLOBSTORE_UUID_LEN + 1];
    char               d[80];
    int64_t            size;
    blobstore_error_t  err;

    fx_sha256(d, "same", 4);
    start(a);
    start(b);

    ck_assert_int_eq(blobstore_upload_append(&size, fx.bs, "r", a, -1,
                                             "same", 4, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_upload_append(&size, fx.bs, "r", b, -1,
                                             "same", 4, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_upload_commit(fx.bs, "r", a, d, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_upload_commit(fx.bs, "r", b, d, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_blob_stat(NULL, fx.bs, "r", d, &err),
                     BLOBSTORE_OK);
}
END_TEST


START_TEST(test_upload_fsync)
{
    char                  uuid[BLOBSTORE_UUID_LEN + 1], d[80];
    int64_t               size;
    blobstore_t          *bs;
    blobstore_error_t     err;
    blobstore_options_t   opts = BLOBSTORE_OPTIONS_INIT;

    ck_assert_int_eq(blobstore_open(&bs, fx.dir, &opts, &err),
                     BLOBSTORE_OK);

    fx_sha256(d, "durable", 7);
    ck_assert_int_eq(blobstore_upload_start(uuid, bs, "a/b", &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_upload_append(&size, bs, "a/b", uuid, -1,
                                             "durable", 7, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_upload_commit(bs, "a/b", uuid, d, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_blob_stat(NULL, bs, "a/b", d, &err),
                     BLOBSTORE_OK);

    blobstore_close(bs);
}
END_TEST


Suite *
upload_suite(void)
{
    TCase  *tc;
    Suite  *s;

    s = suite_create("upload");

    tc = tcase_create("session");
    tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
    tcase_add_test(tc, test_upload_start);
    tcase_add_test(tc, test_upload_append_status);
    tcase_add_test(tc, test_upload_erange);
    tcase_add_test(tc, test_upload_ebusy);
    tcase_add_test(tc, test_upload_append_fd);
    suite_add_tcase(s, tc);

    tc = tcase_create("finish");
    tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
    tcase_add_test(tc, test_upload_commit);
    tcase_add_test(tc, test_upload_commit_sha512);
    tcase_add_test(tc, test_upload_commit_wrong_digest);
    tcase_add_test(tc, test_upload_commit_fd_rollback);
    tcase_add_test(tc, test_upload_append_file_links);
    tcase_add_test(tc, test_upload_ahead);
    tcase_add_test(tc, test_upload_ahead_seeded);
    tcase_add_test(tc, test_upload_ahead_other_fs);
    tcase_add_test(tc, test_upload_cancel);
    tcase_add_test(tc, test_upload_same_blob_twice);
    tcase_add_test(tc, test_upload_fsync);
    suite_add_tcase(s, tc);

    tc = tcase_create("crash");
    tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
    tcase_add_test(tc, test_upload_crash_data_longer);
    tcase_add_test(tc, test_upload_crash_reboot);
    tcase_add_test(tc, test_upload_state_v1);
    tcase_add_test(tc, test_upload_fs_local);
    tcase_add_test(tc, test_upload_shared_fs);
    tcase_add_test(tc, test_upload_flush_failed);
    tcase_add_test(tc, test_upload_cancel_suspect);
    suite_add_tcase(s, tc);

    return s;
}
