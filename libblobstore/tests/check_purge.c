
/*
 * Copyright (C) Hephaestus developers
 */


#define _XOPEN_SOURCE 700

#include <sys/file.h>
#include <sys/stat.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check_fixture.h"


#define DAY  (24 * 60 * 60)


static void start_in(char *uuid, const char *repo, const char *data);
static void session_path(char *out, size_t size, const char *repo,
    const char *uuid, const char *file);
static void backdate(const char *repo, const char *uuid, const char *file,
    time_t ago);
static void backdate_session(const char *repo, const char *uuid,
    time_t ago);
static void make_old(const char *rel, const char *file);
static size_t purge(time_t age);
static int uploads_entries(const char *repo);
static int tree_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw);
static int tree_cmp(const void *a, const void *b);
static char *tree(void);
static char *without(const char *text, const char *needle);


/* the lines of tree(), gathered by nftw() */

static char    **tree_lines;
static size_t    tree_count;


static void
start_in(char *uuid, const char *repo, const char *data)
{
    int64_t  size;

    ck_assert_int_eq(blobstore_upload_start(uuid, fx.bs, repo, NULL),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_upload_append(&size, fx.bs, repo, uuid, -1,
                                             data, strlen(data), NULL),
                     BLOBSTORE_OK);
}


static void
session_path(char *out, size_t size, const char *repo, const char *uuid,
    const char *file)
{
    char  rel[1024];

    snprintf(rel, sizeof(rel), "repositories/%s/_uploads/%s%s%s", repo,
             uuid, file ? "/" : "", file ? file : "");
    fx_path(out, size, rel);
}


/* Sets the modification time of a session's file (NULL: its folder). */

static void
backdate(const char *repo, const char *uuid, const char *file, time_t ago)
{
    char             path[4096];
    struct timespec  ts[2];

    session_path(path, sizeof(path), repo, uuid, file);

    ts[0].tv_sec = time(NULL) - ago;
    ts[0].tv_nsec = 0;
    ts[1] = ts[0];

    ck_assert_msg(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) == 0,
                  "utimensat(%s)", path);
}


static void
backdate_session(const char *repo, const char *uuid, time_t ago)
{
    backdate(repo, uuid, "data", ago);
    backdate(repo, uuid, "startedat", ago);
    backdate(repo, uuid, "heph-state", ago);
    backdate(repo, uuid, NULL, ago);
}


/* Makes the folders of rel and the file rel/file, two days old. */

static void
make_old(const char *rel, const char *file)
{
    int              fd;
    char            *p, path[4096];
    struct timespec  ts[2];

    fx_path(path, sizeof(path), rel);

    for (p = strchr(path + 1, '/'); p != NULL; p = strchr(p + 1, '/')) {
        *p = '\0';
        (void) mkdir(path, 0755);
        *p = '/';
    }

    (void) mkdir(path, 0755);

    ts[0].tv_sec = time(NULL) - 2 * DAY;
    ts[0].tv_nsec = 0;
    ts[1] = ts[0];

    if (file != NULL) {
        strcat(path, "/");
        strcat(path, file);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, "x", 1), 1);
        close(fd);
        ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
        *strrchr(path, '/') = '\0';
    }

    ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
}


/* Purges the sessions idle for over age seconds; the number removed. */

static size_t
purge(time_t age)
{
    size_t             removed;
    blobstore_error_t  err;

    removed = 12345;
    ck_assert_int_eq(blobstore_upload_purge(&removed, fx.bs,
                                            (int64_t) (time(NULL) - age),
                                            &err),
                     BLOBSTORE_OK);
    ck_assert_str_eq(err.message, "");

    return removed;
}


/* Entries in repo's _uploads, hidden ones included; -1 without one. */

static int
uploads_entries(const char *repo)
{
    int             n;
    DIR            *dir;
    char            rel[1024], path[4096];
    struct dirent  *de;

    snprintf(rel, sizeof(rel), "repositories/%s/_uploads", repo);
    fx_path(path, sizeof(path), rel);

    dir = opendir(path);
    if (dir == NULL) {
        return -1;
    }

    n = 0;

    while ((de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            n++;
        }
    }

    closedir(dir);
    return n;
}


static int
tree_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
    char  line[4200];

    (void) ftw;

    if (flag == FTW_D || flag == FTW_DP) {
        snprintf(line, sizeof(line), "d %s", path);

    } else {
        snprintf(line, sizeof(line), "f %s %lld %lld", path,
                 (long long) st->st_size, (long long) st->st_mtime);
    }

    tree_lines = realloc(tree_lines, (tree_count + 1) * sizeof(char *));
    ck_assert_ptr_nonnull(tree_lines);
    tree_lines[tree_count] = strdup(line);
    ck_assert_ptr_nonnull(tree_lines[tree_count]);
    tree_count++;

    return 0;
}


static int
tree_cmp(const void *a, const void *b)
{
    return strcmp(*(char * const *) a, *(char * const *) b);
}


/*
 * Every folder and file of the store, sorted, a line each: the files
 * with their size and modification time.  The caller frees it.
 */

static char *
tree(void)
{
    char    *all;
    size_t   i, len;

    tree_lines = NULL;
    tree_count = 0;
    ck_assert_int_eq(nftw(fx.dir, tree_entry, 16, FTW_PHYS), 0);
    qsort(tree_lines, tree_count, sizeof(char *), tree_cmp);

    len = 1;
    for (i = 0; i < tree_count; i++) {
        len += strlen(tree_lines[i]) + 1;
    }

    all = malloc(len);
    ck_assert_ptr_nonnull(all);
    all[0] = '\0';

    for (i = 0; i < tree_count; i++) {
        strcat(all, tree_lines[i]);
        strcat(all, "\n");
        free(tree_lines[i]);
    }

    free(tree_lines);
    tree_lines = NULL;

    return all;
}


/* The lines of text that do not hold needle.  The caller frees it. */

static char *
without(const char *text, const char *needle)
{
    char        *out, *line;
    const char  *p, *q;

    out = malloc(strlen(text) + 1);
    ck_assert_ptr_nonnull(out);
    out[0] = '\0';

    for (p = text; *p != '\0'; p = q + 1) {
        q = strchr(p, '\n');
        ck_assert_ptr_nonnull(q);
        line = strndup(p, (size_t) (q - p + 1));
        ck_assert_ptr_nonnull(line);

        if (strstr(line, needle) == NULL) {
            strcat(out, line);
        }

        free(line);
    }

    return out;
}


START_TEST(test_purge_idle)
{
    char               uuid[BLOBSTORE_UUID_LEN + 1], path[4096];
    int64_t            size;
    blobstore_error_t  err;

    start_in(uuid, "r", "stale");
    backdate_session("r", uuid, 2 * DAY);

    ck_assert_uint_eq(purge(DAY), 1);

    session_path(path, sizeof(path), "r", uuid, NULL);
    ck_assert_int_ne(access(path, F_OK), 0);

    /* nothing hidden is left behind, and the folder of sessions stays */

    ck_assert_int_eq(uploads_entries("r"), 0);

    ck_assert_int_eq(blobstore_upload_status(&size, fx.bs, "r", uuid, &err),
                     BLOBSTORE_ENOTFOUND);
    ck_assert_int_eq(blobstore_upload_append(&size, fx.bs, "r", uuid, -1,
                                             "x", 1, &err),
                     BLOBSTORE_ENOTFOUND);

    ck_assert_uint_eq(purge(DAY), 0);
}
END_TEST


START_TEST(test_purge_fresh_kept)
{
    char               fresh[BLOBSTORE_UUID_LEN + 1];
    char               old[BLOBSTORE_UUID_LEN + 1], d[80];
    int64_t            size;
    blobstore_error_t  err;

    start_in(old, "r", "stale");
    start_in(fresh, "r", "fresh ");
    backdate_session("r", old, 2 * DAY);

    /* an hour idle is not a day */

    backdate_session("r", fresh, 60 * 60);

    ck_assert_uint_eq(purge(DAY), 1);
    ck_assert_int_eq(uploads_entries("r"), 1);

    ck_assert_int_eq(blobstore_upload_status(&size, fx.bs, "r", fresh, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(size, 6);
    ck_assert_int_eq(blobstore_upload_append(&size, fx.bs, "r", fresh, 6,
                                             "blob", 4, &err),
                     BLOBSTORE_OK);

    fx_sha256(d, "fresh blob", 10);
    ck_assert_int_eq(blobstore_upload_commit(fx.bs, "r", fresh, d, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_upload_status(&size, fx.bs, "r", old, &err),
                     BLOBSTORE_ENOTFOUND);
}
END_TEST


/* The newest of a session's files tells when it was last written to. */

START_TEST(test_purge_last_activity)
{
    char  uuid[BLOBSTORE_UUID_LEN + 1], path[4096];

    start_in(uuid, "r", "abc");
    backdate("r", uuid, "startedat", 10 * DAY);
    backdate("r", uuid, NULL, 10 * DAY);
    backdate("r", uuid, "heph-state", 2 * DAY);

    /* the data was written an hour ago */

    backdate("r", uuid, "data", 60 * 60);
    ck_assert_uint_eq(purge(DAY), 0);

    backdate("r", uuid, "data", 3 * DAY);
    ck_assert_uint_eq(purge(3 * DAY), 0);
    ck_assert_uint_eq(purge(DAY), 1);

    session_path(path, sizeof(path), "r", uuid, NULL);
    ck_assert_int_ne(access(path, F_OK), 0);
}
END_TEST


START_TEST(test_purge_locked_kept)
{
    int                fd;
    char               uuid[BLOBSTORE_UUID_LEN + 1], path[4096];
    int64_t            size;
    blobstore_error_t  err;

    start_in(uuid, "r", "busy");
    backdate_session("r", uuid, 2 * DAY);

    /* the lock an append or a commit holds */

    session_path(path, sizeof(path), "r", uuid, NULL);
    fd = open(path, O_RDONLY | O_DIRECTORY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(flock(fd, LOCK_EX | LOCK_NB), 0);

    ck_assert_uint_eq(purge(DAY), 0);
    ck_assert_int_eq(access(path, F_OK), 0);
    ck_assert_int_eq(blobstore_upload_status(&size, fx.bs, "r", uuid, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(size, 4);

    close(fd);

    ck_assert_uint_eq(purge(DAY), 1);
    ck_assert_int_ne(access(path, F_OK), 0);
}
END_TEST


START_TEST(test_purge_nested)
{
    char         m[80];
    char         a[BLOBSTORE_UUID_LEN + 1], ab[BLOBSTORE_UUID_LEN + 1];
    char         abc[BLOBSTORE_UUID_LEN + 1], xyz[BLOBSTORE_UUID_LEN + 1];
    char         keep[BLOBSTORE_UUID_LEN + 1], path[4096];
    size_t       removed;
    const char  *repos[] = { "a", "a/b", "a/b/c", "x/y/z" };

    fx_push_image(m, "a/b", "v1", "layer", NULL, NULL);

    start_in(a, "a", "1");
    start_in(ab, "a/b", "2");
    start_in(abc, "a/b/c", "3");
    start_in(xyz, "x/y/z", "4");
    start_in(keep, "a/b/c", "5");

    backdate_session("a", a, 2 * DAY);
    backdate_session("a/b", ab, 2 * DAY);
    backdate_session("a/b/c", abc, 2 * DAY);
    backdate_session("x/y/z", xyz, 2 * DAY);

    ck_assert_int_eq(blobstore_upload_purge(&removed, fx.bs,
                                            (int64_t) time(NULL) - DAY,
                                            NULL),
                     BLOBSTORE_OK);
    ck_assert_uint_eq(removed, 4);

    ck_assert_int_eq(uploads_entries(repos[0]), 0);
    ck_assert_int_eq(uploads_entries(repos[1]), 0);
    ck_assert_int_eq(uploads_entries(repos[2]), 1);
    ck_assert_int_eq(uploads_entries(repos[3]), 0);

    session_path(path, sizeof(path), "a/b/c", keep, "data");
    ck_assert_int_eq(access(path, F_OK), 0);
}
END_TEST


/*
 * Only idle sessions go: not the repository's content, nor old files in
 * _manifests or _layers that look like sessions, nor what _uploads holds
 * that is not a session.
 */

START_TEST(test_purge_nothing_else)
{
    char                 m[80], d[80], rel[1024];
    char                 uuid[BLOBSTORE_UUID_LEN + 1];
    char                 old[BLOBSTORE_UUID_LEN + 1];
    char                *before, *after, *filtered;
    blobstore_error_t    err;
    blobstore_strlist_t  list;

    fx_push_image(m, "r", "v1", "layer", NULL, NULL);
    fx_push_image(m, "r/sub", "v2", "other", NULL, NULL);

    start_in(uuid, "r", "kept");
    backdate_session("r", uuid, 60 * 60);

    snprintf(rel, sizeof(rel),
             "repositories/r/_manifests/_uploads/%s", uuid);
    make_old(rel, "data");
    snprintf(rel, sizeof(rel), "repositories/r/_layers/%s", uuid);
    make_old(rel, "data");
    make_old("repositories/r/_uploads/not-a-session", "data");
    make_old("repositories/_uploads/00000000-0000-4000-8000-000000000000",
             "data");

    fx_sha256(d, "kept", 4);
    start_in(old, "r/sub", "old");
    backdate_session("r/sub", old, 2 * DAY);

    before = tree();
    ck_assert_uint_eq(purge(DAY), 1);
    after = tree();

    /* the same but for the old session's folder and its files */

    filtered = without(before, old);
    ck_assert_str_eq(after, filtered);
    free(filtered);

    free(before);
    free(after);

    ck_assert_int_eq(blobstore_upload_commit(fx.bs, "r", uuid, d, &err),
                     BLOBSTORE_OK);
    ck_assert_int_eq(blobstore_catalog(&list, fx.bs, NULL, 10, &err),
                     BLOBSTORE_OK);
    ck_assert_uint_eq(list.count, 2);
    ck_assert_str_eq(list.items[0], "r");
    ck_assert_str_eq(list.items[1], "r/sub");
    blobstore_strlist_free(&list);
}
END_TEST


/* A purge cut short leaves a hidden folder: the next one removes it. */

START_TEST(test_purge_leftovers)
{
    char  uuid[BLOBSTORE_UUID_LEN + 1];

    start_in(uuid, "r", "fresh");
    make_old("repositories/r/_uploads/.trash-0011223344556677/hashstates",
             "0");

    ck_assert_int_eq(uploads_entries("r"), 2);
    ck_assert_uint_eq(purge(DAY), 0);
    ck_assert_int_eq(uploads_entries("r"), 1);
}
END_TEST


/* registry:2's sessions: data, startedat and hashstates, no heph-state. */

START_TEST(test_purge_registry2)
{
    const char  *uuid = "0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d";
    char         rel[1024];

    snprintf(rel, sizeof(rel), "repositories/r2/_uploads/%s", uuid);
    make_old(rel, "data");
    make_old(rel, "startedat");
    snprintf(rel, sizeof(rel),
             "repositories/r2/_uploads/%s/hashstates/sha256", uuid);
    make_old(rel, "0");

    ck_assert_uint_eq(purge(3 * DAY), 0);
    ck_assert_uint_eq(purge(DAY), 1);
    ck_assert_int_eq(uploads_entries("r2"), 0);
}
END_TEST


/* With syncing on, as a server runs it. */

START_TEST(test_purge_fsync)
{
    char                 uuid[BLOBSTORE_UUID_LEN + 1];
    size_t               removed;
    blobstore_t         *bs;
    blobstore_options_t  opts = BLOBSTORE_OPTIONS_INIT;

    ck_assert_int_eq(opts.fsync, 1);
    ck_assert_int_eq(blobstore_open(&bs, fx.dir, &opts, NULL),
                     BLOBSTORE_OK);

    start_in(uuid, "r", "abc");
    backdate_session("r", uuid, 2 * DAY);

    ck_assert_int_eq(blobstore_upload_purge(&removed, bs,
                                            (int64_t) time(NULL) - DAY,
                                            NULL),
                     BLOBSTORE_OK);
    ck_assert_uint_eq(removed, 1);
    ck_assert_int_eq(uploads_entries("r"), 0);

    blobstore_close(bs);
}
END_TEST


START_TEST(test_purge_empty)
{
    size_t             removed;
    blobstore_error_t  err;

    /* no repositories folder yet */

    removed = 1;
    ck_assert_int_eq(blobstore_upload_purge(&removed, fx.bs, INT64_MAX,
                                            &err),
                     BLOBSTORE_OK);
    ck_assert_uint_eq(removed, 0);

    ck_assert_int_eq(blobstore_upload_purge(NULL, fx.bs, INT64_MAX, NULL),
                     BLOBSTORE_OK);
}
END_TEST


Suite *
purge_suite(void)
{
    TCase  *tc;
    Suite  *s;

    s = suite_create("purge");

    tc = tcase_create("sessions");
    tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
    tcase_add_test(tc, test_purge_idle);
    tcase_add_test(tc, test_purge_fresh_kept);
    tcase_add_test(tc, test_purge_last_activity);
    tcase_add_test(tc, test_purge_locked_kept);
    tcase_add_test(tc, test_purge_registry2);
    tcase_add_test(tc, test_purge_fsync);
    tcase_add_test(tc, test_purge_empty);
    suite_add_tcase(s, tc);

    tc = tcase_create("walk");
    tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
    tcase_add_test(tc, test_purge_nested);
    tcase_add_test(tc, test_purge_nothing_else);
    tcase_add_test(tc, test_purge_leftovers);
    suite_add_tcase(s, tc);

    return s;
}
