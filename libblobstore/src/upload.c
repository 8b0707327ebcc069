
/*
 * Copyright (C) Hephaestus developers
 */


#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blobstore_int.h"


#define UPLOAD_BUF_SIZE     (1024 * 1024)
#define UPLOAD_FLUSH_SIZE   (8 * 1024 * 1024)
#define UPLOAD_LINK_NAME    ".data-link"
#define UPLOAD_DECLINED     1
#define UPLOAD_STATE_MAGIC  "HEPHUP02"
#define UPLOAD_STATE_OLD    "HEPHUP01"
#define UPLOAD_UNFLUSHED    0x1


/*
 * Our own record of a session, in heph-state: the number of bytes the
 * session holds and the SHA-256 context after hashing them.  It is
 * replaced atomically after each append and is the truth: data bytes
 * beyond offset are left over from a failed or interrupted append.
 *
 * Appends do not wait for their data to reach the disk (the commit
 * does, before the blob is published): they start the writing and mark
 * the state UNFLUSHED with the kernel's boot id.  A process that dies
 * loses nothing the kernel holds; a machine that stops may lose data
 * the state counts, so a state marked in another boot is not trusted:
 * the session is hashed again from what its data file holds (see
 * session_rehash()).
 *
 * A boot id says whether bytes survived only where one kernel writes the
 * file system: the local ones of blobstore__fs_local().  Machines that
 * share a folder over NFS, CIFS, Ceph, FUSE and the like have boot ids
 * of their own, and each would find the others' states suspect and hash
 * whole sessions again at every append.  There, and where the boot id is
 * unknown, every append is flushed and marks nothing, as before boot ids
 * were used.  A machine id beside the boot id would not help: a mark
 * made by another machine cannot tell whether that machine stopped
 * since.  Version 1 states (without boot) were always flushed.
 *
 * A failed flush of a session's data (fdatasync(), or close() where the
 * file system writes then) drops the session.  The kernel reports a
 * write error once and keeps the pages it could not write as if they
 * were written: a later flush succeeds, a hash read back agrees, and
 * the state's hash would publish bytes the disk does not hold.
 */

typedef struct {
    char           magic[8];
    uint64_t       offset;
    uint32_t       ctx_size;
    uint32_t       flags;
    SHA256_CTX     ctx;
    unsigned char  boot[16];
} upload_state;

#define UPLOAD_STATE_V1_SIZE  offsetof(upload_state, boot)


typedef struct {
    int           dirfd;
    upload_state  state;
    char          dir[BLOBSTORE__PATH_MAX];
} upload_session;


/*
 * Bytes [0, done) of the file dev/ino, hashed ahead of their take-in, in
 * a context that continues a session of base_offset bytes whose context
 * was base_ctx: usable only while the session is still that.
 */

struct blobstore_ahead_s {
    int         bound;
    dev_t       dev;
    ino_t       ino;
    int64_t     done;
    SHA256_CTX  ctx;
    uint64_t    base_offset;   /* the session it continues, as it was */
    SHA256_CTX  base_ctx;
};


static int session_open(upload_session *s, blobstore_t *bs,
    const char *repo, const char *uuid, int lock, blobstore_error_t *err);
static void session_close(upload_session *s);
static int session_suspect(blobstore_t *bs, upload_session *s);
static int session_rehash(blobstore_t *bs, upload_session *s,
    blobstore_error_t *err);
static int64_t session_trusted_size(upload_session *s);
static int upload_defer(blobstore_t *bs, int fd);
static void state_mark(blobstore_t *bs, upload_state *state, int flushed,
    int defer);
static int data_open(int *fd_out, upload_session *s,
    blobstore_error_t *err);
static int session_begin(upload_session *s, int *dfd_out,
    int64_t *size_out, blobstore_t *bs, const char *repo, const char *uuid,
    int64_t offset, blobstore_error_t *err);
static int read_some(int fd, void *buf, size_t len, size_t *got);
static int append(int64_t *size_out, blobstore_t *bs, const char *repo,
    const char *uuid, int64_t offset, int src_fd, const char *src_path,
    const void *data, int64_t len, const blobstore_ahead_t *ahead,
    blobstore_error_t *err);
static int link_in(blobstore_t *bs, upload_session *s, int src_fd,
    const char *src_path, int64_t len, blobstore__hash_t *h,
    const blobstore_ahead_t *ahead, blobstore_error_t *err);
static void flush_behind(blobstore_t *bs, int fd, off_t pos,
    off_t *flushed);
static int copy_hashed(blobstore_t *bs, off_t *pos, off_t *flushed,
    int dfd, int src_fd, off_t end, unsigned char *buf,
    blobstore_error_t *err);
static int append_copy(blobstore_t *bs, off_t *pos, blobstore__hash_t *h,
    int dfd, int src_fd, const void *data, int64_t len,
    const blobstore_ahead_t *ahead, blobstore_error_t *err);
static int64_t ahead_usable(const blobstore_ahead_t *ahead,
    const upload_session *s, int src_fd, int64_t len);
static int take_in(int *linked, off_t *pos, blobstore_t *bs,
    upload_session *s, blobstore__hash_t *h, int dfd, int src_fd,
    const char *src_path, const void *data, int64_t len,
    const blobstore_ahead_t *ahead, blobstore_error_t *err);
static void session_remove(upload_session *s);
static void session_drop(upload_session *s, int dfd);
static int commit(blobstore_t *bs, const char *repo, const char *uuid,
    int64_t offset, int src_fd, const char *src_path, int64_t len,
    const char *digest, const blobstore_ahead_t *ahead,
    blobstore_error_t *err);


static int
session_open(upload_session *s, blobstore_t *bs, const char *repo,
    const char *uuid, int lock, blobstore_error_t *err)
{
    int      rc, fd;
    ssize_t  n;

    s->dirfd = -1;

    rc = blobstore__check_repo(repo, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    if (!blobstore__uuid_valid(uuid)) {
        return blobstore__error(err, BLOBSTORE_EINVAL, 0,
                                "invalid upload id");
    }

    rc = blobstore__path(s->dir, bs, err, "/repositories/%s/_uploads/%s",
                         repo, uuid);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    s->dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dirfd < 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            return blobstore__error(err, BLOBSTORE_ENOTFOUND, 0,
                                    "upload unknown");
        }

        return blobstore__sys_error(err, errno, "open(\"%s\") failed",
                                    s->dir);
    }

    if (lock && flock(s->dirfd, LOCK_EX | LOCK_NB) < 0) {
        rc = (errno == EWOULDBLOCK)
             ? blobstore__error(err, BLOBSTORE_EBUSY, 0, "upload in use")
             : blobstore__sys_error(err, errno, "flock(\"%s\") failed",
                                    s->dir);
        goto failed;
    }

    /* read relative to the folder: a removed session stays removed */

    fd = openat(s->dirfd, BLOBSTORE__STATE_NAME, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = (errno == ENOENT)
             ? blobstore__error(err, BLOBSTORE_ENOTFOUND, 0,
                                "upload unknown")
             : blobstore__sys_error(err, errno, "open(\"%s/%s\") failed",
                                    s->dir, BLOBSTORE__STATE_NAME);
        goto failed;
    }

    memset(&s->state, 0, sizeof(upload_state));

    do {
        n = pread(fd, &s->state, sizeof(upload_state), 0);
    } while (n < 0 && errno == EINTR);

    close(fd);

    if (n == (ssize_t) UPLOAD_STATE_V1_SIZE
        && memcmp(s->state.magic, UPLOAD_STATE_OLD, 8) == 0)
    {
        memcpy(s->state.magic, UPLOAD_STATE_MAGIC, 8);
        s->state.flags = 0;
        n = sizeof(upload_state);
    }

    if (n != (ssize_t) sizeof(upload_state)
        || memcmp(s->state.magic, UPLOAD_STATE_MAGIC, 8) != 0
        || s->state.ctx_size != sizeof(SHA256_CTX)
        || s->state.offset > INT64_MAX)
    {
        /*
         * A state cut short by a crash (a file system that does not keep
         * a renamed file's data with its name): the session is lost, and
         * the client starts its upload again.
         */

        rc = blobstore__error(err, BLOBSTORE_ENOTFOUND, 0,
                              "upload state in \"%s\" lost", s->dir);
        goto failed;
    }

    return BLOBSTORE_OK;

failed:

    session_close(s);
    return rc;
}


static void
session_close(upload_session *s)
{
    if (s->dirfd >= 0) {
        close(s->dirfd);
        s->dirfd = -1;
    }
}


/* Whether the state counts data written, unflushed, in another boot. */

static int
session_suspect(blobstore_t *bs, upload_session *s)
{
    return (s->state.flags & UPLOAD_UNFLUSHED)
           && (!bs->boot_known || memcmp(s->state.boot, bs->boot, 16) != 0);
}


/*
 * The size a suspect session can claim without reading it: the bytes its
 * data file still holds, at most what the state counts.
 */

static int64_t
session_trusted_size(upload_session *s)
{
    struct stat  st;

    if (fstatat(s->dirfd, "data", &st, 0) < 0) {
        return 0;
    }

    if ((uint64_t) st.st_size < s->state.offset) {
        return (int64_t) st.st_size;
    }

    return (int64_t) s->state.offset;
}


/*
 * Makes the state what the data file holds now, after a machine stop:
 * its bytes, up to what the state counted, are hashed again.  They were
 * read back from the disk, so the new state needs no mark.  The client
 * learns the size from the next answer; a digest that no longer matches
 * fails the commit, so nothing lost is ever published.
 */

static int
session_rehash(blobstore_t *bs, upload_session *s, blobstore_error_t *err)
{
    int                rc, fd;
    int64_t            size;
    upload_state       state;
    blobstore__hash_t  h;

    size = session_trusted_size(s);

    fd = openat(s->dirfd, "data", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        return blobstore__sys_error(err, errno, "open(\"%s/data\") failed",
                                    s->dir);
    }

    if (ftruncate(fd, (off_t) size) < 0) {
        rc = blobstore__sys_error(err, errno,
                                  "ftruncate(\"%s/data\") failed", s->dir);
        close(fd);
        return rc;
    }

    rc = blobstore__hash_fd_ctx(&h, BLOBSTORE__SHA256, fd, size, err);
    close(fd);

    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    state = s->state;
    state.offset = (uint64_t) size;
    state.ctx = h.ctx.sha256;
    state.flags = 0;
    memset(state.boot, 0, sizeof(state.boot));

    rc = blobstore__write_file(bs, s->dir, BLOBSTORE__STATE_NAME, &state,
                               sizeof(upload_state), 0, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    s->state = state;
    return BLOBSTORE_OK;
}


/*
 * Whether an append to fd may leave its bytes for the kernel to write,
 * with the boot id in the state (see upload_state).  The file system is
 * asked at each append: a session's folder may be a mount of its own.
 */

static int
upload_defer(blobstore_t *bs, int fd)
{
    struct statfs  st;

    if (!bs->boot_known || bs->fs_shared || fstatfs(fd, &st) < 0) {
        return 0;
    }

    return blobstore__fs_local((uint32_t) st.f_type);
}


/*
 * The file systems (statfs() types) that only the kernel that mounted
 * them writes: a disk's, or memory.  Anything else, a network, cluster
 * or FUSE file system or one not known here, is taken as shared; that
 * costs a flush per append, never a lost byte.
 */

int
blobstore__fs_local(uint32_t type)
{
    size_t                 i;
    static const uint32_t  local[] = {
        0x0000ef53,  /* ext2, ext3, ext4 */
        0x58465342,  /* xfs */
        0x9123683e,  /* btrfs */
        0xf2f52010,  /* f2fs */
        0x01021994,  /* tmpfs */
        0x858458f6,  /* ramfs */
        0x794c7630,  /* overlayfs: its upper layer is a local one */
        0x2fc12fc1,  /* zfs */
        0xca451a4e,  /* bcachefs */
        0x3153464a,  /* jfs */
        0x52654973,  /* reiserfs */
        0x00003434   /* nilfs2 */
    };

    for (i = 0; i < sizeof(local) / sizeof(local[0]); i++) {
        if (type == local[i]) {
            return 1;
        }
    }

    return 0;
}


/*
 * Marks the state of a data file flushed whole (flushed: the bytes of
 * earlier appends too, so a mark goes) or whose new bytes were left to
 * the kernel (defer: the mark stays until the commit).  A file neither
 * flushed nor deferred (no syncing, on a shared file system) keeps the
 * mark it had.
 */

static void
state_mark(blobstore_t *bs, upload_state *state, int flushed, int defer)
{
    if (flushed) {
        state->flags &= ~UPLOAD_UNFLUSHED;
        memset(state->boot, 0, sizeof(state->boot));
        return;
    }

    if (defer) {
        state->flags |= UPLOAD_UNFLUSHED;
        memcpy(state->boot, bs->boot, sizeof(state->boot));
    }
}


static int
data_open(int *fd_out, upload_session *s, blobstore_error_t *err)
{
    int          fd, rc;
    struct stat  st;

    fd = openat(s->dirfd, "data", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        return blobstore__sys_error(err, errno, "open(\"%s/data\") failed",
                                    s->dir);
    }

    if (fstat(fd, &st) < 0) {
        rc = blobstore__sys_error(err, errno, "fstat(\"%s/data\") failed",
                                  s->dir);
        close(fd);
        return rc;
    }

    if ((uint64_t) st.st_size < s->state.offset) {
        close(fd);
        return blobstore__error(err, BLOBSTORE_EIO, 0,
                                "upload data in \"%s\" shorter than its "
                                "state", s->dir);
    }

    if ((uint64_t) st.st_size > s->state.offset
        && ftruncate(fd, (off_t) s->state.offset) < 0)
    {
        rc = blobstore__sys_error(err, errno,
                                  "ftruncate(\"%s/data\") failed", s->dir);
        close(fd);
        return rc;
    }

    *fd_out = fd;
    return BLOBSTORE_OK;
}


/*
 * Opens and locks the session, makes it what its data file holds if it
 * is suspect, checks that offset (unless -1) is its size and opens its
 * data file.  *size_out (may be NULL) gets the size as soon as it is
 * known, even when the offset is wrong.
 */

static int
session_begin(upload_session *s, int *dfd_out, int64_t *size_out,
    blobstore_t *bs, const char *repo, const char *uuid, int64_t offset,
    blobstore_error_t *err)
{
    int      rc;
    int64_t  size;

    rc = session_open(s, bs, repo, uuid, 1, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    if (session_suspect(bs, s)) {
        rc = session_rehash(bs, s, err);
        if (rc != BLOBSTORE_OK) {
            session_close(s);
            return rc;
        }
    }

    size = (int64_t) s->state.offset;
    if (size_out != NULL) {
        *size_out = size;
    }

    if (offset != -1 && offset != size) {
        session_close(s);
        return blobstore__error(err, BLOBSTORE_ERANGE, 0,
                                "upload offset %lld is not the current "
                                "size %lld", (long long) offset,
                                (long long) size);
    }

    rc = data_open(dfd_out, s, err);
    if (rc != BLOBSTORE_OK) {
        session_close(s);
        return rc;
    }

    return BLOBSTORE_OK;
}


/*
 * Reads up to len bytes, fewer only at end of file.
 */

static int
read_some(int fd, void *buf, size_t len, size_t *got)
{
    ssize_t  n;

    *got = 0;

    while (*got < len) {
        n = read(fd, (unsigned char *) buf + *got, len - *got);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }

            return -1;
        }

        if (n == 0) {
            break;
        }

        *got += (size_t) n;
    }

    return 0;
}


BLOBSTORE_EXTERN(int)
blobstore_upload_start(char *uuid_out, blobstore_t *bs, const char *repo,
    blobstore_error_t *err)
{
    int           rc, i, j;
    char          dir[BLOBSTORE__PATH_MAX], rnd[33], stamp[64];
    time_t        now;
    struct tm     tm;
    upload_state  state;

    blobstore__error_clear(err);
    uuid_out[0] = '\0';
    dir[0] = '\0';

    rc = blobstore__check_repo(repo, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    rc = blobstore__random_hex(rnd, 16, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    /* version 4, variant 10xx */

    rnd[12] = '4';
    rnd[16] = "89ab"[(rnd[16] <= '9' ? rnd[16] - '0' : rnd[16] - 'a' + 10)
                     & 3];

    for (i = 0, j = 0; i < 32; i++) {
        if (i == 8 || i == 12 || i == 16 || i == 20) {
            uuid_out[j++] = '-';
        }

        uuid_out[j++] = rnd[i];
    }

    uuid_out[j] = '\0';

    rc = blobstore__path(dir, bs, err, "/repositories/%s/_uploads/%s",
                         repo, uuid_out);
    if (rc != BLOBSTORE_OK) {
        goto failed;
    }

    rc = blobstore__write_atomic(bs, dir, "data", "", 0, err);
    if (rc != BLOBSTORE_OK) {
        goto failed;
    }

    now = time(NULL);
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);

    rc = blobstore__write_atomic(bs, dir, "startedat", stamp, strlen(stamp),
                                 err);
    if (rc != BLOBSTORE_OK) {
        goto failed;
    }

    memset(&state, 0, sizeof(upload_state));
    memcpy(state.magic, UPLOAD_STATE_MAGIC, 8);
    state.ctx_size = sizeof(SHA256_CTX);
    SHA256_Init(&state.ctx);

    rc = blobstore__write_atomic(bs, dir, BLOBSTORE__STATE_NAME, &state,
                                 sizeof(upload_state), err);
    if (rc != BLOBSTORE_OK) {
        goto failed;
    }

    return BLOBSTORE_OK;

failed:

    /* a session without its state is unusable: leave none behind */

    if (dir[0] != '\0' && uuid_out[0] != '\0') {
        (void) blobstore__rm_rf(dir, NULL);
    }

    uuid_out[0] = '\0';
    return rc;
}


BLOBSTORE_EXTERN(int)
blobstore_upload_status(int64_t *size_out, blobstore_t *bs,
    const char *repo, const char *uuid, blobstore_error_t *err)
{
    int             rc;
    upload_session  s;

    blobstore__error_clear(err);
    *size_out = 0;

    rc = session_open(&s, bs, repo, uuid, 0, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    *size_out = session_suspect(bs, &s) ? session_trusted_size(&s)
                                        : (int64_t) s.state.offset;
    session_close(&s);

    return BLOBSTORE_OK;
}


static int
append_copy(blobstore_t *bs, off_t *pos, blobstore__hash_t *h, int dfd,
    int src_fd, const void *data, int64_t len,
    const blobstore_ahead_t *ahead, blobstore_error_t *err)
{
    int             rc;
    off_t           flushed;
    size_t          want, got;
    unsigned char  *buf;

    if (src_fd < 0) {
        if (blobstore__write_at(dfd, data, (size_t) len, *pos) < 0) {
            return blobstore__sys_error(err, errno, "write() failed");
        }

        blobstore__hash_update(h, data, (size_t) len);
        *pos += (off_t) len;
        return BLOBSTORE_OK;
    }

    buf = malloc(UPLOAD_BUF_SIZE);
    if (buf == NULL) {
        return blobstore__error(err, BLOBSTORE_ENOMEM, ENOMEM,
                                "out of memory");
    }

    flushed = *pos;

    /*
     * Bytes hashed ahead (ahead is usable: see ahead_usable()) are only
     * copied; the rest is read, hashed and written.
     */

    if (ahead != NULL) {
        rc = copy_hashed(bs, pos, &flushed, dfd, src_fd,
                         (off_t) ahead->done, buf, err);
        if (rc != BLOBSTORE_OK) {
            goto done;
        }

        h->ctx.sha256 = ahead->ctx;
        len -= ahead->done;

        if (lseek(src_fd, (off_t) ahead->done, SEEK_SET) < 0) {
            rc = blobstore__sys_error(err, errno, "lseek() failed");
            goto done;
        }
    }

    rc = BLOBSTORE_OK;

    while (len != 0) {
        want = UPLOAD_BUF_SIZE;
        if (len > 0 && (int64_t) want > len) {
            want = (size_t) len;
        }

        if (read_some(src_fd, buf, want, &got) < 0) {
            rc = blobstore__sys_error(err, errno, "read() failed");
            break;
        }

        if (got > 0) {
            if (blobstore__write_at(dfd, buf, got, *pos) < 0) {
                rc = blobstore__sys_error(err, errno, "write() failed");
                break;
            }

            blobstore__hash_update(h, buf, got);
            *pos += (off_t) got;
            flush_behind(bs, dfd, *pos, &flushed);
        }

        if (len > 0) {
            len -= (int64_t) got;
        }

        if (got < want) {
            if (len > 0) {
                rc = blobstore__error(err, BLOBSTORE_EIO, 0,
                                      "source ended early");
            }

            break;
        }
    }

done:

    free(buf);
    return rc;
}


/*
 * Copies bytes [0, end) of src_fd, hashed ahead, to *pos in dfd without
 * hashing them again, and advances *pos.  The copy is the kernel's, or
 * goes through buf where copy_file_range() cannot make it (EXDEV: a
 * spool on another file system than the store, such as a tmpfs; a file
 * system without it) or stops short.
 */

static int
copy_hashed(blobstore_t *bs, off_t *pos, off_t *flushed, int dfd,
    int src_fd, off_t end, unsigned char *buf, blobstore_error_t *err)
{
    off_t    src_off, dst_off;
    size_t   want;
    ssize_t  n;

    src_off = 0;
    dst_off = *pos;

    while (src_off < end) {
        n = copy_file_range(src_fd, &src_off, dfd, &dst_off,
                            (size_t) (end - src_off), 0);
        if (n <= 0) {
            break;
        }
    }

    while (src_off < end) {
        want = UPLOAD_BUF_SIZE;
        if ((off_t) want > end - src_off) {
            want = (size_t) (end - src_off);
        }

        n = pread(src_fd, buf, want, src_off);

        if (n < 0 && errno == EINTR) {
            continue;
        }

        if (n <= 0) {
            return (n < 0)
                   ? blobstore__sys_error(err, errno, "pread() failed")
                   : blobstore__error(err, BLOBSTORE_EIO, 0,
                                      "source ended early");
        }

        if (blobstore__write_at(dfd, buf, (size_t) n, dst_off) < 0) {
            return blobstore__sys_error(err, errno, "write() failed");
        }

        src_off += n;
        dst_off += n;
        flush_behind(bs, dfd, dst_off, flushed);
    }

    *pos = dst_off;
    return BLOBSTORE_OK;
}


/*
 * With syncing on, the pages written so far are handed to the disk every
 * few MiB, so that the flush before the answer has little left to do.
 */

static void
flush_behind(blobstore_t *bs, int fd, off_t pos, off_t *flushed)
{
    if (!bs->fsync || pos - *flushed < UPLOAD_FLUSH_SIZE) {
        return;
    }

    (void) sync_file_range(fd, *flushed, pos - *flushed,
                           SYNC_FILE_RANGE_WRITE);
    *flushed = pos;
}


/*
 * How much of ahead applies to taking src_fd (len bytes from its offset
 * 0) into the session s: all it hashed when it hashed this file and
 * continues the session as it is; 0 otherwise.
 */

static int64_t
ahead_usable(const blobstore_ahead_t *ahead, const upload_session *s,
    int src_fd, int64_t len)
{
    struct stat  st;

    if (ahead == NULL || !ahead->bound || ahead->done <= 0
        || len < ahead->done
        || ahead->base_offset != s->state.offset
        || memcmp(&ahead->base_ctx, &s->state.ctx, sizeof(SHA256_CTX)) != 0
        || fstat(src_fd, &st) < 0
        || ahead->dev != st.st_dev || ahead->ino != st.st_ino)
    {
        return 0;
    }

    return ahead->done;
}


/*
 * A session that is still empty takes the caller's whole file by a hard
 * link, as UPLOAD_LINK_NAME in the session folder, instead of a copy: the
 * caller's file (a web server's request body) is then written once.  The
 * file is hashed in place.  UPLOAD_DECLINED when it cannot be linked
 * (another file system, a pipe, no path): the caller copies then.
 */

static int
link_in(blobstore_t *bs, upload_session *s, int src_fd,
    const char *src_path, int64_t len, blobstore__hash_t *h,
    const blobstore_ahead_t *ahead, blobstore_error_t *err)
{
    off_t           pos, flushed;
    size_t          want;
    ssize_t         n;
    struct stat     st, lst;
    unsigned char  *buf;

    if (src_path == NULL || src_fd < 0 || len <= 0
        || fstat(src_fd, &st) < 0 || !S_ISREG(st.st_mode)
        || st.st_size != len)
    {
        return UPLOAD_DECLINED;
    }

    /* a name left by a crash is in the way */

    (void) unlinkat(s->dirfd, UPLOAD_LINK_NAME, 0);

    if (linkat(AT_FDCWD, src_path, s->dirfd, UPLOAD_LINK_NAME, 0) < 0) {
        return UPLOAD_DECLINED;
    }

    if (fstatat(s->dirfd, UPLOAD_LINK_NAME, &lst, 0) < 0
        || lst.st_ino != st.st_ino || lst.st_dev != st.st_dev)
    {
        (void) unlinkat(s->dirfd, UPLOAD_LINK_NAME, 0);
        return UPLOAD_DECLINED;
    }

    buf = malloc(UPLOAD_BUF_SIZE);
    if (buf == NULL) {
        (void) unlinkat(s->dirfd, UPLOAD_LINK_NAME, 0);
        return blobstore__error(err, BLOBSTORE_ENOMEM, ENOMEM,
                                "out of memory");
    }

    pos = 0;
    flushed = 0;

    if (ahead_usable(ahead, s, src_fd, len) > 0) {
        h->ctx.sha256 = ahead->ctx;
        pos = (off_t) ahead->done;
        flushed = pos;
    }

    while (pos < len) {
        want = UPLOAD_BUF_SIZE;
        if ((int64_t) want > len - pos) {
            want = (size_t) (len - pos);
        }

        n = pread(src_fd, buf, want, pos);

        if (n < 0 && errno == EINTR) {
            continue;
        }

        if (n <= 0) {
            free(buf);
            (void) unlinkat(s->dirfd, UPLOAD_LINK_NAME, 0);
            return (n < 0)
                   ? blobstore__sys_error(err, errno, "pread() failed")
                   : blobstore__error(err, BLOBSTORE_EIO, 0,
                                      "source ended early");
        }

        blobstore__hash_update(h, buf, (size_t) n);
        pos += n;
        flush_behind(bs, src_fd, pos, &flushed);
    }

    free(buf);

    /* the web server made it private to itself */

    (void) fchmod(src_fd, 0644);

    return BLOBSTORE_OK;
}


/*
 * Adds the source to the session after *pos: linked in whole when the
 * session is empty and link_in() takes it, else copied into dfd.
 * *linked tells which; *pos is the session's new size.
 */

static int
take_in(int *linked, off_t *pos, blobstore_t *bs, upload_session *s,
    blobstore__hash_t *h, int dfd, int src_fd, const char *src_path,
    const void *data, int64_t len, const blobstore_ahead_t *ahead,
    blobstore_error_t *err)
{
    int  rc;

    *linked = 0;

    rc = (*pos == 0)
         ? link_in(bs, s, src_fd, src_path, len, h, ahead, err)
         : UPLOAD_DECLINED;

    if (rc == UPLOAD_DECLINED) {
        /* a copy reads from the current offset: it must be the start */

        if (src_fd < 0 || ahead_usable(ahead, s, src_fd, len) == 0
            || lseek(src_fd, 0, SEEK_CUR) != 0)
        {
            ahead = NULL;
        }

        return append_copy(bs, pos, h, dfd, src_fd, data, len, ahead, err);
    }

    if (rc == BLOBSTORE_OK) {
        *linked = 1;
        *pos = (off_t) len;
    }

    return rc;
}


static int
append(int64_t *size_out, blobstore_t *bs, const char *repo,
    const char *uuid, int64_t offset, int src_fd, const char *src_path,
    const void *data, int64_t len, const blobstore_ahead_t *ahead,
    blobstore_error_t *err)
{
    int                rc, dfd, linked, defer, flushed;
    off_t              pos, start;
    upload_state       state;
    upload_session     s;
    blobstore__hash_t  h;

    blobstore__error_clear(err);

    if (src_fd < 0 && len > 0 && data == NULL) {
        return blobstore__error(err, BLOBSTORE_EINVAL, 0, "no data");
    }

    rc = session_begin(&s, &dfd, size_out, bs, repo, uuid, offset, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    start = (off_t) s.state.offset;
    h.alg = BLOBSTORE__SHA256;
    h.ctx.sha256 = s.state.ctx;
    pos = start;

    rc = take_in(&linked, &pos, bs, &s, &h, dfd, src_fd, src_path, data,
                 len, ahead, err);
    if (rc != BLOBSTORE_OK) {
        goto failed;
    }

    defer = upload_defer(bs, dfd);
    flushed = 0;

    if (linked) {

        /*
         * The linked file replaces the empty data file.  Its flush
         * failing leaves the session as it was, empty: the body was
         * never the session's.
         */

        if (bs->fsync && !defer) {
            if (fdatasync(src_fd) < 0) {
                rc = blobstore__sys_error(err, errno, "fdatasync(\"%s\") "
                                          "failed", src_path);
                (void) unlinkat(s.dirfd, UPLOAD_LINK_NAME, 0);
                goto failed;
            }

            flushed = 1;
        }

        if (bs->fsync && defer) {
            (void) sync_file_range(src_fd, 0, pos, SYNC_FILE_RANGE_WRITE);
        }

        if (renameat(s.dirfd, UPLOAD_LINK_NAME, s.dirfd, "data") < 0) {
            rc = blobstore__sys_error(err, errno, "rename(\"%s/%s\") "
                                      "failed", s.dir, UPLOAD_LINK_NAME);
            (void) unlinkat(s.dirfd, UPLOAD_LINK_NAME, 0);
            goto failed;
        }

    } else {
        if (pos == start) {
            goto done;
        }

        /*
         * Where appends are not deferred the bytes must be on disk
         * before the state says they are: the state's hash is what the
         * commit checks.  Deferred, the state is marked instead (see
         * upload_state).  The state itself need not be flushed: a state
         * lost in a crash is an older, shorter one, and the bytes past
         * it are cut by the next append.  A failed flush drops the
         * session, with the bytes of earlier appends that it may have
         * failed to write.
         */

        if (bs->fsync && !defer) {
            if (fdatasync(dfd) < 0) {
                rc = blobstore__sys_error(err, errno,
                                          "fdatasync(\"%s/data\") failed, "
                                          "upload dropped", s.dir);
                session_drop(&s, dfd);
                return rc;
            }

            flushed = 1;
        }

        if (bs->fsync && defer) {
            (void) sync_file_range(dfd, start, pos - start,
                                   SYNC_FILE_RANGE_WRITE);
        }

        /* a file system that writes at close() (NFS) fails there */

        if (close(dfd) < 0) {
            rc = blobstore__sys_error(err, errno,
                                      "close(\"%s/data\") failed, "
                                      "upload dropped", s.dir);
            session_drop(&s, -1);
            return rc;
        }

        dfd = -1;
    }

    state = s.state;
    state.offset = (uint64_t) pos;
    state.ctx = h.ctx.sha256;
    state_mark(bs, &state, flushed, defer);

    rc = blobstore__write_file(bs, s.dir, BLOBSTORE__STATE_NAME, &state,
                               sizeof(upload_state), 0, err);
    if (rc != BLOBSTORE_OK) {
        goto failed;
    }

done:

    if (dfd >= 0) {
        close(dfd);
    }

    session_close(&s);

    if (size_out != NULL) {
        *size_out = (int64_t) pos;
    }

    return BLOBSTORE_OK;

failed:

    /* the data was closed before its state was written: open it again */

    if (dfd < 0) {
        dfd = openat(s.dirfd, "data", O_WRONLY | O_CLOEXEC);
    }

    if (dfd >= 0) {
        if (ftruncate(dfd, start) < 0) {
            /* the state still says start: the next append cuts the rest */
        }

        close(dfd);
    }

    session_close(&s);
    return rc;
}


BLOBSTORE_EXTERN(int)
blobstore_upload_append_fd(int64_t *size_out, blobstore_t *bs,
    const char *repo, const char *uuid, int64_t offset, int fd,
    int64_t len, blobstore_error_t *err)
{
    return blobstore_upload_append_file(size_out, bs, repo, uuid, offset, fd,
                                        NULL, len, err);
}


BLOBSTORE_EXTERN(int)
blobstore_upload_append_file(int64_t *size_out, blobstore_t *bs,
    const char *repo, const char *uuid, int64_t offset, int fd,
    const char *path, int64_t len, blobstore_error_t *err)
{
    return blobstore_upload_append_ahead(size_out, bs, repo, uuid, offset,
                                         fd, path, len, NULL, err);
}


BLOBSTORE_EXTERN(int)
blobstore_upload_append_ahead(int64_t *size_out, blobstore_t *bs,
    const char *repo, const char *uuid, int64_t offset, int fd,
    const char *path, int64_t len, const blobstore_ahead_t *ahead,
    blobstore_error_t *err)
{
    if (fd < 0 || len < -1) {
        blobstore__error_clear(err);
        return blobstore__error(err, BLOBSTORE_EINVAL, 0,
                                "invalid source");
    }

    return append(size_out, bs, repo, uuid, offset, fd, path, NULL, len,
                  ahead, err);
}


BLOBSTORE_EXTERN(int)
blobstore_upload_append(int64_t *size_out, blobstore_t *bs,
    const char *repo, const char *uuid, int64_t offset, const void *data,
    size_t len, blobstore_error_t *err)
{
    if (len > INT64_MAX) {
        blobstore__error_clear(err);
        return blobstore__error(err, BLOBSTORE_EINVAL, 0, "too long");
    }

    return append(size_out, bs, repo, uuid, offset, -1, NULL, data,
                  (int64_t) len, NULL, err);
}


/*
 * The state goes first, so the session is gone in one step even if
 * removing the rest fails.
 */

static void
session_remove(upload_session *s)
{
    if (unlinkat(s->dirfd, BLOBSTORE__STATE_NAME, 0) < 0) {
        return;
    }

    (void) blobstore__rm_rf(s->dir, NULL);
}


/*
 * Drops a session whose data may not be on disk (see upload_state),
 * closing dfd (unless -1) and the session.  Where its state cannot be
 * removed its data goes: a data file shorter than the state fails every
 * later append and commit.
 */

static void
session_drop(upload_session *s, int dfd)
{
    if (dfd >= 0) {
        close(dfd);
    }

    if (unlinkat(s->dirfd, BLOBSTORE__STATE_NAME, 0) < 0) {
        (void) unlinkat(s->dirfd, "data", 0);

    } else {
        (void) blobstore__rm_rf(s->dir, NULL);
    }

    session_close(s);
}


BLOBSTORE_EXTERN(int)
blobstore_upload_commit(blobstore_t *bs, const char *repo,
    const char *uuid, const char *digest, blobstore_error_t *err)
{
    return commit(bs, repo, uuid, -1, -1, NULL, 0, digest, NULL, err);
}


BLOBSTORE_EXTERN(int)
blobstore_upload_commit_fd(blobstore_t *bs, const char *repo,
    const char *uuid, int64_t offset, int fd, const char *path,
    int64_t len, const char *digest, blobstore_error_t *err)
{
    return commit(bs, repo, uuid, offset, fd, path, fd < 0 ? 0 : len,
                  digest, NULL, err);
}


BLOBSTORE_EXTERN(int)
blobstore_upload_commit_ahead(blobstore_t *bs, const char *repo,
    const char *uuid, int64_t offset, int fd, const char *path,
    int64_t len, const char *digest, const blobstore_ahead_t *ahead,
    blobstore_error_t *err)
{
    return commit(bs, repo, uuid, offset, fd, path, fd < 0 ? 0 : len,
                  digest, ahead, err);
}


BLOBSTORE_EXTERN(int)
blobstore_ahead_new(blobstore_ahead_t **out, blobstore_error_t *err)
{
    blobstore_ahead_t  *a;

    blobstore__error_clear(err);

    a = calloc(1, sizeof(blobstore_ahead_t));
    if (a == NULL) {
        *out = NULL;
        return blobstore__error(err, BLOBSTORE_ENOMEM, ENOMEM,
                                "out of memory");
    }

    SHA256_Init(&a->ctx);
    a->base_ctx = a->ctx;
    *out = a;

    return BLOBSTORE_OK;
}


BLOBSTORE_EXTERN(int)
blobstore_ahead_seed(blobstore_ahead_t *a, blobstore_t *bs,
    const char *repo, const char *uuid, blobstore_error_t *err)
{
    int             rc;
    upload_session  s;

    blobstore__error_clear(err);

    if (a->done != 0) {
        return blobstore__error(err, BLOBSTORE_EINVAL, 0,
                                "already hashing");
    }

    rc = session_open(&s, bs, repo, uuid, 0, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    a->base_offset = s.state.offset;
    a->base_ctx = s.state.ctx;
    a->ctx = s.state.ctx;
    session_close(&s);

    return BLOBSTORE_OK;
}


BLOBSTORE_EXTERN(int)
blobstore_ahead_update(blobstore_ahead_t *a, int fd, int64_t to,
    blobstore_error_t *err)
{
    int64_t         pos;
    size_t          want;
    ssize_t         n;
    struct stat     st;
    unsigned char  *buf;

    blobstore__error_clear(err);

    if (fstat(fd, &st) < 0) {
        return blobstore__sys_error(err, errno, "fstat() failed");
    }

    if (!S_ISREG(st.st_mode) || st.st_size < to
        || (a->bound && (a->dev != st.st_dev || a->ino != st.st_ino)))
    {
        return blobstore__error(err, BLOBSTORE_EINVAL, 0,
                                "not the file hashed so far");
    }

    if (to <= a->done) {
        return BLOBSTORE_OK;
    }

    buf = malloc(UPLOAD_BUF_SIZE);
    if (buf == NULL) {
        return blobstore__error(err, BLOBSTORE_ENOMEM, ENOMEM,
                                "out of memory");
    }

    a->bound = 1;
    a->dev = st.st_dev;
    a->ino = st.st_ino;
    pos = a->done;

    while (pos < to) {
        want = UPLOAD_BUF_SIZE;
        if ((int64_t) want > to - pos) {
            want = (size_t) (to - pos);
        }

        n = pread(fd, buf, want, (off_t) pos);

        if (n < 0 && errno == EINTR) {
            continue;
        }

        if (n <= 0) {
            free(buf);
            return (n < 0)
                   ? blobstore__sys_error(err, errno, "pread() failed")
                   : blobstore__error(err, BLOBSTORE_EIO, 0,
                                      "file ended early");
        }

        SHA256_Update(&a->ctx, buf, (size_t) n);
        pos += n;

        /* the context always matches done, even after a failed read */

        a->done = pos;
    }

    free(buf);
    return BLOBSTORE_OK;
}


BLOBSTORE_EXTERN(void)
blobstore_ahead_free(blobstore_ahead_t *a)
{
    free(a);
}


/*
 * The last chunk is linked in (an empty session) or written past the
 * session's recorded size and hashed into a copy of its context; the
 * state file is never rewritten, so a failure only has to drop the link
 * or cut the data file back to keep the session intact.  A failed flush
 * of the session's data drops the session instead (see upload_state).
 */

static int
commit(blobstore_t *bs, const char *repo, const char *uuid,
    int64_t offset, int src_fd, const char *src_path, int64_t len,
    const char *digest, const blobstore_ahead_t *ahead,
    blobstore_error_t *err)
{
    int                  rc, dfd, fd, linked;
    off_t                start, pos;
    char                *name;
    char                 dir[BLOBSTORE__PATH_MAX], path[BLOBSTORE__PATH_MAX];
    upload_session       s;
    blobstore__hash_t    h;
    blobstore__digest_t  want, got;

    blobstore__error_clear(err);

    rc = blobstore__check_repo(repo, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    rc = blobstore__digest_parse(&want, digest, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    rc = session_begin(&s, &dfd, NULL, bs, repo, uuid, offset, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    start = (off_t) s.state.offset;
    h.alg = BLOBSTORE__SHA256;
    h.ctx.sha256 = s.state.ctx;
    pos = start;
    linked = 0;

    if (src_fd >= 0 && len != 0) {
        rc = take_in(&linked, &pos, bs, &s, &h, dfd, src_fd, src_path, NULL,
                     len, ahead, err);
        if (rc != BLOBSTORE_OK) {
            goto failed;
        }
    }

    /* the file that holds the content, and its name in the session */

    fd = linked ? src_fd : dfd;
    name = linked ? UPLOAD_LINK_NAME : "data";

    if (want.alg == BLOBSTORE__SHA256) {
        blobstore__hash_final(&got, &h);

    } else {
        rc = blobstore__hash_fd(&got, want.alg, fd, (int64_t) pos, err);
        if (rc != BLOBSTORE_OK) {
            goto failed;
        }
    }

    if (strcmp(got.full, want.full) != 0) {
        rc = blobstore__error(err, BLOBSTORE_EDIGEST, 0,
                              "upload has digest %s, not %s", got.full,
                              want.full);
        goto failed;
    }

    if (bs->fsync && fdatasync(fd) < 0) {
        if (linked) {

            /* the body was never the session's: it stays empty */

            rc = blobstore__sys_error(err, errno,
                                      "fdatasync(\"%s/%s\") failed", s.dir,
                                      name);
            goto failed;
        }

        rc = blobstore__sys_error(err, errno, "fdatasync(\"%s/data\") "
                                  "failed, upload dropped", s.dir);
        session_drop(&s, dfd);
        return rc;
    }

    rc = blobstore__path(dir, bs, err, "/blobs/%s/%.2s/%s", want.alg_name,
                         want.hex, want.hex);
    if (rc != BLOBSTORE_OK) {
        goto failed;
    }

    rc = blobstore__mkdir_p(bs, dir, err);
    if (rc != BLOBSTORE_OK) {
        goto failed;
    }

    rc = blobstore__blob_path(path, bs, &want, err);
    if (rc != BLOBSTORE_OK) {
        goto failed;
    }

    /* a file system that writes at close() (NFS) fails there */

    if (close(dfd) < 0 && !linked) {
        rc = blobstore__sys_error(err, errno, "close(\"%s/data\") failed, "
                                  "upload dropped", s.dir);
        session_drop(&s, -1);
        return rc;
    }

    dfd = -1;

    /*
     * A blob already in place has the same content: it is kept, and ours
     * goes with the session.
     */

    if (!blobstore__exists(path)) {
        if (renameat(s.dirfd, name, AT_FDCWD, path) < 0) {
            rc = blobstore__sys_error(err, errno,
                                      "rename(\"%s/%s\") failed", s.dir,
                                      name);
            goto failed;
        }

        if (bs->fsync) {
            rc = blobstore__fsync_dir(dir, err);
            if (rc != BLOBSTORE_OK) {
                goto published;
            }
        }
    }

    rc = blobstore__path(dir, bs, err, "/repositories/%s/_layers/%s/%s",
                         repo, want.alg_name, want.hex);
    if (rc != BLOBSTORE_OK) {
        goto published;
    }

    rc = blobstore__write_link(bs, dir, &want, err);

published:

    /*
     * Once the data has moved, the session cannot be resumed: it goes
     * whether the link was written or not, and a failed link means the
     * client pushes the blob again (it is found in place then).
     */

    session_remove(&s);
    session_close(&s);
    return rc;

failed:

    if (linked) {
        (void) unlinkat(s.dirfd, UPLOAD_LINK_NAME, 0);

    } else if (pos != start) {

        /* the data was closed before its publishing: open it again */

        if (dfd < 0) {
            dfd = openat(s.dirfd, "data", O_WRONLY | O_CLOEXEC);
        }

        if (dfd >= 0 && ftruncate(dfd, start) < 0) {
            /* the state still says start: the next append cuts the rest */
        }
    }

    if (dfd >= 0) {
        close(dfd);
    }

    session_close(&s);
    return rc;
}


/*
 * A session is cancelled as it is, even when suspect: its data is never
 * read (a big session would be hashed for nothing, and one whose data
 * cannot be read could never go).
 */

BLOBSTORE_EXTERN(int)
blobstore_upload_cancel(blobstore_t *bs, const char *repo,
    const char *uuid, blobstore_error_t *err)
{
    int             rc;
    upload_session  s;

    blobstore__error_clear(err);

    rc = session_open(&s, bs, repo, uuid, 1, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    if (unlinkat(s.dirfd, BLOBSTORE__STATE_NAME, 0) < 0) {
        rc = blobstore__sys_error(err, errno, "unlink(\"%s/%s\") failed",
                                  s.dir, BLOBSTORE__STATE_NAME);
        session_close(&s);
        return rc;
    }

    (void) blobstore__rm_rf(s.dir, NULL);
    session_close(&s);

    return BLOBSTORE_OK;
}
