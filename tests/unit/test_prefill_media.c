/* test_prefill_media.c - multimodal prompts through the commands: the
 * golden embedding rows (tests/data/vision, audio) are written as token
 * streams, the prompt with media slots, and bin/g4prefill --media fills the
 * slots; the logits must be those of the float64 reference (golden README
 * §5).  Also: slot/block count and modality mismatches are clear errors. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <sys/wait.h>

#include "t.h"
#include "tutil.h"
#include "stream.h"

static const char *bin(void)
{
	const char *b = getenv("G4_BIN");
	return b ? b : "bin";
}

static const char *data_dir(void)
{
	const char *d = getenv("G4_DATA");
	return d ? d : "tests/data";
}

static int run(const char *cmd)
{
	int rc = system(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* Writes prompt.g4s (tokens + slots) and media.g4s (the blocks) of a prompt. */
static int write_streams(const cJSON *prompt, const char *pp, const char *mp, int swap_modality)
{
	FILE *fp = fopen(pp, "wb"), *fm = fopen(mp, "wb");
	if (!fp || !fm)
		return -1;
	g4_sw *wp = g4_sw_open(fp), *wm = g4_sw_open(fm);
	const cJSON *seg;
	int rc = 0;
	cJSON_ArrayForEach(seg, cJSON_GetObjectItem(prompt, "segments")) {
		const cJSON *sids = cJSON_GetObjectItem(seg, "ids");
		if (sids) {
			int n = cJSON_GetArraySize(sids);
			int32_t *ids = malloc((size_t)n * sizeof *ids);
			for (int i = 0; i < n; i++)
				ids[i] = cJSON_GetArrayItem(sids, i)->valueint;
			rc |= g4_sw_tokens(wp, ids, (size_t)n);
			free(ids);
			continue;
		}
		const cJSON *e = cJSON_GetObjectItem(seg, "embd");
		size_t cnt = 0;
		float *data = t_slurp(t_data(cJSON_GetObjectItem(e, "file")->valuestring), &cnt);
		if (!data)
			return -1;
		int rows = cJSON_GetObjectItem(e, "rows")->valueint, r0 = cJSON_GetObjectItem(e, "row0")->valueint;
		int w = cJSON_GetObjectItem(e, "width")->valueint;
		int mod = strcmp(cJSON_GetObjectItem(e, "modality")->valuestring, "image") ? G4_MOD_AUDIO : G4_MOD_IMAGE;
		rc |= g4_sw_slot(wp, mod);
		rc |= g4_sw_embd(wm, swap_modality ? G4_MOD_IMAGE + G4_MOD_AUDIO - mod : mod, (uint32_t)rows,
				 (uint32_t)w, G4_DT_F32, data + (size_t)r0 * w);
		free(data);
	}
	rc |= g4_sw_close(wp);
	rc |= g4_sw_close(wm);
	fclose(fp);
	fclose(fm);
	return rc ? -1 : 0;
}

static void test_media_prompts(void)
{
	cJSON *j = t_load_json("multimodal/prompts.json");
	CHECK(j != NULL, "prompts.json");
	if (!j)
		return;
	const cJSON *p;
	cJSON_ArrayForEach(p, cJSON_GetObjectItem(j, "prompts")) {
		const char *name = cJSON_GetObjectItem(p, "name")->valuestring;
		const char *model = cJSON_GetObjectItem(p, "model")->valuestring;
		char pp[512], mp[512], lp[512], kp[512], cmd[4096], ref[256];
		snprintf(kp, sizeof kp, "%s", t_tmp("media.kv"));
		snprintf(pp, sizeof pp, "%s", t_tmp("prompt.g4s"));
		snprintf(mp, sizeof mp, "%s", t_tmp("media.g4s"));
		snprintf(lp, sizeof lp, "%s", t_tmp("media.f32"));
		CHECK(write_streams(p, pp, mp, 0) == 0, "%s: writing streams", name);
		snprintf(cmd, sizeof cmd, "%s/g4prefill -m %s/%s-f32.gguf --kv-type f32 --media %s --logits %s "
			 "-o %s < %s", bin(), data_dir(), model,
			 mp, lp, kp, pp);
		CHECK(run(cmd) == 0, "%s/%s: g4prefill failed", model, name);
		snprintf(ref, sizeof ref, "multimodal/%s/%s.ref.f32", model, name);
		size_t na = 0, nb = 0;
		float *a = t_slurp(lp, &na), *b = t_slurp(t_data(ref), &nb);
		if (a && b && na == nb) {
			double m = 0;
			for (size_t i = 0; i < na / 4; i++)
				m = fmax(m, fabs((double)a[i] - b[i]));
			CHECK(m <= 1e-3, "%s/%s: max |d| %.3g vs reference", model, name, m);
		} else {
			CHECK(0, "%s/%s: logits of %zu bytes, reference %zu", model, name, na, nb);
		}
		free(a);
		free(b);
		if (!strcmp(name, "c-two-images") && !strcmp(model, "micro-dense-256")) {
			/* a mismatch of modality, then of count, are refused */
			CHECK(write_streams(p, pp, mp, 1) == 0, "streams");
			snprintf(cmd, sizeof cmd, "%s/g4prefill -m %s/%s-f32.gguf --media %s -o %s < %s 2>/dev/null",
				 bin(), data_dir(), model, mp, kp, pp);
			CHECK(run(cmd) == 1, "modality mismatch not refused");
			snprintf(cmd, sizeof cmd, "%s/g4prefill -m %s/%s-f32.gguf -o %s < %s 2>/dev/null",
				 bin(), data_dir(), model, kp, pp);
			CHECK(run(cmd) == 1, "slots without --media not refused");
			CHECK(write_streams(p, pp, mp, 0) == 0, "streams");
			snprintf(cmd, sizeof cmd, "%s/g4prefill -m %s/%s-f32.gguf --media %s --media %s -o %s < %s 2>/dev/null",
				 bin(), data_dir(), model, mp, mp, kp, pp);
			CHECK(run(cmd) == 1, "left-over media blocks not refused");
		}
	}
	cJSON_Delete(j);
}

int main(void)
{
	RUN(test_media_prompts);
	return t_done();
}
