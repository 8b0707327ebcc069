
/*
 * Copyright (C) Hephaestus developers
 */


#ifndef BLOBSTORE_H_INCLUDED
#define BLOBSTORE_H_INCLUDED


#include <stddef.h>
#include <stdint.h>


#ifdef __cplusplus
extern "C" {
#endif


#if defined(__GNUC__)
#define BLOBSTORE_EXTERN(type)                                               \
    __attribute__((visibility("default"))) type
#define BLOBSTORE_WUR  __attribute__((warn_unused_result))
#else
#define BLOBSTORE_EXTERN(type)  type
#define BLOBSTORE_WUR
#endif


/**
 * libblobstore: content-addressed storage of container image blobs and
 * manifests, in the on-disk layout of the filesystem driver of the CNCF
 * distribution registry (registry:2):
 *
 *   <root>/docker/registry/v2/blobs/<alg>/<hex[0:2]>/<hex>/data
 *   <root>/docker/registry/v2/repositories/<name>/_layers/<alg>/<hex>/link
 *   .../<name>/_manifests/revisions/<alg>/<hex>/link
 *   .../<name>/_manifests/tags/<tag>/current/link
 *   .../<name>/_manifests/tags/<tag>/index/<alg>/<hex>/link
 *   .../<name>/_uploads/<uuid>/data, startedat, heph-state
 *   .../<name>/_referrers/<alg>/<subject-hex>/<alg>/<hex>/link
 *
 * A link file holds "<alg>:<hex>" and nothing else.  Every file that
 * becomes visible is written to a temporary name in the same folder and
 * renamed into place, so a reader never sees a partial file.
 *
 * All strings passed in are NUL-terminated.  Every function validates
 * repository names, tags, digests and upload ids itself, so nothing a
 * client sends can reach a path outside the root.
 *
 * A handle is read-only after blobstore_open(), but for the list of
 * repositories it keeps behind a lock of its own (see catalog_ttl): one
 * handle may be used from several threads at once.  The library keeps no
 * global state, never logs and never aborts; errors are returned as a
 * negative code, with the details in a caller-supplied blobstore_error_t
 * (which may be NULL).
 */


typedef struct blobstore_s  blobstore_t;


/** Return codes: BLOBSTORE_OK or one of the negative codes. */
typedef enum {
    BLOBSTORE_OK = 0,
    BLOBSTORE_ENOTFOUND = -1,     /* blob, manifest, tag, repository */
    BLOBSTORE_EINVAL = -2,        /* bad argument: name, tag, digest, id */
    BLOBSTORE_EUNSUPPORTED = -3,  /* digest algorithm not supported */
    BLOBSTORE_EDIGEST = -4,       /* content does not match its digest */
    BLOBSTORE_ERANGE = -5,        /* upload offset is not the current size */
    BLOBSTORE_EBUSY = -6,         /* upload in use by another request */
    BLOBSTORE_EMANIFEST = -7,     /* manifest invalid */
    BLOBSTORE_EBLOBUNKNOWN = -8,  /* manifest refers to a missing blob */
    BLOBSTORE_ETOOBIG = -9,       /* manifest over the size limit */
    BLOBSTORE_ENOSPC = -10,       /* no space left on device, quota */
    BLOBSTORE_EIO = -11,          /* any other system error */
    BLOBSTORE_ENOMEM = -12,
    BLOBSTORE_EAGAIN = -13        /* would block: call the blocking kind */
} blobstore_code_e;


#define BLOBSTORE_MANIFEST_MAX    (4 * 1024 * 1024)

/* "sha512:" and 128 hex digits. */
#define BLOBSTORE_DIGEST_MAX      135
#define BLOBSTORE_UUID_LEN        36
#define BLOBSTORE_NAME_MAX        255
#define BLOBSTORE_TAG_MAX         128
#define BLOBSTORE_MEDIA_TYPE_MAX  255


/**
 * Details of a failure.  code repeats the return value; sys_errno is the
 * errno of the failed system call (0 if none); message is a lower-case
 * sentence for a log; detail is a value for the client, such as the
 * digest of a missing blob ("" if none).
 */
typedef struct {
    int   code;
    int   sys_errno;
    char  message[256];
    char  detail[BLOBSTORE_DIGEST_MAX + 1];
} blobstore_error_t;


#define BLOBSTORE_OPTIONS_VERSION  2

/**
 * Options of blobstore_open().
 *
 * fsync: when non-zero (the default), a blob, manifest, tag or link is
 * flushed to disk, with its folder, before the call that publishes it
 * returns.
 *
 * catalog_ttl (since version 2): seconds for which the handle may serve
 * blobstore_catalog() from the list of repositories it keeps in memory
 * (default 10).  A repository made through any handle, in any process,
 * shows at once; one made or removed behind the library's back (by
 * registry:2, by hand) shows once the list is that old.  0 reads the
 * folders on every call.  Version 1 callers get the default.
 */
typedef struct {
    unsigned int  version;
    int           fsync;
    unsigned int  catalog_ttl;
} blobstore_options_t;

#define BLOBSTORE_CATALOG_TTL   10

#define BLOBSTORE_OPTIONS_INIT                                               \
    { BLOBSTORE_OPTIONS_VERSION, 1, BLOBSTORE_CATALOG_TTL }


/** Facts about a stored blob or manifest. */
typedef struct {
    int64_t  size;
    int64_t  mtime;                  /* seconds since the epoch */
    char     digest[BLOBSTORE_DIGEST_MAX + 1];
    char     media_type[BLOBSTORE_MEDIA_TYPE_MAX + 1]; /* manifests */
    char     subject[BLOBSTORE_DIGEST_MAX + 1];  /* manifests; "" if none */
} blobstore_info_t;


/** A sorted page of names: repositories or tags. */
typedef struct {
    char    **items;
    size_t    count;
    int       more;     /* 1 if further items follow this page */
} blobstore_strlist_t;


/* handle */

/**
 * Open the store whose registry:2 root directory is root (the folder that
 * holds docker/registry/v2).  Nothing is created here: folders are made
 * by the first call that writes, with the rights of the process that makes
 * it, so a server may open the store before it drops its privileges.
 *
 * @param[out] out   the new handle, to be freed with blobstore_close()
 * @param opts       options, or NULL for the defaults
 * @return BLOBSTORE_OK, BLOBSTORE_EINVAL (bad options version),
 *         BLOBSTORE_EIO, BLOBSTORE_ENOMEM
 */
BLOBSTORE_EXTERN(int) blobstore_open(blobstore_t **out, const char *root,
    const blobstore_options_t *opts, blobstore_error_t *err) BLOBSTORE_WUR;

/** Free a handle; NULL is a no-op. */
BLOBSTORE_EXTERN(void) blobstore_close(blobstore_t *bs);

/** A short English text for a return code. */
BLOBSTORE_EXTERN(const char *) blobstore_strerror(int code);

/** Free memory the library returned (referrers JSON). NULL is a no-op. */
BLOBSTORE_EXTERN(void) blobstore_free(void *p);


/* grammars of the OCI distribution specification */

/** BLOBSTORE_OK if name is a valid repository name, else EINVAL. */
BLOBSTORE_EXTERN(int) blobstore_name_valid(const char *name);

/** BLOBSTORE_OK if tag is a valid tag, else EINVAL. */
BLOBSTORE_EXTERN(int) blobstore_tag_valid(const char *tag);

/**
 * BLOBSTORE_OK for a valid sha256 or sha512 digest (lower-case hex of the
 * right length); EUNSUPPORTED for a well-formed digest of another
 * algorithm; EINVAL otherwise.
 */
BLOBSTORE_EXTERN(int) blobstore_digest_valid(const char *digest);


/* blobs */

/**
 * Open a blob of repository repo for reading.  The blob must be linked
 * into the repository (pushed there or mounted).  The caller owns *fd_out
 * and closes it.
 *
 * @return BLOBSTORE_OK, ENOTFOUND, EINVAL, EUNSUPPORTED, EIO
 */
BLOBSTORE_EXTERN(int) blobstore_blob_open(int *fd_out,
    blobstore_info_t *info, blobstore_t *bs, const char *repo,
    const char *digest, blobstore_error_t *err) BLOBSTORE_WUR;

/**
 * Like blobstore_blob_open() without opening: size, mtime and digest.
 */
BLOBSTORE_EXTERN(int) blobstore_blob_stat(blobstore_info_t *info,
    blobstore_t *bs, const char *repo, const char *digest,
    blobstore_error_t *err) BLOBSTORE_WUR;

/**
 * Unlink a blob from repo.  The data stays for other repositories.
 *
 * @return BLOBSTORE_OK, ENOTFOUND, EINVAL, EUNSUPPORTED, EIO
 */
BLOBSTORE_EXTERN(int) blobstore_blob_delete(blobstore_t *bs,
    const char *repo, const char *digest, blobstore_error_t *err)
    BLOBSTORE_WUR;

/**
 * Cross-repository mount: link into repo a blob that is linked in from.
 *
 * @return BLOBSTORE_OK, ENOTFOUND (not in from), EINVAL, EUNSUPPORTED,
 *         EIO, ENOSPC
 */
BLOBSTORE_EXTERN(int) blobstore_blob_mount(blobstore_t *bs,
    const char *repo, const char *digest, const char *from,
    blobstore_error_t *err) BLOBSTORE_WUR;


/* upload sessions: kept on disk, usable from any process */

/**
 * Start an upload session in repo.
 *
 * @param[out] uuid_out  the session id, BLOBSTORE_UUID_LEN characters
 *                       and a NUL
 * @return BLOBSTORE_OK, EINVAL, EIO, ENOSPC
 */
BLOBSTORE_EXTERN(int) blobstore_upload_start(char *uuid_out,
    blobstore_t *bs, const char *repo, blobstore_error_t *err)
    BLOBSTORE_WUR;

/**
 * Number of bytes received so far.
 *
 * @return BLOBSTORE_OK, ENOTFOUND (no such session), EINVAL, EIO
 */
BLOBSTORE_EXTERN(int) blobstore_upload_status(int64_t *size_out,
    blobstore_t *bs, const char *repo, const char *uuid,
    blobstore_error_t *err) BLOBSTORE_WUR;

/**
 * Append len bytes read from fd (from its current position; len -1 reads
 * to end of file) to the session, hashing them as they stream.  offset is
 * where the caller believes the data starts: -1 means "at the end", any
 * other value must equal the current size.  Blocks for as long as the
 * copy takes: call it where blocking is allowed.  On failure the session
 * keeps its previous size, except when the flush of its data fails (EIO
 * or ENOSPC from fdatasync or close): the disk's content is then unknown
 * and the session is dropped, so later calls get ENOTFOUND.
 *
 * @param[out] size_out  the session's size afterwards (may be NULL)
 * @return BLOBSTORE_OK, ENOTFOUND, EINVAL, ERANGE (offset mismatch; the
 *         current size is in *size_out), EBUSY (another request is
 *         appending), EIO, ENOSPC
 */
BLOBSTORE_EXTERN(int) blobstore_upload_append_fd(int64_t *size_out,
    blobstore_t *bs, const char *repo, const char *uuid, int64_t offset,
    int fd, int64_t len, blobstore_error_t *err) BLOBSTORE_WUR;

/**
 * Like blobstore_upload_append_fd(), where fd is open on the regular file
 * path and len is its whole size (path may be NULL).  When the session is
 * empty and path is on the same file system as the store, the file is
 * hard-linked into the session instead of copied, and hashed in place:
 * the caller may remove its own name for it afterwards, but must not
 * write to it any more.
 */
BLOBSTORE_EXTERN(int) blobstore_upload_append_file(int64_t *size_out,
    blobstore_t *bs, const char *repo, const char *uuid, int64_t offset,
    int fd, const char *path, int64_t len, blobstore_error_t *err)
    BLOBSTORE_WUR;

/** Like blobstore_upload_append_fd(), from memory. */
BLOBSTORE_EXTERN(int) blobstore_upload_append(int64_t *size_out,
    blobstore_t *bs, const char *repo, const char *uuid, int64_t offset,
    const void *data, size_t len, blobstore_error_t *err) BLOBSTORE_WUR;

/**
 * Finish a session: check that its content has the given digest, publish
 * the blob and link it into repo, then remove the session.  On EDIGEST
 * the session stays as it was and can be committed again; a failed flush
 * of its data drops it (as blobstore_upload_append_fd()).
 *
 * @return BLOBSTORE_OK, ENOTFOUND, EINVAL, EUNSUPPORTED, EDIGEST, EBUSY,
 *         EIO, ENOSPC
 */
BLOBSTORE_EXTERN(int) blobstore_upload_commit(blobstore_t *bs,
    const char *repo, const char *uuid, const char *digest,
    blobstore_error_t *err) BLOBSTORE_WUR;

/**
 * blobstore_upload_commit() after a last chunk of len bytes read from fd
 * (as blobstore_upload_append_file(); fd -1 for none), in one step under
 * the session's lock: on EDIGEST, or any other failure but a failed flush
 * (which drops the session, as blobstore_upload_append_fd()), the chunk
 * is taken back and the session is as it was before the call.
 *
 * @return as blobstore_upload_commit(), and ERANGE as
 *         blobstore_upload_append_fd()
 */
BLOBSTORE_EXTERN(int) blobstore_upload_commit_fd(blobstore_t *bs,
    const char *repo, const char *uuid, int64_t offset, int fd,
    const char *path, int64_t len, const char *digest,
    blobstore_error_t *err) BLOBSTORE_WUR;

/**
 * Hashing ahead.  While a file that will later be taken into a session
 * whole (a request body a web server is still receiving) is being
 * written, its first bytes can be hashed from another thread as they
 * arrive; blobstore_upload_append_ahead() or commit_ahead() then hash
 * only the rest (and copy the bytes hashed ahead, in the kernel where it
 * can).  The
 * state is the library's own: the bytes are read from the file by
 * blobstore_ahead_update(), and used only when the file taken in is the
 * same one (device and inode) and the session is still as the state
 * found it (empty, or as blobstore_ahead_seed() read it); otherwise it
 * is ignored and everything is hashed as usual.  The caller must not
 * change bytes already hashed.  One thread at a time.
 */
typedef struct blobstore_ahead_s  blobstore_ahead_t;

/** A state for an empty session.  @return BLOBSTORE_OK, ENOMEM */
BLOBSTORE_EXTERN(int) blobstore_ahead_new(blobstore_ahead_t **out,
    blobstore_error_t *err) BLOBSTORE_WUR;

/**
 * Before the first update: makes the state continue the session as it
 * is now, its size and hash so far.  Blocks for one small read.
 *
 * @return BLOBSTORE_OK, ENOTFOUND, EINVAL (bad name or id, or hashing
 *         already begun), EIO
 */
BLOBSTORE_EXTERN(int) blobstore_ahead_seed(blobstore_ahead_t *a,
    blobstore_t *bs, const char *repo, const char *uuid,
    blobstore_error_t *err) BLOBSTORE_WUR;

/**
 * Hashes bytes of fd (a regular file) up to offset to, from where the
 * previous call stopped.  Blocks for as long as reading takes.
 *
 * @return BLOBSTORE_OK, EINVAL (another file than before, or shorter than
 *         to), EIO, ENOMEM; after a failure the state is still good for
 *         the bytes it counts
 */
BLOBSTORE_EXTERN(int) blobstore_ahead_update(blobstore_ahead_t *a, int fd,
    int64_t to, blobstore_error_t *err) BLOBSTORE_WUR;

/** Free a state; NULL is a no-op. */
BLOBSTORE_EXTERN(void) blobstore_ahead_free(blobstore_ahead_t *a);

/** blobstore_upload_append_file(), with what ahead hashed of fd. */
BLOBSTORE_EXTERN(int) blobstore_upload_append_ahead(int64_t *size_out,
    blobstore_t *bs, const char *repo, const char *uuid, int64_t offset,
    int fd, const char *path, int64_t len, const blobstore_ahead_t *ahead,
    blobstore_error_t *err) BLOBSTORE_WUR;

/** blobstore_upload_commit_fd(), with what ahead hashed of fd. */
BLOBSTORE_EXTERN(int) blobstore_upload_commit_ahead(blobstore_t *bs,
    const char *repo, const char *uuid, int64_t offset, int fd,
    const char *path, int64_t len, const char *digest,
    const blobstore_ahead_t *ahead, blobstore_error_t *err) BLOBSTORE_WUR;

/**
 * Cancel a session and remove what it received.
 *
 * @return BLOBSTORE_OK, ENOTFOUND, EINVAL, EBUSY, EIO
 */
BLOBSTORE_EXTERN(int) blobstore_upload_cancel(blobstore_t *bs,
    const char *repo, const char *uuid, blobstore_error_t *err)
    BLOBSTORE_WUR;

/**
 * Remove the upload sessions of every repository, nested ones included,
 * that were last written to before older_than (seconds since the epoch):
 * the newest modification time of a session's files (data, startedat,
 * heph-state) is its last activity.  A session in use (an append, commit
 * or cancel holds it) is left alone.  A session goes in one step: it is
 * moved out of reach of its id, then its files are removed.  Sessions of
 * registry:2 in the same folder are purged alike.
 *
 * Only repository folders and their _uploads are read; the walk goes on
 * past a session or folder it cannot read or remove.  Blocks for as long
 * as the walk takes: call it where blocking is allowed.
 *
 * @param[out] removed_out  the number of sessions removed (may be NULL)
 * @return BLOBSTORE_OK, or the first failure met (EIO, ENOSPC, ENOMEM,
 *         EINVAL for a path too long), with *removed_out still counting
 *         the sessions that went
 */
BLOBSTORE_EXTERN(int) blobstore_upload_purge(size_t *removed_out,
    blobstore_t *bs, int64_t older_than, blobstore_error_t *err)
    BLOBSTORE_WUR;


/* manifests */

/**
 * Store a manifest under reference (a tag, or the digest of data).
 * content_type is the request's Content-Type (may be NULL or "").  The
 * manifest must be a Docker schema 2 manifest or manifest list, or an OCI
 * image manifest or index; its mediaType field, when present, must equal
 * content_type; when content_type is empty the mediaType field decides.
 * Every blob it names must be linked into repo, every child manifest of
 * an index must be in repo.  The exact bytes are kept.  A manifest with a
 * subject is indexed for blobstore_referrers().
 *
 * @param[out] info  digest, size, media type and subject of the manifest
 * @return BLOBSTORE_OK, EINVAL (bad name or reference), EUNSUPPORTED,
 *         EDIGEST (reference is a digest that data does not have),
 *         EMANIFEST, EBLOBUNKNOWN (err->detail names the first missing
 *         digest), ETOOBIG, EIO, ENOSPC
 */
BLOBSTORE_EXTERN(int) blobstore_manifest_put(blobstore_info_t *info,
    blobstore_t *bs, const char *repo, const char *reference,
    const char *content_type, const void *data, size_t len,
    blobstore_error_t *err) BLOBSTORE_WUR;

/**
 * Open the manifest that reference (tag or digest) names in repo.  The
 * caller owns *fd_out.  info gets digest, size, mtime and media type.
 *
 * @return BLOBSTORE_OK, ENOTFOUND, EINVAL, EUNSUPPORTED, EIO
 */
BLOBSTORE_EXTERN(int) blobstore_manifest_open(int *fd_out,
    blobstore_info_t *info, blobstore_t *bs, const char *repo,
    const char *reference, blobstore_error_t *err) BLOBSTORE_WUR;

/**
 * Like blobstore_manifest_open(), but a manifest of at most size bytes is
 * read into buf instead of being left open: then *len_out is its length
 * and *fd_out is -1.  A bigger one is opened (*len_out 0), and the
 * caller owns *fd_out.  Saves a small answer the file's round trip.
 *
 * @return as blobstore_manifest_open()
 */
BLOBSTORE_EXTERN(int) blobstore_manifest_read(int *fd_out, void *buf,
    size_t size, size_t *len_out, blobstore_info_t *info, blobstore_t *bs,
    const char *repo, const char *reference, blobstore_error_t *err)
    BLOBSTORE_WUR;

/** Like blobstore_manifest_open() without opening. */
BLOBSTORE_EXTERN(int) blobstore_manifest_stat(blobstore_info_t *info,
    blobstore_t *bs, const char *repo, const char *reference,
    blobstore_error_t *err) BLOBSTORE_WUR;

/**
 * Delete by tag: the tag goes, the manifest stays.  Delete by digest: the
 * manifest goes from repo, with every tag that points to it and its
 * referrers index entry.
 *
 * @return BLOBSTORE_OK, ENOTFOUND, EINVAL, EUNSUPPORTED, EIO
 */
BLOBSTORE_EXTERN(int) blobstore_manifest_delete(blobstore_t *bs,
    const char *repo, const char *reference, blobstore_error_t *err)
    BLOBSTORE_WUR;


/* listings */

/**
 * Tags of repo in byte order, those after last (NULL or "" for the
 * start), at most n of them.  Free with blobstore_strlist_free().
 *
 * @return BLOBSTORE_OK, ENOTFOUND (no such repository), EINVAL, EIO,
 *         ENOMEM
 */
BLOBSTORE_EXTERN(int) blobstore_tags_list(blobstore_strlist_t *out,
    blobstore_t *bs, const char *repo, const char *last, size_t n,
    blobstore_error_t *err) BLOBSTORE_WUR;

/**
 * Repositories (folders holding _manifests) in byte order, those after
 * last, at most n of them.  Served from the handle's list in memory when
 * catalog_ttl is not 0 (see blobstore_options_t); the first call, and
 * the first once the list is catalog_ttl seconds old, read every
 * repository's folder.
 *
 * @return BLOBSTORE_OK, EIO, ENOMEM
 */
BLOBSTORE_EXTERN(int) blobstore_catalog(blobstore_strlist_t *out,
    blobstore_t *bs, const char *last, size_t n, blobstore_error_t *err)
    BLOBSTORE_WUR;

/**
 * blobstore_catalog() for a thread that must not block, such as an event
 * loop: served from the handle's list in memory only.  It takes in what
 * the journal gained since the last call when that is a few KiB, but it
 * never reads the folders and never waits for the list's lock.  When it
 * cannot answer so, blobstore_catalog() called where blocking is fine
 * brings the list up to date (with n = 0 it does only that), and the
 * next blobstore_catalog_cached() within catalog_ttl is served from it.
 *
 * @return BLOBSTORE_OK, ENOMEM, or EAGAIN: no list is kept (catalog_ttl
 *         0), it is not made yet or catalog_ttl old, the journal was
 *         replaced, truncated or gained too much, or another thread holds
 *         the list; *out is then empty
 */
BLOBSTORE_EXTERN(int) blobstore_catalog_cached(blobstore_strlist_t *out,
    blobstore_t *bs, const char *last, size_t n, blobstore_error_t *err)
    BLOBSTORE_WUR;

/** Free the items of a list and zero it. */
BLOBSTORE_EXTERN(void) blobstore_strlist_free(blobstore_strlist_t *list);

/**
 * The OCI 1.1 referrers of digest in repo, as an OCI image index JSON
 * document (application/vnd.oci.image.index.v1+json) whose manifests
 * hold a descriptor of each referrer (mediaType, digest, size,
 * artifactType, annotations), sorted by digest.  artifact_type, when not
 * NULL nor "", keeps only those of that artifact type.  An unknown digest
 * or repository gives an empty list.  Free *json_out with blobstore_free().
 *
 * @return BLOBSTORE_OK, EINVAL, EUNSUPPORTED, EIO, ENOMEM
 */
BLOBSTORE_EXTERN(int) blobstore_referrers(char **json_out, size_t *len_out,
    blobstore_t *bs, const char *repo, const char *digest,
    const char *artifact_type, blobstore_error_t *err) BLOBSTORE_WUR;


#ifdef __cplusplus
}
#endif

#endif /* BLOBSTORE_H_INCLUDED */
