/* Tests of the safetensors reader (lib/safetensors.c) on files the test
 * writes itself: one file, a sharded folder with and without an index, every
 * dtype converted to f32, and malformed headers that must fail clearly. */
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "t.h"
#include "err.h"
#include "safetensors.h"

/* Builds a file image: u64 header length, header, data. */
static uint8_t *image(const char *hdr, const void *data, size_t nd, size_t *n)
{
	size_t h = strlen(hdr);
	uint64_t hl = h;
	uint8_t *b = malloc(8 + h + nd + 1);
	memcpy(b, &hl, 8);
	memcpy(b + 8, hdr, h);
	if (nd)
		memcpy(b + 8 + h, data, nd);
	*n = 8 + h + nd;
	return b;
}

static int write_file(const char *path, const char *hdr, const void *data, size_t nd)
{
	size_t n;
	uint8_t *b = image(hdr, data, nd, &n);
	FILE *f = fopen(path, "wb");
	int ok = f && fwrite(b, 1, n, f) == n;
	if (f)
		fclose(f);
	free(b);
	CHECK(ok, "cannot write %s", path);
	return ok ? 0 : -1;
}

/* Expects a header (with data) to be refused with a message containing want. */
static void bad(const char *hdr, const void *data, size_t nd, const char *want)
{
	size_t n;
	uint8_t *b = image(hdr, data, nd, &n);
	uint8_t *c = malloc(n);	/* exactly n bytes: overreads are caught by ASan */
	memcpy(c, b, n);
	free(b);
	g4_st *st = g4_st_open_mem(c, n, "bad.safetensors");
	CHECK(st == NULL, "accepted: %s", hdr);
	if (!st)
		CHECK(strstr(g4_errmsg(), want) && strstr(g4_errmsg(), "bad.safetensors: "),
		      "message '%s' lacks '%s'", g4_errmsg(), want);
	g4_st_close(st);
	free(c);
}

/* ---- one file, every dtype ------------------------------------------------ */

static uint8_t data[256];
static char hdr[4096];

static void make_single(size_t *nd)
{
	size_t o = 0;
	int k = 0;
	/* F32 [2,3] */
	float f32[6] = { 1, -2, 0.5f, 3.25f, -0.0f, 1e30f };
	memcpy(data + o, f32, 24);
	k += sprintf(hdr + k, "{\"__metadata__\":{\"format\":\"pt\"},"
		     "\"w.f32\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[%zu,%zu]},", o, o + 24);
	o += 24;
	/* F16 [4]: 1, -2, 65504, smallest subnormal */
	uint16_t f16[4] = { 0x3c00, 0xc000, 0x7bff, 0x0001 };
	memcpy(data + o, f16, 8);
	k += sprintf(hdr + k, "\"a.f16\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[%zu,%zu]},", o, o + 8);
	o += 8;
	/* BF16 [2,2]: 1, -2, 3.140625, 1e-40 (subnormal, 0x0011 -> 17 x 2^-133) */
	uint16_t bf[4] = { 0x3f80, 0xc000, 0x4049, 0x0011 };
	memcpy(data + o, bf, 8);
	k += sprintf(hdr + k, "\"b.bf16\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[%zu,%zu]},", o, o + 8);
	o += 8;
	/* F64 scalar: 0.1 rounds to the f32 0.1f */
	double d = 0.1;
	memcpy(data + o, &d, 8);
	k += sprintf(hdr + k, "\"c.f64\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[%zu,%zu]},", o, o + 8);
	o += 8;
	/* I64 [2], I32 [1], I16 [1], I8 [2], U8 [2], BOOL [2] */
	int64_t i64[2] = { -5, 1ll << 40 };
	memcpy(data + o, i64, 16);
	k += sprintf(hdr + k, "\"d.i64\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[%zu,%zu]},", o, o + 16);
	o += 16;
	int32_t i32 = -70000;
	memcpy(data + o, &i32, 4);
	k += sprintf(hdr + k, "\"e.i32\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[%zu,%zu]},", o, o + 4);
	o += 4;
	int16_t i16 = -300;
	memcpy(data + o, &i16, 2);
	k += sprintf(hdr + k, "\"f.i16\":{\"dtype\":\"I16\",\"shape\":[1],\"data_offsets\":[%zu,%zu]},", o, o + 2);
	o += 2;
	int8_t i8[2] = { -128, 127 };
	memcpy(data + o, i8, 2);
	k += sprintf(hdr + k, "\"g.i8\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[%zu,%zu]},", o, o + 2);
	o += 2;
	uint8_t u8[2] = { 0, 255 };
	memcpy(data + o, u8, 2);
	k += sprintf(hdr + k, "\"h.u8\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[%zu,%zu]},", o, o + 2);
	o += 2;
	uint8_t bo[2] = { 0, 7 };
	memcpy(data + o, bo, 2);
	k += sprintf(hdr + k, "\"i.bool\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[%zu,%zu]},", o, o + 2);
	o += 2;
	/* F8 E4M3: 1.0 (0x38), -448 (0xfe), NaN (0x7f), 2^-9 (0x01) */
	uint8_t e4[4] = { 0x38, 0xfe, 0x7f, 0x01 };
	memcpy(data + o, e4, 4);
	k += sprintf(hdr + k, "\"j.e4m3\":{\"dtype\":\"F8_E4M3\",\"shape\":[4],\"data_offsets\":[%zu,%zu]},", o, o + 4);
	o += 4;
	/* F8 E5M2: 1.0 (0x3c), -57344 (0xfb), inf (0x7c), 2^-16 (0x01) */
	uint8_t e5[4] = { 0x3c, 0xfb, 0x7c, 0x01 };
	memcpy(data + o, e5, 4);
	k += sprintf(hdr + k, "\"k.e5m2\":{\"dtype\":\"F8_E5M2\",\"shape\":[4],\"data_offsets\":[%zu,%zu]},", o, o + 4);
	o += 4;
	/* an empty tensor */
	k += sprintf(hdr + k, "\"l.empty\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[%zu,%zu]}}", o, o);
	while (k % 8)
		hdr[k++] = ' ';
	hdr[k] = 0;
	*nd = o;
}

static void test_single(void)
{
	size_t nd;
	make_single(&nd);
	const char *path = t_tmp("single.safetensors");
	if (write_file(path, hdr, data, nd))
		return;
	g4_st *st = g4_st_open_dir(path);	/* a file works here too */
	CHECK(st != NULL, "%s", g4_errmsg());
	if (!st)
		return;
	static const char *order[] = { "a.f16", "b.bf16", "c.f64", "d.i64", "e.i32", "f.i16",
				       "g.i8", "h.u8", "i.bool", "j.e4m3", "k.e5m2", "l.empty", "w.f32" };
	CHECK(g4_st_count(st) == 13, "count %zu", g4_st_count(st));
	for (size_t i = 0; i < 13 && i < g4_st_count(st); i++)
		CHECK(!strcmp(g4_st_tensor_at(st, i)->name, order[i]), "tensor %zu is %s", i,
		      g4_st_tensor_at(st, i)->name);
	CHECK(g4_st_shard_count(st) == 1 && !strcmp(g4_st_shard_path(st, 0), path), "shard");
	CHECK(g4_st_find(st, "__metadata__") == NULL && g4_st_find(st, "nope") == NULL, "not found");

	float out[8];
	const g4_st_tensor *t = g4_st_find(st, "w.f32");
	CHECK(t && t->dtype == G4_ST_F32 && t->n_dims == 2 && t->shape[0] == 2 && t->shape[1] == 3 &&
	      t->numel == 6 && t->nbytes == 24 && g4_st_row_len(t) == 3 && g4_st_n_rows(t) == 2, "w.f32");
	if (t) {
		CHECK(!g4_st_to_f32(t, 1, 1, out) && out[0] == 3.25f && out[1] == 0 && signbit(out[1]) &&
		      out[2] == 1e30f, "w.f32 row 1");
		CHECK(g4_st_to_f32(t, 1, 2, out) == -1 && strstr(g4_errmsg(), "out of range"),
		      "rows past the end: %s", g4_errmsg());
		CHECK(g4_st_to_f32(t, -1, 1, out) == -1, "negative row");
	}
	t = g4_st_find(st, "a.f16");
	CHECK(t && !g4_st_to_f32(t, 0, 1, out) && out[0] == 1 && out[1] == -2 && out[2] == 65504 &&
	      out[3] == ldexpf(1, -24), "f16");
	t = g4_st_find(st, "b.bf16");
	CHECK(t && !g4_st_to_f32(t, 0, 2, out) && out[0] == 1 && out[1] == -2 && out[2] == 3.140625f &&
	      out[3] == ldexpf(17, -133), "bf16");
	t = g4_st_find(st, "c.f64");
	CHECK(t && t->n_dims == 0 && t->numel == 1 && g4_st_row_len(t) == 1 && g4_st_n_rows(t) == 1 &&
	      !g4_st_to_f32(t, 0, 1, out) && out[0] == 0.1f, "f64 scalar");
	t = g4_st_find(st, "d.i64");
	CHECK(t && !g4_st_to_f32(t, 0, 1, out) && out[0] == -5 && out[1] == ldexpf(1, 40), "i64");
	t = g4_st_find(st, "e.i32");
	CHECK(t && !g4_st_to_f32(t, 0, 1, out) && out[0] == -70000, "i32");
	t = g4_st_find(st, "f.i16");
	CHECK(t && !g4_st_to_f32(t, 0, 1, out) && out[0] == -300, "i16");
	t = g4_st_find(st, "g.i8");
	CHECK(t && !g4_st_to_f32(t, 0, 1, out) && out[0] == -128 && out[1] == 127, "i8");
	t = g4_st_find(st, "h.u8");
	CHECK(t && !g4_st_to_f32(t, 0, 1, out) && out[0] == 0 && out[1] == 255, "u8");
	t = g4_st_find(st, "i.bool");
	CHECK(t && !g4_st_to_f32(t, 0, 1, out) && out[0] == 0 && out[1] == 1, "bool");
	t = g4_st_find(st, "j.e4m3");
	CHECK(t && !g4_st_to_f32(t, 0, 1, out) && out[0] == 1 && out[1] == -448 && isnan(out[2]) &&
	      out[3] == ldexpf(1, -9), "e4m3: %g %g %g %g", out[0], out[1], out[2], out[3]);
	t = g4_st_find(st, "k.e5m2");
	CHECK(t && !g4_st_to_f32(t, 0, 1, out) && out[0] == 1 && out[1] == -57344 &&
	      isinf(out[2]) && out[3] == ldexpf(1, -16), "e5m2: %g %g %g %g", out[0], out[1], out[2], out[3]);
	t = g4_st_find(st, "l.empty");
	CHECK(t && t->numel == 0 && t->nbytes == 0 && g4_st_n_rows(t) == 0 &&
	      !g4_st_to_f32(t, 0, 0, out), "empty tensor");
	g4_st_close(st);
	unlink(path);
}

static void test_dtype_names(void)
{
	CHECK(g4_st_dtype_from_name("BF16") == G4_ST_BF16 && g4_st_dtype_from_name("bf16") == -1 &&
	      g4_st_dtype_from_name("F8_E4M3") == G4_ST_F8_E4M3 && g4_st_dtype_from_name("F4") == -1,
	      "names");
	CHECK(g4_st_dtype_size(G4_ST_F64) == 8 && g4_st_dtype_size(G4_ST_BOOL) == 1 &&
	      g4_st_dtype_size(99) == 0 && g4_st_dtype_name(99) == NULL &&
	      !strcmp(g4_st_dtype_name(G4_ST_F8_E5M2), "F8_E5M2"), "sizes");
}

/* ---- sharded folders ------------------------------------------------------ */

static void shard_hdr(char *h, const char *n1, const char *n2)
{
	sprintf(h, "{\"%s\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
		"\"%s\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[8,16]}}", n1, n2);
}

static void test_sharded(void)
{
	const char *dir = t_tmp("ckpt");
	char p[4096], h[1024];
	mkdir(dir, 0755);
	snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
	unlink(p);	/* left over from an interrupted run */
	float d1[2] = { 1, 2 };
	uint16_t b1[4] = { 0x3f80, 0x4000, 0x4040, 0x4080 };	/* 1 2 3 4 */
	uint8_t blob[16];
	memcpy(blob, d1, 8);
	memcpy(blob + 8, b1, 8);
	snprintf(p, sizeof p, "%s/model-00002-of-00002.safetensors", dir);
	shard_hdr(h, "model.layers.1.w", "model.layers.1.b");
	write_file(p, h, blob, 16);
	snprintf(p, sizeof p, "%s/model-00001-of-00002.safetensors", dir);
	shard_hdr(h, "model.layers.0.w", "model.embed.weight");
	write_file(p, h, blob, 16);
	snprintf(p, sizeof p, "%s/other.safetensors", dir);	/* not a shard */
	write_file(p, "{}", NULL, 0);

	/* without an index: every model*.safetensors, sorted */
	g4_st *st = g4_st_open_dir(dir);
	CHECK(st != NULL, "no index: %s", g4_errmsg());
	static const char *order[] = { "model.embed.weight", "model.layers.0.w",
				       "model.layers.1.b", "model.layers.1.w" };
	if (st) {
		CHECK(g4_st_count(st) == 4 && g4_st_shard_count(st) == 2, "count %zu", g4_st_count(st));
		for (size_t i = 0; i < 4 && i < g4_st_count(st); i++)
			CHECK(!strcmp(g4_st_tensor_at(st, i)->name, order[i]) &&
			      g4_st_tensor_at(st, i)->shard == i / 2, "tensor %zu", i);
		const g4_st_tensor *t = g4_st_find(st, "model.layers.1.b");
		float o[4];
		CHECK(t && strstr(g4_st_shard_path(st, t->shard), "model-00002-of-00002") &&
		      !g4_st_to_f32(t, 1, 1, o) && o[0] == 3 && o[1] == 4, "lookup in shard 2");
		g4_st_close(st);
	}

	/* with an index */
	snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
	FILE *f = fopen(p, "w");
	fputs("{\"metadata\":{\"total_size\":32},\"weight_map\":{"
	      "\"model.layers.1.w\":\"model-00002-of-00002.safetensors\","
	      "\"model.layers.0.w\":\"model-00001-of-00002.safetensors\","
	      "\"model.embed.weight\":\"model-00001-of-00002.safetensors\","
	      "\"model.layers.1.b\":\"model-00002-of-00002.safetensors\"}}", f);
	fclose(f);
	char slash[4096];
	snprintf(slash, sizeof slash, "%s/", dir);
	st = g4_st_open_dir(slash);
	CHECK(st != NULL, "index: %s", g4_errmsg());
	if (st) {
		CHECK(g4_st_count(st) == 4, "count %zu", g4_st_count(st));
		for (size_t i = 0; i < 4 && i < g4_st_count(st); i++)
			CHECK(!strcmp(g4_st_tensor_at(st, i)->name, order[i]), "tensor %zu", i);
		g4_st_close(st);
	}

	/* index naming a tensor in the wrong shard */
	f = fopen(p, "w");
	fputs("{\"weight_map\":{\"model.layers.1.w\":\"model-00001-of-00002.safetensors\","
	      "\"model.layers.0.w\":\"model-00002-of-00002.safetensors\"}}", f);
	fclose(f);
	st = g4_st_open_dir(dir);
	CHECK(!st && strstr(g4_errmsg(), "not in model-0000"), "wrong shard: %s", g4_errmsg());
	g4_st_close(st);
	/* index naming a tensor that is nowhere */
	f = fopen(p, "w");
	fputs("{\"weight_map\":{\"model.ghost\":\"model-00001-of-00002.safetensors\"}}", f);
	fclose(f);
	st = g4_st_open_dir(dir);
	CHECK(!st && strstr(g4_errmsg(), "'model.ghost' is not in its shard"), "ghost: %s", g4_errmsg());
	g4_st_close(st);
	/* index naming a missing shard, a path, no weight_map, bad JSON */
	static const struct { const char *json, *want; } bad_idx[] = {
		{ "{\"weight_map\":{\"x\":\"model-00009-of-00009.safetensors\"}}", "model-00009-of-00009" },
		{ "{\"weight_map\":{\"x\":\"../model.safetensors\"}}", "plain file name" },
		{ "{\"weight_map\":{\"x\":\"sub/model.safetensors\"}}", "plain file name" },
		{ "{\"weight_map\":{\"x\":7}}", "not a file name" },
		{ "{\"weight_map\":{}}", "empty" },
		{ "{\"metadata\":{}}", "no \"weight_map\"" },
		{ "{\"weight_map\":", "not valid JSON" },
	};
	for (size_t i = 0; i < sizeof bad_idx / sizeof *bad_idx; i++) {
		f = fopen(p, "w");
		fputs(bad_idx[i].json, f);
		fclose(f);
		st = g4_st_open_dir(dir);
		CHECK(!st && strstr(g4_errmsg(), bad_idx[i].want), "index %zu: %s", i, g4_errmsg());
		g4_st_close(st);
	}
	unlink(p);

	/* the same tensor in two shards */
	snprintf(p, sizeof p, "%s/model-00002-of-00002.safetensors", dir);
	shard_hdr(h, "model.layers.1.w", "model.embed.weight");
	write_file(p, h, blob, 16);
	st = g4_st_open_dir(dir);
	CHECK(!st && strstr(g4_errmsg(), "'model.embed.weight' is in two shards"), "dup: %s", g4_errmsg());
	g4_st_close(st);
	/* a malformed shard is named in the message */
	write_file(p, "{\"x\":{}}", NULL, 0);
	st = g4_st_open_dir(dir);
	CHECK(!st && strstr(g4_errmsg(), "model-00002-of-00002.safetensors: tensor 'x': \"dtype\""),
	      "bad shard: %s", g4_errmsg());
	g4_st_close(st);

	unlink(p);
	snprintf(p, sizeof p, "%s/model-00001-of-00002.safetensors", dir);
	unlink(p);
	snprintf(p, sizeof p, "%s/other.safetensors", dir);
	unlink(p);
	st = g4_st_open_dir(dir);
	CHECK(!st && strstr(g4_errmsg(), "no model.safetensors.index.json and no model*.safetensors"),
	      "empty folder: %s", g4_errmsg());
	g4_st_close(st);
	rmdir(dir);
	st = g4_st_open_dir(dir);
	CHECK(!st && strstr(g4_errmsg(), "cannot open"), "missing folder: %s", g4_errmsg());
}

/* ---- malformed files --------------------------------------------------- */

#define E(dt, shape, offs) "{\"t\":{\"dtype\":" dt ",\"shape\":" shape ",\"data_offsets\":" offs "}}"

static void test_malformed(void)
{
	uint8_t z[64] = { 0 };
	/* too short, lengths past the end, absurd */
	g4_st *st = g4_st_open_mem(z, 5, "bad.safetensors");
	CHECK(!st && strstr(g4_errmsg(), "bad.safetensors: 5 bytes: too short"), "short: %s", g4_errmsg());
	uint8_t h[16] = { 0 };
	uint64_t big = 1ull << 40;
	memcpy(h, &big, 8);
	st = g4_st_open_mem(h, 16, "bad.safetensors");
	CHECK(!st && strstr(g4_errmsg(), "header length 1099511627776 runs past the end"), "2^40: %s",
	      g4_errmsg());
	uint8_t *huge = calloc(1, 8 + 100000001ull);
	if (huge) {
		uint64_t hl = 100000001ull;
		memcpy(huge, &hl, 8);
		st = g4_st_open_mem(huge, 8 + hl, "bad.safetensors");
		CHECK(!st && strstr(g4_errmsg(), "absurd"), "over 100 MB: %s", g4_errmsg());
		free(huge);
	}
	/* JSON */
	bad("", NULL, 0, "not valid JSON");
	bad("{\"t\":", NULL, 0, "not valid JSON");
	bad("[1,2]", NULL, 0, "not a JSON object");
	bad("{}  x", NULL, 0, "bytes after the JSON object (byte 12)");
	bad("{\"t\":5}", NULL, 0, "tensor 't': entry is not a JSON object");
	bad("{\"\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", z, 4, "empty name");
	/* entries */
	bad(E("\"F32\"", "[1]", "[0,4]"), z, 3, "data [0, 4) runs past the end of the data section (3 bytes)");
	bad("{\"t\":{\"shape\":[1],\"data_offsets\":[0,4]}}", z, 4, "\"dtype\" is missing");
	bad(E("\"F4\"", "[1]", "[0,4]"), z, 4, "unknown dtype \"F4\"");
	bad(E("7", "[1]", "[0,4]"), z, 4, "\"dtype\" is missing or not a string");
	bad(E("\"F32\"", "3", "[0,12]"), z, 12, "\"shape\" is missing or not an array");
	bad(E("\"F32\"", "[-1]", "[0,4]"), z, 4, "shape[0] is not a non-negative integer");
	bad(E("\"F32\"", "[1.5]", "[0,4]"), z, 4, "shape[0] is not a non-negative integer");
	bad(E("\"F32\"", "[\"2\"]", "[0,8]"), z, 8, "shape[0] is not");
	bad(E("\"F32\"", "[1,1,1,1,1,1,1,1,1]", "[0,4]"), z, 4, "9 dimensions");
	bad(E("\"U8\"", "[4294967296,4294967296]", "[0,1]"), z, 4, "more than 2^62");
	bad(E("\"F32\"", "[2]", "[0,4]"), z, 8, "hold 4 bytes, the shape and dtype need 8");
	bad(E("\"F32\"", "[1]", "[8,4]"), z, 8, "end before they begin");
	bad(E("\"F32\"", "[1]", "[0]"), z, 8, "not a pair");
	bad(E("\"F32\"", "[1]", "[0,4,8]"), z, 8, "not a pair");
	bad(E("\"F32\"", "[1]", "[-4,0]"), z, 8, "not a pair");
	bad(E("\"F32\"", "[1]", "{}"), z, 8, "not a pair");
	bad(E("\"F32\"", "[262144]", "[0,1048576]"), z, 64, "runs past the end");
	bad(E("\"F32\"", "[1]", "[1e300,1e300]"), z, 8, "not a pair");
	bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
	    "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", z, 12, "overlaps tensor 'a'");
	bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
	    "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", z, 16, "overlaps");
	bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
	    "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", z, 8, "tensor 'a' appears twice");
	/* good neighbours of the bad ones */
	size_t n;
	uint8_t *ok = image("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
			    "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
			    "\"__metadata__\":{\"anything\":[1,{\"x\":2}]}}  \n", z, 16, &n);
	st = g4_st_open_mem(ok, n, "ok.safetensors");
	CHECK(st && g4_st_count(st) == 2 && (const uint8_t *)g4_st_find(st, "a")->data == ok + n - 8,
	      "reordered offsets, odd metadata, trailing spaces: %s", st ? "layout" : g4_errmsg());
	g4_st_close(st);
	free(ok);
	st = g4_st_open(t_tmp("no-such.safetensors"));
	CHECK(!st && strstr(g4_errmsg(), "no-such.safetensors"), "missing: %s", g4_errmsg());
}

/* Truncations and mutations of a valid file: refused or read, never a crash. */
static void test_mutations(void)
{
	size_t nd, n;
	make_single(&nd);
	uint8_t *img = image(hdr, data, nd, &n);
	int opened = 0;
	for (size_t len = 0; len < n; len++) {
		uint8_t *c = malloc(len ? len : 1);
		memcpy(c, img, len);
		g4_st *st = g4_st_open_mem(c, len, "cut");
		CHECK(!st, "prefix of %zu bytes opened", len);
		g4_st_close(st);
		free(c);
	}
	uint32_t s = 777;
	for (int r = 0; r < 3000; r++) {
		uint8_t *c = malloc(n);
		memcpy(c, img, n);
		for (int k = 0; k < 1 + r % 3; k++) {
			s = s * 1664525u + 1013904223u;
			size_t at = (s >> 8) % n;
			s = s * 1664525u + 1013904223u;
			c[at] = (uint8_t)(s >> 20);
		}
		g4_st *st = g4_st_open_mem(c, n, "m");
		if (st) {
			opened++;
			for (size_t i = 0; i < g4_st_count(st); i++) {
				const g4_st_tensor *t = g4_st_tensor_at(st, i);
				CHECK((const uint8_t *)t->data + t->nbytes <= c + n, "tensor past the end");
				float *o = malloc((t->numel ? t->numel : 1) * sizeof *o);
				g4_st_to_f32(t, 0, g4_st_n_rows(t), o);
				free(o);
			}
		} else {
			CHECK(g4_errmsg()[0], "no message");
		}
		g4_st_close(st);
		free(c);
	}
	CHECK(opened > 0, "no mutation opened");
	free(img);
}

int main(void)
{
	RUN(test_single);
	RUN(test_dtype_names);
	RUN(test_sharded);
	RUN(test_malformed);
	RUN(test_mutations);
	return t_done();
}
