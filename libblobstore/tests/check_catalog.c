
/*
 * Copyright (C) Hephaestus developers
 */


#include <sys/stat.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_fixture.h"

/* the list's lock, to hold it as a thread at work would */
#include "../src/blobstore_int.h"


static void make_repo(const char *repo);
static void push(const char *repo);
static void journal_path(char *path, size_t size);
static void append_journal(const char *text);
static void check_names(blobstore_strlist_t *list, const char **names,
    size_t count);
static void check_cached(blobstore_t *bs, const char *last, size_t n,
    const char **names, size_t count, int more);
static void check_again(blobstore_t *bs);
static void refresh(blobstore_t *bs);


/* a repository made behind the library's back: no line in the journal */

static void
make_repo(const char *repo)
{
    char  cmd[4200];

    snprintf(cmd, sizeof(cmd),
             "mkdir -p '%s/docker/registry/v2/repositories/%s/_manifests'",
             fx.dir, repo);
    ck_assert_int_eq(system(cmd), 0);
}


/* a repository pushed through the library: noted in the journal */

static void
push(const char *repo)
{
    char  m[80];

    fx_push_image(m, repo, "v1", repo, NULL, NULL);
}


static void
journal_path(char *path, size_t size)
{
    snprintf(path, size, "%s/docker/registry/v2/heph-repositories",
             fx.dir);
}


static void
append_journal(const char *text)
{
    char   path[4096];
    FILE  *f;

    journal_path(path, sizeof(path));
    f = fopen(path, "a");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}


static void
check_names(blobstore_strlist_t *list, const char **names, size_t count)
{
    size_t  i;

    ck_assert_uint_eq(list->count, count);

    for (i = 0; i < count; i++) {
        ck_assert_str_eq(list->items[i], names[i]);
    }
}


static void
check_cached(blobstore_t *bs, const char *last, size_t n,
    const char **names, size_t count, int more)
{
    blobstore_error_t    err;
    blobstore_strlist_t  list;

    ck_assert_int_eq(blobstore_catalog_cached(&list, bs, last, n, &err),
                     BLOBSTORE_OK);
    check_names(&list, names, count);
    ck_assert_int_eq(list.more, more);
    blobstore_strlist_free(&list);
}


static void
check_again(blobstore_t *bs)
{
    blobstore_error_t    err;
    blobstore_strlist_t  list;

    ck_assert_int_eq(blobstore_catalog_cached(&list, bs, NULL, 10, &err),
                     BLOBSTORE_EAGAIN);
    ck_assert_int_eq(err.code, BLOBSTORE_EAGAIN);
    ck_assert_uint_eq(list.count, 0);
    ck_assert_ptr_null(list.items);
}


/* what a thread does for the event loop */

static void
refresh(blobstore_t *bs)
{
    blobstore_error_t    err;
    blobstore_strlist_t  list;

    ck_assert_int_eq(blobstore_catalog(&list, bs, NULL, 0, &err),
                     BLOBSTORE_OK);
    ck_assert_uint_eq(list.count, 0);
    blobstore_strlist_free(&list);
}


/*
 * The list is made, and made again once catalog_ttl old, by
 * blobstore_catalog() only; in between blobstore_catalog_cached() serves
 * it, pages and all.
 */

START_TEST(test_catalog_cached_stale)
{
    blobstore_t  *bs, *none;
    const char   *all[] = { "a", "b/c", "d" };

    make_repo("a");
    make_repo("b/c");
    make_repo("d");

    bs = fx_open_ttl(1);

    check_again(bs);
    refresh(bs);

    check_cached(bs, NULL, 10, all, 3, 0);
    check_cached(bs, NULL, 2, all, 2, 1);
    check_cached(bs, "a", 1, all + 1, 1, 1);
    check_cached(bs, "b/c", 5, all + 2, 1, 0);
    check_cached(bs, "d", 5, NULL, 0, 0);
    check_cached(bs, NULL, 0, NULL, 0, 1);

    usleep(1100 * 1000);
    check_again(bs);
    check_again(bs);

    refresh(bs);
    check_cached(bs, NULL, 10, all, 3, 0);

    /* no list at all: always the thread's work */

    none = fx_open_ttl(0);
    check_again(none);
    refresh(none);
    check_again(none);

    blobstore_close(none);
    blobstore_close(bs);
}
END_TEST


/*
 * A repository pushed since shows at once from memory: a short tail of
 * the journal is taken in on the spot, a long one is left to
 * blobstore_catalog().
 */

START_TEST(test_catalog_cached_fresh)
{
    char          line[64];
    size_t        i;
    blobstore_t  *bs;
    const char   *one[] = { "first" };
    const char   *two[] = { "first", "second" };
    const char   *three[] = { "first", "second", "third" };

    push("first");

    bs = fx_open_ttl(3600);
    refresh(bs);
    check_cached(bs, NULL, 10, one, 1, 0);

    push("second");
    check_cached(bs, NULL, 10, two, 2, 0);

    /* made behind its back: not listed before the list is old */

    make_repo("by/hand");
    check_cached(bs, NULL, 10, two, 2, 0);

    /* 5,000 bytes of lines naming nothing: more than a short tail */

    for (i = 0; i < 200; i++) {
        snprintf(line, sizeof(line), "\nno/such/repository/%04zu\n", i);
        append_journal(line);
    }

    push("third");
    check_again(bs);
    refresh(bs);
    check_cached(bs, NULL, 10, three, 3, 0);

    blobstore_close(bs);
}
END_TEST


/* A thread holding the list (making it, copying a page) is not waited for */

START_TEST(test_catalog_cached_locked)
{
    blobstore_t  *bs;
    const char   *one[] = { "first" };

    push("first");

    bs = fx_open_ttl(3600);
    refresh(bs);
    check_cached(bs, NULL, 10, one, 1, 0);

    ck_assert_int_eq(pthread_mutex_lock(&bs->catalog.lock), 0);
    check_again(bs);
    ck_assert_int_eq(pthread_mutex_unlock(&bs->catalog.lock), 0);

    check_cached(bs, NULL, 10, one, 1, 0);

    blobstore_close(bs);
}
END_TEST


/*
 * A journal truncated (logrotate's copytruncate, by hand) and grown again
 * past what a handle has read is read again whole: reading on from the
 * old offset would start mid-line, or, landing on a line's end, miss the
 * names before it.
 */

START_TEST(test_catalog_journal_truncated)
{
    char                  path[4096];
    blobstore_t          *bs;
    blobstore_error_t     err;
    blobstore_strlist_t   list;
    const char           *before[] = { "aaaa", "bbbb" };
    const char           *lines[] = { "aaaa", "bbbb", "cccc", "dddd",
                                      "eeee" };
    const char           *torn[] = { "aaaa", "bbbb", "cccc", "dddd",
                                     "eeee", "long/name/x", "ooo/q", "pp" };

    journal_path(path, sizeof(path));

    push("aaaa");
    push("bbbb");

    bs = fx_open_ttl(3600);
    refresh(bs);
    check_cached(bs, NULL, 10, before, 2, 0);

    /* "\naaaa\n\nbbbb\n" read: 12 bytes; now a line ends at byte 12 too */

    ck_assert_int_eq(truncate(path, 0), 0);
    push("cccc");
    push("dddd");
    push("eeee");

    ck_assert_int_eq(blobstore_catalog(&list, bs, NULL, 10, &err),
                     BLOBSTORE_OK);
    check_names(&list, lines, 5);
    blobstore_strlist_free(&list);

    /* 18 bytes read; now byte 18 is in the middle of a line */

    ck_assert_int_eq(truncate(path, 0), 0);
    push("long/name/x");
    push("ooo/q");
    push("pp");

    ck_assert_int_eq(blobstore_catalog(&list, bs, NULL, 10, &err),
                     BLOBSTORE_OK);
    check_names(&list, torn, 8);
    blobstore_strlist_free(&list);

    /* from memory: the same, once blobstore_catalog() has read it */

    ck_assert_int_eq(truncate(path, 0), 0);
    push("zzzzzzzzzzzzzzzzzzzz");
    push("yy");
    check_again(bs);

    refresh(bs);
    ck_assert_int_eq(blobstore_catalog_cached(&list, bs, "pp", 10, &err),
                     BLOBSTORE_OK);
    ck_assert_uint_eq(list.count, 2);
    ck_assert_str_eq(list.items[0], "yy");
    ck_assert_str_eq(list.items[1], "zzzzzzzzzzzzzzzzzzzz");
    blobstore_strlist_free(&list);

    blobstore_close(bs);
}
END_TEST


Suite *
catalog_suite(void)
{
    TCase  *tc;
    Suite  *s;

    s = suite_create("catalog");

    tc = tcase_create("catalog from memory only");
    tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
    tcase_add_test(tc, test_catalog_cached_stale);
    tcase_add_test(tc, test_catalog_cached_fresh);
    tcase_add_test(tc, test_catalog_cached_locked);
    suite_add_tcase(s, tc);

    tc = tcase_create("journal cut");
    tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
    tcase_add_test(tc, test_catalog_journal_truncated);
    suite_add_tcase(s, tc);

    return s;
}
