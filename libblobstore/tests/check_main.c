
/*
 * Copyright (C) Hephaestus developers
 */


#include <stdlib.h>

#include "check_fixture.h"


int
main(void)
{
    int       failed;
    SRunner  *sr;

    sr = srunner_create(validate_suite());
    srunner_add_suite(sr, digest_suite());
    srunner_add_suite(sr, upload_suite());
    srunner_add_suite(sr, blob_suite());
    srunner_add_suite(sr, manifest_suite());
    srunner_add_suite(sr, list_suite());
    srunner_add_suite(sr, referrers_suite());
    srunner_add_suite(sr, purge_suite());
    srunner_add_suite(sr, catalog_suite());

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);

    return (failed == 0) ? EXIT_SUCCESS : EXIT_FAILURE;
}
