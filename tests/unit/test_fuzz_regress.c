/* test_fuzz_regress - every seed (tests/fuzz/corpus/NAME/) and every input
 * that once crashed a fuzz target (tests/fuzz/regress/NAME/) goes through the
 * fuzz target's own code again.  Under make check-asan this replays them
 * with the sanitizers; in the plain build it still catches crashes and
 * aborts.  Fuzz target sources must use file-unique static names.  A new fuzz target: include it here and add it to `targets`. */
#include <dirent.h>
#include <stdint.h>

#include "t.h"

#define LLVMFuzzerTestOneInput fuzz_gguf_one
#include "../fuzz/fuzz_gguf.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_safetensors_one
#include "../fuzz/fuzz_safetensors.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_imatrix_one
#include "../fuzz/fuzz_imatrix.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_model_one
#include "../fuzz/fuzz_model.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_stream_one
#include "../fuzz/fuzz_stream.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_snapshot_one
#include "../fuzz/fuzz_snapshot.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_tokjson_one
#include "../fuzz/fuzz_tokjson.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_chat_one
#include "../fuzz/fuzz_chat.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_image_one
#include "../fuzz/fuzz_image.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_audio_one
#include "../fuzz/fuzz_audio.c"
#undef LLVMFuzzerTestOneInput

static const struct {
	const char *name;
	int (*one)(const uint8_t *, size_t);
} targets[] = {
	{ "gguf", fuzz_gguf_one },
	{ "safetensors", fuzz_safetensors_one },
	{ "imatrix", fuzz_imatrix_one },
	{ "model", fuzz_model_one },
	{ "stream", fuzz_stream_one },
	{ "snapshot", fuzz_snapshot_one },
	{ "tokjson", fuzz_tokjson_one },
	{ "chat", fuzz_chat_one },
	{ "image", fuzz_image_one },
	{ "audio", fuzz_audio_one },
};

static const char *root(void)
{
	const char *r = getenv("G4_ROOT");
	return r ? r : ".";
}

/* Runs every file of DIR through one; returns the number of files. */
static int replay(const char *dir, int (*one)(const uint8_t *, size_t))
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		size_t len;
		void *buf = t_slurp(path, &len);
		if (!buf)
			continue;
		/* An exact-size copy, so ASan sees any read past the end. */
		uint8_t *exact = malloc(len ? len : 1);
		memcpy(exact, buf, len);
		CHECK(one(exact, len) == 0, "%s", path);
		free(exact);
		free(buf);
		n++;
	}
	closedir(d);
	return n;
}

static void test_replay_corpora(void)
{
	for (size_t i = 0; i < sizeof targets / sizeof *targets; i++) {
		char dir[4096];
		snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s", root(), targets[i].name);
		int n = replay(dir, targets[i].one);
		CHECK(n > 0, "no seed corpus in %s", dir);
		snprintf(dir, sizeof dir, "%s/tests/fuzz/regress/%s", root(), targets[i].name);
		replay(dir, targets[i].one);
	}
}

/* Found by fuzz_safetensors: a header with no tensors passed NULL to qsort
 * (undefined behaviour, UBSan: nonnull-attribute). */
static void test_safetensors_no_tensors(void)
{
	static const char hdr[] = "{\"__metadata__\": {\"format\": \"pt\"}}";
	uint8_t buf[8 + sizeof hdr - 1];
	uint64_t n = sizeof hdr - 1;
	memcpy(buf, &n, 8);
	memcpy(buf + 8, hdr, n);
	g4_st *st = g4_st_open_mem(buf, sizeof buf, "empty.safetensors");
	CHECK(st != NULL, "an empty checkpoint file is refused: %s", g4_errmsg());
	if (st) {
		CHECK(g4_st_count(st) == 0, "%zu tensors", g4_st_count(st));
		g4_st_close(st);
	}
}

/* Found by fuzz_chat: a request that is an empty messages array did
 * pointer arithmetic on NULL (clang's UBSan; gcc's does not see it). */
static void test_chat_empty_messages(void)
{
	g4_json *req = g4_json_parse("[]", 2, "req");
	CHECK(req != NULL, "parse: %s", g4_errmsg());
	if (!req) return;
	for (int t = 0; t < G4_TMPL_COUNT; t++) {
		g4_chat_opts o = { .tmpl = t, .add_generation_prompt = 1 };
		g4_buf out = { 0 };
		int rc = g4_chat_render(req, &o, &out, NULL, NULL);
		CHECK(rc == 0 || *g4_errmsg(), "template %d: failed without a message", t);
		g4_buf_free(&out);
	}
	g4_json_free(req);
}

int main(void)
{
	RUN(test_replay_corpora);
	RUN(test_safetensors_no_tensors);
	RUN(test_chat_empty_messages);
	return t_done();
}
