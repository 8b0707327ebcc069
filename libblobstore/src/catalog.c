
/*
 * Copyright (C) Hephaestus developers
 */


/*
 * The catalog, kept in memory per handle.
 *
 * Listing repositories means opening every repository's folder (a
 * repository may hold nested ones), so a handle keeps the sorted list of
 * all names and serves pages from it.  The list is kept current by a
 * journal, <root>/docker/registry/v2/heph-repositories, to which every
 * handle, in any process, appends "\nname\n" after it creates a
 * repository's _manifests folder: a handle reads what was added since it
 * last looked, one stat() a call when nothing was.  Changes that bypass
 * the journal (registry:2 writing to the same folder, a folder copied in
 * or removed by hand) show once the list is older than catalog_ttl
 * seconds and is read again from the folders.
 *
 * blobstore_catalog_cached() is the same for an event loop: it gives up
 * with BLOBSTORE_EAGAIN rather than read the folders, a long tail of the
 * journal, or wait for the lock, and leaves that to blobstore_catalog()
 * in a thread.
 */


#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blobstore_int.h"


#define CATALOG_JOURNAL       "/heph-repositories"
#define CATALOG_TAIL_MAX      (1024 * 1024)

/* a tail the event loop takes in: a few dozen lines, a stat() each */
#define CATALOG_TAIL_INLINE   2048


static int catalog_copy(blobstore_strlist_t *out,
    const blobstore__catalog_t *c, const char *last, size_t n,
    blobstore_error_t *err);
static int catalog_refresh(blobstore_t *bs, int nowait,
    blobstore_error_t *err);
static int catalog_rebuild(blobstore__catalog_t *c, blobstore_t *bs,
    const char *path, blobstore_error_t *err);
static void catalog_mark(blobstore__catalog_t *c, const char *path);
static int catalog_tail(blobstore__catalog_t *c, blobstore_t *bs,
    const char *path, off_t size);
static int catalog_insert(blobstore__catalog_t *c, const char *name,
    size_t len);
static size_t catalog_after(const blobstore__catalog_t *c,
    const char *last);
static void catalog_drop(blobstore__catalog_t *c);
static int64_t monotonic_ms(void);


int
blobstore__catalog_init(blobstore_t *bs, unsigned int ttl)
{
    memset(&bs->catalog, 0, sizeof(blobstore__catalog_t));
    bs->catalog.ttl_ms = (int64_t) ttl * 1000;

    if (ttl == 0) {
        return BLOBSTORE_OK;
    }

    if (pthread_mutex_init(&bs->catalog.lock, NULL) != 0) {
        return BLOBSTORE_ENOMEM;
    }

    bs->catalog.locked = 1;
    return BLOBSTORE_OK;
}


void
blobstore__catalog_free(blobstore_t *bs)
{
    catalog_drop(&bs->catalog);

    if (bs->catalog.locked) {
        (void) pthread_mutex_destroy(&bs->catalog.lock);
    }
}


/*
 * Notes in the journal that repo was just given its _manifests folder.
 * Nothing is flushed: the lists it keeps current live in memory only.
 * A failed write leaves the name out until the next reading of the
 * folders, which is all the catalog_ttl promises.
 */

void
blobstore__catalog_note(const blobstore_t *bs, const char *repo)
{
    int     fd;
    char    path[BLOBSTORE__PATH_MAX];
    char    line[BLOBSTORE_NAME_MAX + 3];
    size_t  len;

    len = strlen(repo);
    if (len > BLOBSTORE_NAME_MAX
        || blobstore__path(path, bs, NULL, CATALOG_JOURNAL) != BLOBSTORE_OK)
    {
        return;
    }

    /*
     * The leading newline ends whatever a crash may have left unended,
     * so that the name stays a line of its own.
     */

    line[0] = '\n';
    memcpy(line + 1, repo, len);
    line[len + 1] = '\n';

    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        return;
    }

    /* one write: O_APPEND keeps it whole beside other writers */

    if (write(fd, line, len + 2) < 0) {
        /* the next reading of the folders finds the repository */
    }

    close(fd);
}


BLOBSTORE_EXTERN(int)
blobstore_catalog(blobstore_strlist_t *out, blobstore_t *bs,
    const char *last, size_t n, blobstore_error_t *err)
{
    int                    rc;
    blobstore__catalog_t  *c;

    c = &bs->catalog;

    if (c->ttl_ms == 0) {
        return blobstore__catalog_walk(out, bs, last, n, err);
    }

    blobstore__error_clear(err);
    memset(out, 0, sizeof(blobstore_strlist_t));

    if (pthread_mutex_lock(&c->lock) != 0) {
        return blobstore__catalog_walk(out, bs, last, n, err);
    }

    rc = catalog_refresh(bs, 0, err);
    if (rc == BLOBSTORE_OK) {
        rc = catalog_copy(out, c, last, n, err);
    }

    (void) pthread_mutex_unlock(&c->lock);
    return rc;
}


BLOBSTORE_EXTERN(int)
blobstore_catalog_cached(blobstore_strlist_t *out, blobstore_t *bs,
    const char *last, size_t n, blobstore_error_t *err)
{
    int                    rc;
    blobstore__catalog_t  *c;

    c = &bs->catalog;

    blobstore__error_clear(err);
    memset(out, 0, sizeof(blobstore_strlist_t));

    if (c->ttl_ms == 0) {
        return blobstore__error(err, BLOBSTORE_EAGAIN, 0,
                                "no list of repositories is kept");
    }

    if (pthread_mutex_trylock(&c->lock) != 0) {
        return blobstore__error(err, BLOBSTORE_EAGAIN, 0,
                                "the list of repositories is in use");
    }

    rc = catalog_refresh(bs, 1, err);
    if (rc == BLOBSTORE_OK) {
        rc = catalog_copy(out, c, last, n, err);
    }

    (void) pthread_mutex_unlock(&c->lock);
    return rc;
}


/* The page after last, at most n names; called with the lock held. */

static int
catalog_copy(blobstore_strlist_t *out, const blobstore__catalog_t *c,
    const char *last, size_t n, blobstore_error_t *err)
{
    char   **items;
    size_t   i, start, k;

    start = catalog_after(c, last);
    k = c->count - start;
    if (k > n) {
        k = n;
    }

    items = malloc((k == 0 ? 1 : k) * sizeof(char *));
    if (items == NULL) {
        return blobstore__error(err, BLOBSTORE_ENOMEM, ENOMEM,
                                "out of memory");
    }

    out->items = items;

    for (i = 0; i < k; i++) {
        items[i] = strdup(c->names[start + i]);
        if (items[i] == NULL) {
            blobstore_strlist_free(out);
            return blobstore__error(err, BLOBSTORE_ENOMEM, ENOMEM,
                                    "out of memory");
        }

        out->count++;
    }

    out->more = (start + k < c->count) ? 1 : 0;

    return BLOBSTORE_OK;
}


/*
 * Brings the list up to date; called with the lock held.  With nowait,
 * what would take more than a short tail of the journal is left undone:
 * BLOBSTORE_EAGAIN.
 */

static int
catalog_refresh(blobstore_t *bs, int nowait, blobstore_error_t *err)
{
    int                    rc;
    char                   path[BLOBSTORE__PATH_MAX];
    off_t                  tail;
    int64_t                now;
    struct stat            st;
    blobstore__catalog_t  *c;

    c = &bs->catalog;

    rc = blobstore__path(path, bs, err, CATALOG_JOURNAL);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    if (stat(path, &st) < 0) {
        memset(&st, 0, sizeof(struct stat));
    }

    now = monotonic_ms();
    tail = st.st_size - c->journal_read;

    if (c->valid
        && now - c->built_ms < c->ttl_ms
        && st.st_dev == c->journal_dev
        && st.st_ino == c->journal_ino
        && tail >= 0
        && tail <= (nowait ? CATALOG_TAIL_INLINE : CATALOG_TAIL_MAX))
    {
        if (tail == 0
            || catalog_tail(c, bs, path, st.st_size) == BLOBSTORE_OK)
        {
            return BLOBSTORE_OK;
        }
    }

    if (nowait) {
        return blobstore__error(err, BLOBSTORE_EAGAIN, 0,
                                "the list of repositories is out of date");
    }

    return catalog_rebuild(c, bs, path, err);
}


/* Reads every name from the folders. */

static int
catalog_rebuild(blobstore__catalog_t *c, blobstore_t *bs, const char *path,
    blobstore_error_t *err)
{
    int                  rc;
    int64_t              started;
    blobstore_strlist_t  all;

    catalog_drop(c);
    started = monotonic_ms();

    catalog_mark(c, path);

    rc = blobstore__catalog_walk(&all, bs, NULL, (size_t) -1, err);
    if (rc != BLOBSTORE_OK) {
        return rc;
    }

    c->names = all.items;
    c->count = all.count;
    c->size = all.count;
    c->built_ms = started;
    c->valid = 1;

    return BLOBSTORE_OK;
}


/*
 * Notes where the journal ends, before the folders are read: a name it
 * gains from here on is read again from it, at worst twice.  Its last
 * bytes are kept, to make sure later that it still holds them there.
 * When they cannot be read, the journal is read again from its start.
 */

static void
catalog_mark(blobstore__catalog_t *c, const char *path)
{
    int          fd;
    size_t       len;
    struct stat  st;

    c->journal_dev = 0;
    c->journal_ino = 0;
    c->journal_read = 0;
    c->seam_len = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return;
    }

    if (fstat(fd, &st) == 0) {
        c->journal_dev = st.st_dev;
        c->journal_ino = st.st_ino;

        len = (st.st_size < BLOBSTORE__CATALOG_SEAM)
              ? (size_t) st.st_size : BLOBSTORE__CATALOG_SEAM;

        if (pread(fd, c->seam, len, st.st_size - (off_t) len)
            == (ssize_t) len)
        {
            c->journal_read = st.st_size;
            c->seam_len = len;
        }
    }

    close(fd);
}


/*
 * Adds the names the journal gained up to size.  Only whole lines are
 * taken; a line that is not the name of a repository here (a torn write
 * left by a crash) is skipped.  BLOBSTORE_EAGAIN when the list must be
 * read again from the folders: out of memory, or the journal no longer
 * holds the bytes last taken in where they were, as when it was
 * truncated (logrotate's copytruncate, by hand) and has grown again past
 * that point, so that reading on from there would read out of frame.
 */

static int
catalog_tail(blobstore__catalog_t *c, blobstore_t *bs, const char *path,
    off_t size)
{
    int      fd;
    char    *buf, *p, *end, *nl;
    off_t    from;
    size_t   want, len;
    ssize_t  got;

    from = c->journal_read - (off_t) c->seam_len;
    want = (size_t) (size - from);

    buf = malloc(want);
    if (buf == NULL) {
        goto failed;
    }

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        goto failed;
    }

    got = pread(fd, buf, want, from);
    close(fd);

    if (got <= (ssize_t) c->seam_len
        || memcmp(buf, c->seam, c->seam_len) != 0)
    {
        goto failed;
    }

    p = buf + c->seam_len;
    end = buf + got;

    while ((nl = memchr(p, '\n', (size_t) (end - p))) != NULL) {
        *nl = '\0';

        if (nl - p > 0
            && (size_t) (nl - p) <= BLOBSTORE_NAME_MAX
            && blobstore_name_valid(p) == BLOBSTORE_OK
            && blobstore__repo_exists(bs, p)
            && catalog_insert(c, p, (size_t) (nl - p)) != BLOBSTORE_OK)
        {
            goto failed;
        }

        *nl = '\n';
        c->journal_read += (nl + 1) - p;
        p = nl + 1;
    }

    len = (size_t) (p - buf);
    if (len > BLOBSTORE__CATALOG_SEAM) {
        len = BLOBSTORE__CATALOG_SEAM;
    }

    memcpy(c->seam, p - len, len);
    c->seam_len = len;

    free(buf);
    return BLOBSTORE_OK;

failed:

    free(buf);
    c->valid = 0;
    return BLOBSTORE_EAGAIN;
}


static int
catalog_insert(blobstore__catalog_t *c, const char *name, size_t len)
{
    char    **names, *copy;
    size_t    i, size;

    i = catalog_after(c, name);
    if (i > 0 && strcmp(c->names[i - 1], name) == 0) {
        return BLOBSTORE_OK;
    }

    if (c->count == c->size) {
        size = (c->size < 64) ? 64 : c->size * 2;
        names = realloc(c->names, size * sizeof(char *));
        if (names == NULL) {
            return BLOBSTORE_ENOMEM;
        }

        c->names = names;
        c->size = size;
    }

    copy = malloc(len + 1);
    if (copy == NULL) {
        return BLOBSTORE_ENOMEM;
    }

    memcpy(copy, name, len + 1);

    memmove(&c->names[i + 1], &c->names[i], (c->count - i) * sizeof(char *));
    c->names[i] = copy;
    c->count++;

    return BLOBSTORE_OK;
}


/* The index of the first name after last in byte order. */

static size_t
catalog_after(const blobstore__catalog_t *c, const char *last)
{
    size_t  lo, hi, mid;

    if (last == NULL || last[0] == '\0') {
        return 0;
    }

    lo = 0;
    hi = c->count;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;

        if (strcmp(c->names[mid], last) <= 0) {
            lo = mid + 1;

        } else {
            hi = mid;
        }
    }

    return lo;
}


static void
catalog_drop(blobstore__catalog_t *c)
{
    size_t  i;

    for (i = 0; i < c->count; i++) {
        free(c->names[i]);
    }

    free(c->names);
    c->names = NULL;
    c->count = 0;
    c->size = 0;
    c->valid = 0;
}


static int64_t
monotonic_ms(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
