/* Tests of the small base modules: sha256, err, fileio, par. */
#include <unistd.h>
#include <sys/stat.h>

#include "t.h"
#include "cli.h"
#include "err.h"
#include "fileio.h"
#include "par.h"
#include "sha256.h"

static void test_sha256(void)
{
	char hex[65];
	g4_sha256_hex("", 0, hex);
	CHECK(!strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), "empty: %s", hex);
	g4_sha256_hex("abc", 3, hex);
	CHECK(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), "abc: %s", hex);
	const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	g4_sha256_hex(m, strlen(m), hex);
	CHECK(!strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"), "448 bits: %s", hex);
	/* pieces give the same digest as one call */
	static unsigned char big[100000];
	for (size_t i = 0; i < sizeof big; i++) big[i] = (unsigned char)(i * 7 + 3);
	char one[65], two[65];
	g4_sha256_hex(big, sizeof big, one);
	g4_sha256 s; uint8_t d[32];
	g4_sha256_init(&s);
	for (size_t i = 0; i < sizeof big; i += 333)
		g4_sha256_update(&s, big + i, sizeof big - i < 333 ? sizeof big - i : 333);
	g4_sha256_final(&s, d);
	for (int i = 0; i < 32; i++) sprintf(two + 2 * i, "%02x", d[i]);
	CHECK(!strcmp(one, two), "pieces differ");
}

static void test_err(void)
{
	CHECK(g4_err("bad %s at %d", "thing", 7) == -1, "g4_err returns -1");
	CHECK(!strcmp(g4_errmsg(), "bad thing at 7"), "msg: %s", g4_errmsg());
	g4_err_ctx("reading %s: ", "x.gguf");
	CHECK(!strcmp(g4_errmsg(), "reading x.gguf: bad thing at 7"), "ctx: %s", g4_errmsg());
}

static void test_out_atomic(void)
{
	const char *p = t_tmp("atomic.out");
	unlink(p);
	g4_out *o = g4_out_open(p);
	CHECK(o != NULL, "open: %s", g4_errmsg());
	if (!o) return;
	fputs("hello", g4_out_file(o));
	struct stat st;
	CHECK(stat(p, &st) != 0, "file visible before commit");
	CHECK(g4_out_commit(o) == 0, "commit: %s", g4_errmsg());
	CHECK(stat(p, &st) == 0 && st.st_size == 5, "file after commit");
	mode_t um = umask(022); umask(um);
	CHECK((st.st_mode & 0777) == (0666 & ~um), "mode %o, umask %o", (unsigned)(st.st_mode & 0777), (unsigned)um);
	o = g4_out_open(p);
	fputs("partial", g4_out_file(o));
	g4_out_abort(o);
	CHECK(stat(p, &st) == 0 && st.st_size == 5, "abort kept the old file");
	o = g4_out_open("/nonexistent-dir/x");
	CHECK(o == NULL && strstr(g4_errmsg(), "/nonexistent-dir/x"), "error names the path: %s", g4_errmsg());
}

static void test_out_device(void)
{
	/* Writing to a device goes in place; it must never be replaced. */
	struct stat st;
	if (stat("/dev/full", &st) != 0 || !S_ISCHR(st.st_mode)) { printf("SKIP no /dev/full device\n"); return; }
	g4_out *o = g4_out_open("/dev/full");
	CHECK(o != NULL, "open /dev/full: %s", g4_errmsg());
	if (!o) return;
	static char buf[1 << 16];
	fwrite(buf, 1, sizeof buf, g4_out_file(o));
	CHECK(g4_out_commit(o) != 0, "commit to /dev/full reported no error");
	CHECK(stat("/dev/full", &st) == 0 && S_ISCHR(st.st_mode), "/dev/full is no longer a device");
}

static void test_out_full_disk(void)
{
	/* /dev/full: every write fails with ENOSPC; commit must report it. */
	FILE *f = fopen("/dev/full", "wb");
	if (!f) { printf("SKIP no /dev/full\n"); return; }
	char buf[8192] = {0};
	int rc = g4_write(f, buf, sizeof buf, "/dev/full");
	if (rc == 0) rc = fflush(f) ? -1 : 0;
	CHECK(rc != 0, "writing to /dev/full succeeded");
	fclose(f);
}

static void test_threads(void)
{
	CHECK(g4_ncores() >= 1, "ncores");
	g4_set_threads(0);
	CHECK(g4_threads() == g4_ncores(), "default threads");
	CHECK(g4_parse_threads("3") == 3, "parse 3");
	CHECK(g4_parse_threads("0") == -1, "parse 0 refused");
	CHECK(g4_parse_threads("x") == -1, "parse x refused");
}

/* lib/cli: the number parsers, their bounds and what they refuse. */
static void test_cli_parse(void)
{
	double v = -7;
	int k = -7;
	uint64_t u = 7;
	/* inclusive and exclusive bounds: one implementation */
	CHECK(g4_parse_num_incl("0", 0, 1, &v) == 0 && v == 0, "0 in [0,1]");
	CHECK(g4_parse_num_incl("1", 0, 1, &v) == 0 && v == 1, "1 in [0,1]");
	CHECK(g4_parse_num_incl("1.0000001", 0, 1, &v) == -1 && v == 1, "1.0000001 not in [0,1], *out unchanged");
	CHECK(g4_parse_num_incl("-0.1", 0, 1, &v) == -1, "-0.1 not in [0,1]");
	CHECK(g4_parse_num("0", 0, 1, &v) == -1 && g4_parse_num("1", 0, 1, &v) == -1, "bounds outside (0,1)");
	CHECK(g4_parse_num("0.5", 0, 1, &v) == 0 && v == 0.5, "0.5 in (0,1)");
	const char *bad[] = { "", " ", "x", "1x", "nan", "NaN", "inf", "-inf", "0.5 " };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		CHECK(g4_parse_num_incl(bad[i], -1e300, 1e300, &v) == -1, "'%s' accepted", bad[i]);
	CHECK(g4_parse_num_incl("1e3", 0, 1e6, &v) == 0 && v == 1000, "1e3");
	/* integers */
	CHECK(g4_parse_int("-1", -1, 5, &k) == 0 && k == -1, "-1 in [-1,5]");
	CHECK(g4_parse_int("5", -1, 5, &k) == 0 && k == 5, "5 in [-1,5]");
	CHECK(g4_parse_int("6", -1, 5, &k) == -1 && g4_parse_int("-2", -1, 5, &k) == -1 && k == 5, "out of [-1,5]");
	CHECK(g4_parse_int("1e3", 0, 5000, &k) == -1 && g4_parse_int("2.0", 0, 5, &k) == -1, "not integers");
	CHECK(g4_parse_int("99999999999", 0, 2147483647L, &k) == -1, "past int");
	/* u64 */
	CHECK(g4_parse_u64("0", &u) == 0 && u == 0, "u64 0");
	CHECK(g4_parse_u64("18446744073709551615", &u) == 0 && u == UINT64_MAX, "u64 max");
	const char *badu[] = { "18446744073709551616", "-1", "+1", " 1", "1e3", "0x10", "1.5", "", "1 " };
	for (size_t i = 0; i < sizeof badu / sizeof *badu; i++)
		CHECK(g4_parse_u64(badu[i], &u) == -1 && u == UINT64_MAX, "u64 '%s' accepted", badu[i]);
}

int main(void)
{
	RUN(test_sha256);
	RUN(test_err);
	RUN(test_out_atomic);
	RUN(test_out_full_disk);
	RUN(test_out_device);
	RUN(test_threads);
	RUN(test_cli_parse);
	return t_done();
}
