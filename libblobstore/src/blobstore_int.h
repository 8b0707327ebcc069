
/*
 * Copyright (C) Hephaestus developers
 */


#ifndef BLOBSTORE_INT_H_INCLUDED
#define BLOBSTORE_INT_H_INCLUDED


#include <sys/types.h>
#include <sys/stat.h>
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#include <openssl/sha.h>
#include <jansson.h>

#include <blobstore.h>


#define BLOBSTORE__PATH_MAX     4096
#define BLOBSTORE__ROOT_MAX     2048
#define BLOBSTORE__LINK_MAX     256
#define BLOBSTORE__TREE_DEPTH   200

#define BLOBSTORE__SHA256       1
#define BLOBSTORE__SHA512       2

#define BLOBSTORE__STATE_NAME   "heph-state"

#define BLOBSTORE__MT_DOCKER_MANIFEST                                        \
    "application/vnd.docker.distribution.manifest.v2+json"
#define BLOBSTORE__MT_DOCKER_LIST                                            \
    "application/vnd.docker.distribution.manifest.list.v2+json"
#define BLOBSTORE__MT_OCI_MANIFEST  "application/vnd.oci.image.manifest.v1+json"
#define BLOBSTORE__MT_OCI_INDEX     "application/vnd.oci.image.index.v1+json"


/* the catalog kept in memory: catalog.c */

#define BLOBSTORE__CATALOG_SEAM  64

typedef struct {
    pthread_mutex_t   lock;
    int               locked;        /* lock was made: ttl_ms > 0 */
    int               valid;
    int64_t           ttl_ms;        /* 0: no list is kept */
    int64_t           built_ms;      /* when the folders were read */
    char            **names;         /* sorted in byte order */
    size_t            count;
    size_t            size;
    dev_t             journal_dev;
    ino_t             journal_ino;
    off_t             journal_read;  /* bytes of the journal taken in */
    size_t            seam_len;      /* the last bytes taken in: */
    char              seam[BLOBSTORE__CATALOG_SEAM]; /* a tail follows */
} blobstore__catalog_t;


/*
 * Small manifests read lately, by digest: manifest.c.  A digest names
 * the same bytes for ever, so an entry needs no checking, only the
 * repository's link to it, which every read still checks on disk.
 */

#define BLOBSTORE__MCACHE_SLOTS  128
#define BLOBSTORE__MCACHE_MAX    (16 * 1024)

typedef struct {
    blobstore_info_t  info;          /* info.digest[0] == '\0': empty */
    char             *data;          /* info.size bytes */
} blobstore__mcache_slot_t;

typedef struct {
    pthread_mutex_t           lock;
    int                       locked;   /* lock was made */
    blobstore__mcache_slot_t  slots[BLOBSTORE__MCACHE_SLOTS];
} blobstore__mcache_t;


struct blobstore_s {
    char                  *root;      /* <root>/docker/registry/v2 */
    size_t                 root_len;
    int                    fsync;
    int                    boot_known;
    unsigned char          boot[16];  /* the running kernel's boot id */
    int                    fs_shared; /* tests: no file system is local */
    blobstore__catalog_t   catalog;
    blobstore__mcache_t    mcache;
};


typedef struct {
    int   alg;
    char  alg_name[8];
    char  hex[129];
    char  full[BLOBSTORE_DIGEST_MAX + 1];
} blobstore__digest_t;


typedef struct {
    int  alg;
    union {
        SHA256_CTX  sha256;
        SHA512_CTX  sha512;
    } ctx;
} blobstore__hash_t;


/* store.c */
void blobstore__error_clear(blobstore_error_t *err);
int blobstore__error(blobstore_error_t *err, int code, int sys_errno,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int blobstore__sys_error(blobstore_error_t *err, int sys_errno,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int blobstore__path(char *buf, const blobstore_t *bs,
    blobstore_error_t *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* validate.c */
int blobstore__uuid_valid(const char *uuid);
int blobstore__digest_parse(blobstore__digest_t *out, const char *digest,
    blobstore_error_t *err);
int blobstore__check_repo(const char *repo, blobstore_error_t *err);

/* digest.c */
void blobstore__hash_init(blobstore__hash_t *h, int alg);
void blobstore__hash_update(blobstore__hash_t *h, const void *data,
    size_t len);
void blobstore__hash_final(blobstore__digest_t *out,
    const blobstore__hash_t *h);
int blobstore__hash_fd(blobstore__digest_t *out, int alg, int fd,
    int64_t len, blobstore_error_t *err);
int blobstore__hash_fd_ctx(blobstore__hash_t *h, int alg, int fd,
    int64_t len, blobstore_error_t *err);
void blobstore__hash_buf(blobstore__digest_t *out, int alg,
    const void *data, size_t len);

/* fs.c */
int blobstore__mkdir_p(const blobstore_t *bs, const char *path,
    blobstore_error_t *err);
int blobstore__fsync_dir(const char *path, blobstore_error_t *err);
int blobstore__write_at(int fd, const void *buf, size_t len, off_t off);
int blobstore__write_file(const blobstore_t *bs, const char *dir,
    const char *name, const void *data, size_t len, int sync,
    blobstore_error_t *err);
int blobstore__write_atomic(const blobstore_t *bs, const char *dir,
    const char *name, const void *data, size_t len, blobstore_error_t *err);
int blobstore__read_small(char *buf, size_t size, size_t *len_out,
    const char *path, blobstore_error_t *err);
int blobstore__open_stat(int *fd_out, struct stat *st, const char *path,
    const char *missing, blobstore_error_t *err);
int blobstore__read_link(blobstore__digest_t *out, const char *path,
    blobstore_error_t *err);
int blobstore__write_link(const blobstore_t *bs, const char *dir,
    const blobstore__digest_t *d, blobstore_error_t *err);
int blobstore__open_dir(DIR **out, const char *path,
    blobstore_error_t *err);
int blobstore__read_dir(struct dirent **out, DIR *dir, const char *path,
    blobstore_error_t *err);
int blobstore__rm_rf(const char *path, blobstore_error_t *err);
int blobstore__remove_link_dir(const char *dir, blobstore_error_t *err);
int blobstore__remove_tree(const blobstore_t *bs, const char *path,
    const char *trash_dir, blobstore_error_t *err);
int blobstore__random_hex(char *out, size_t nbytes,
    blobstore_error_t *err);
int blobstore__exists(const char *path);

/* blob.c */
int blobstore__blob_path(char *buf, const blobstore_t *bs,
    const blobstore__digest_t *d, blobstore_error_t *err);
int blobstore__layer_linked(const blobstore_t *bs, const char *repo,
    const blobstore__digest_t *d, blobstore_error_t *err);

/* upload.c */
int blobstore__fs_local(uint32_t type);

/* manifest.c */
void blobstore__mcache_init(blobstore_t *bs);
void blobstore__mcache_free(blobstore_t *bs);
const char *blobstore__manifest_media_type(json_t *root);

int blobstore__catalog_init(blobstore_t *bs, unsigned int ttl);
void blobstore__catalog_free(blobstore_t *bs);
void blobstore__catalog_note(const blobstore_t *bs, const char *repo);
int blobstore__catalog_walk(blobstore_strlist_t *out, blobstore_t *bs,
    const char *last, size_t n, blobstore_error_t *err);
int blobstore__repo_exists(const blobstore_t *bs, const char *repo);
int blobstore__manifest_load(json_t **out, int *fd_out,
    blobstore_info_t *info, const blobstore_t *bs, const char *repo,
    const blobstore__digest_t *d, blobstore_error_t *err);

/* list.c */
int blobstore__page(blobstore_strlist_t *out, char **items, size_t count,
    const char *last, size_t n, blobstore_error_t *err);


#endif /* BLOBSTORE_INT_H_INCLUDED */
