/* privs_path_needs_dac() (src/privs.c): whether a path the daemon writes
 * after the capability drop is still usable by plain owner/group/other
 * permission bits. Cases that need another owner run only as root (chown);
 * the drop itself is checked on live daemons by tests/netns/privs.sh. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "privs.h"

static char dir[64], path[128];

static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/check_privs.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	chmod(dir, 0700);
}

static void teardown(void)
{
	snprintf(path, sizeof path, "%s/f", dir);
	unlink(path);
	chmod(dir, 0700);
	rmdir(dir);
}

static void put_file(mode_t mode)
{
	FILE *f;

	snprintf(path, sizeof path, "%s/f", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(chmod(path, mode), 0);
}

START_TEST(test_needs_dac_own_dir)
{
	ck_assert(!privs_path_needs_dac(dir));
}
END_TEST

START_TEST(test_needs_dac_own_file_0644)
{
	put_file(0644);
	ck_assert(!privs_path_needs_dac(path));
}
END_TEST

START_TEST(test_needs_dac_missing_file_in_own_dir)
{
	snprintf(path, sizeof path, "%s/absent", dir);
	ck_assert(!privs_path_needs_dac(path));
}
END_TEST

START_TEST(test_needs_dac_own_dir_read_only)
{
	ck_assert_int_eq(chmod(dir, 0500), 0);
	ck_assert(privs_path_needs_dac(dir));
	snprintf(path, sizeof path, "%s/absent", dir);
	ck_assert(privs_path_needs_dac(path));	/* cannot create the temp file */
}
END_TEST

START_TEST(test_needs_dac_own_file_unreadable)
{
	put_file(0200);
	ck_assert(privs_path_needs_dac(path));
}
END_TEST

START_TEST(test_needs_dac_foreign_dir)
{
	if (geteuid() != 0)
		return;		/* cannot chown without root */
	ck_assert_int_eq(chown(dir, 65534, 65534), 0);
	ck_assert(privs_path_needs_dac(dir));
	ck_assert_int_eq(chmod(dir, 0777), 0);	/* "other" may write: fine */
	ck_assert(!privs_path_needs_dac(dir));
	ck_assert_int_eq(chown(dir, 0, 0), 0);
}
END_TEST

START_TEST(test_needs_dac_empty)
{
	ck_assert(!privs_path_needs_dac(NULL));
	ck_assert(!privs_path_needs_dac(""));
}
END_TEST

static Suite *suite_privs(void)
{
	Suite *s = suite_create("privs");
	TCase *tc = tcase_create("needs_dac");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_needs_dac_own_dir);
	tcase_add_test(tc, test_needs_dac_own_file_0644);
	tcase_add_test(tc, test_needs_dac_missing_file_in_own_dir);
	tcase_add_test(tc, test_needs_dac_own_dir_read_only);
	tcase_add_test(tc, test_needs_dac_own_file_unreadable);
	tcase_add_test(tc, test_needs_dac_foreign_dir);
	tcase_add_test(tc, test_needs_dac_empty);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite_privs());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
