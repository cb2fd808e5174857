/* Chat template: the 24 worked examples of gemma4-chat-examples.json, byte
 * for byte and id for id, for the three templates (variants), plus value
 * printing and error cases that follow the template's logic. */
#include "t.h"
#include "chat.h"
#include "err.h"
#include "json.h"
#include "tokenizer.h"

static g4_tokenizer *tok;
static g4_json *ex;

static int ids_equal(const int32_t *a, size_t n, const g4_json *want)
{
	if (!want || want->n != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (want->kid[i].num != a[i])
			return 0;
	return 1;
}

static void check_one(const g4_json *e, int tmpl, const g4_json *want_text, const g4_json *want_ids)
{
	const char *name = g4_json_get(e, "name")->str;
	const g4_json *kw = g4_json_get(e, "template_kwargs");
	g4_chat_opts o = { .tmpl = tmpl };
	o.add_generation_prompt = g4_json_truthy(g4_json_get(kw, "add_generation_prompt"));
	o.thinking = g4_json_truthy(g4_json_get(kw, "enable_thinking"));
	/* the request: messages (+ tools) of the example */
	g4_buf req = { 0 };
	g4_buf_puts(&req, "{\"messages\":");
	g4_json_put(&req, g4_json_get(e, "messages"));
	if (g4_json_get(e, "tools")) {
		g4_buf_puts(&req, ",\"tools\":");
		g4_json_put(&req, g4_json_get(e, "tools"));
	}
	g4_buf_puts(&req, "}");
	g4_json *rq = g4_json_parse(req.p, req.n, name);
	CHECK(rq != NULL, "%s: %s", name, g4_errmsg());
	g4_buf out = { 0 };
	int rc = g4_chat_render(rq, &o, &out, NULL, NULL);
	CHECK(rc == 0, "%s/%s: %s", name, g4_chat_template_name(tmpl), g4_errmsg());
	CHECK(out.n == want_text->len && !memcmp(out.p, want_text->str, out.n),
	      "%s/%s: text differs:\n    got  %.*s\n    want %s", name, g4_chat_template_name(tmpl),
	      (int)out.n, out.p, want_text->str);
	int32_t *ids = NULL;
	size_t n = 0, cap = 0;
	g4_chat_media *md = NULL;
	size_t nm = 0;
	rc = g4_chat_encode(tok, rq, &o, &ids, &n, &cap, &md, &nm);
	CHECK(rc == 0 && ids_equal(ids, n, want_ids), "%s/%s: ids differ (%zu ids)", name, g4_chat_template_name(tmpl), n);
	for (size_t i = 0; i < nm; i++)
		CHECK(md[i].pos < n && ids[md[i].pos] == (md[i].modality == 1 ? 258880 : 258881), "%s: media slot %zu", name, i);
	free(ids);
	free(md);
	g4_buf_free(&out);
	g4_buf_free(&req);
	g4_json_free(rq);
}

static void test_examples(void)
{
	const g4_json *list = g4_json_get(ex, "examples");
	int n_chat = 0, n_text = 0;
	static const char *vn[G4_TMPL_COUNT] = { NULL, "canonical_2026_07_large", "canonical_2026_07_e2b_e4b" };
	for (size_t i = 0; i < list->n; i++) {
		const g4_json *e = &list->kid[i];
		const g4_json *text = g4_json_get(e, "text"), *ids = g4_json_get(e, "ids");
		if (g4_json_get(e, "messages")) {
			n_chat++;
			for (int t = 0; t < G4_TMPL_COUNT; t++) {
				const g4_json *v = vn[t] ? g4_json_get(g4_json_get(e, "variants"), vn[t]) : NULL;
				check_one(e, t, v ? g4_json_get(v, "text") : text, v ? g4_json_get(v, "ids") : ids);
			}
		} else {
			/* expanded prompts and model outputs: the tokenizer alone */
			if (!text)
				text = g4_json_get(e, "model_output_text");
			if (!ids)
				ids = g4_json_get(e, "model_output_ids");
			if (!text || !ids)
				continue;
			n_text++;
			int32_t *got = NULL;
			size_t n = 0, cap = 0;
			g4_tok_encode(tok, text->str, text->len, G4_ENC_SPECIAL, &got, &n, &cap);
			CHECK(ids_equal(got, n, ids), "%s: ids differ", g4_json_get(e, "name")->str);
			free(got);
		}
	}
	CHECK(n_chat + n_text == 24 && n_chat == 19, "%d chat + %d text examples", n_chat, n_text);
}

static const char *render(const char *json, int tmpl, int think, int agp)
{
	static g4_buf out;
	g4_buf_free(&out);
	g4_json *j = g4_json_parse(json, strlen(json), "req");
	if (!j)
		return g4_errmsg();
	g4_chat_opts o = { .tmpl = tmpl, .thinking = think, .add_generation_prompt = agp };
	int rc = g4_chat_render(j, &o, &out, NULL, NULL);
	g4_json_free(j);
	return rc ? g4_errmsg() : out.p;
}

static void test_values(void)
{
	/* Python printing: None (April) / null (2026-07), 1.0, 1e-05, big ints,
	 * True inside a description, dictsort ignores case */
	const char *r = render("[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"assistant\",\"tool_calls\":[{\"function\":"
			       "{\"name\":\"f\",\"arguments\":{\"n\":null,\"x\":1.0,\"y\":0.00001,\"z\":123456789012345678901,"
			       "\"B\":1e16,\"a\":-0.0}}}]}]", G4_TMPL_GEMMA4, 0, 0);
	CHECK(!strcmp(r, "<bos><|turn>user\nx<turn|>\n<|turn>model\n<|tool_call>call:f{a:-0.0,B:1e+16,n:None,x:1.0,"
		      "y:1e-05,z:123456789012345678901}<tool_call|><|tool_response>"), "got %s", r);
	r = render("[{\"role\":\"assistant\",\"tool_calls\":[{\"function\":{\"name\":\"f\",\"arguments\":{\"n\":null}}}]}]",
		   G4_TMPL_GEMMA4_2607, 0, 0);
	CHECK(strstr(r, "call:f{n:null}") != NULL, "got %s", r);
	/* arguments as a JSON string are parsed */
	r = render("[{\"role\":\"assistant\",\"tool_calls\":[{\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"b\\\":2,\\\"a\\\":[true]}\"}}]}]",
		   G4_TMPL_GEMMA4, 0, 0);
	CHECK(strstr(r, "call:f{a:[true],b:2}<tool_call|>") != NULL, "got %s", r);
	/* system content that is not a string: Python's str() of it */
	r = render("[{\"role\":\"system\",\"content\":null},{\"role\":\"user\",\"content\":\" \\u3000hi\\u00a0\"}]", G4_TMPL_GEMMA4, 0, 0);
	CHECK(!strcmp(r, "<bos><|turn>system\nNone<turn|>\n<|turn>user\nhi<turn|>\n"), "got %s", r);
	/* a later system message is an ordinary turn; model role, continuation */
	r = render("[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"system\",\"content\":\"s\"},"
		   "{\"role\":\"assistant\",\"content\":\"b\"},{\"role\":\"assistant\",\"content\":\"c\"}]", G4_TMPL_GEMMA4, 0, 1);
	CHECK(!strcmp(r, "<bos><|turn>user\na<turn|>\n<|turn>system\ns<turn|>\n<|turn>model\nb<turn|>\nc<turn|>\n"
		      "<|turn>model\n<|channel>thought\n<channel|>"), "got %s", r);
	/* 2026-07: no <turn|> between consecutive assistant messages, system
	 * content parts, media inside tool results, reasoning after the last
	 * user message kept */
	r = render("[{\"role\":\"system\",\"content\":[{\"type\":\"text\",\"text\":\" s \"}]},{\"role\":\"user\",\"content\":\"a\"},"
		   "{\"role\":\"assistant\",\"content\":\"b\",\"reasoning_content\":\"r\"},{\"role\":\"assistant\",\"content\":\"c\"}]",
		   G4_TMPL_GEMMA4_2607, 0, 0);
	CHECK(!strcmp(r, "<bos><|turn>system\ns <turn|>\n<|turn>user\na<turn|>\n<|turn>model\n<|channel>thought\nr\n<channel|>bc<turn|>\n"),
	      "got %s", r);
	r = render("[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"1\",\"function\":{\"name\":\"cam\",\"arguments\":{}}}]},"
		   "{\"role\":\"tool\",\"tool_call_id\":\"1\",\"content\":[{\"type\":\"text\",\"text\":\"photo\"},{\"type\":\"image\"}]}]",
		   G4_TMPL_GEMMA4_2607, 1, 1);
	CHECK(!strcmp(r, "<bos><|turn>system\n<|think|>\n<turn|>\n<|turn>user\na<turn|>\n<|turn>model\n<|tool_call>call:cam{}<tool_call|>"
		      "<|tool_response>response:cam{value:<|\"|>photo<|\"|>}<tool_response|><|image|><|channel>thought\n"), "got %s", r);
	/* tool schema: nested object, array items, nullable, response */
	r = render("{\"messages\":[],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"g\",\"description\":\"d\","
		   "\"parameters\":{\"type\":\"object\",\"properties\":{\"o\":{\"type\":\"object\",\"properties\":{\"k\":{\"type\":\"integer\"}},"
		   "\"required\":[\"k\"]},\"l\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"nullable\":true}}},"
		   "\"response\":{\"type\":\"object\",\"description\":\"r\"}}}]}", G4_TMPL_GEMMA4, 0, 0);
	CHECK(!strcmp(r, "<bos><|turn>system\n<|tool>declaration:g{description:<|\"|>d<|\"|>,parameters:{properties:{"
		      "l:{items:{type:<|\"|>STRING<|\"|>},nullable:true,type:<|\"|>ARRAY<|\"|>},o:{properties:{k:{type:<|\"|>INTEGER<|\"|>}},"
		      "required:[<|\"|>k<|\"|>],type:<|\"|>OBJECT<|\"|>}},type:<|\"|>OBJECT<|\"|>},response:{description:<|\"|>r<|\"|>,"
		      "type:<|\"|>OBJECT<|\"|>}}<tool|><turn|>\n"), "got %s", r);
}

/* keys with a NUL inside (found by fuzz_chat: the member's value was
 * looked up by the key as a C string, found nothing, and was printed from
 * a null pointer) print as Python prints them */
static void test_nul_keys(void)
{
	const char *r = render("{\"messages\":[],\"tools\":[{\"function\":{\"name\":{\"\":{\"\":{\"\\u0000o\":\"\"}}}}}]}",
			       G4_TMPL_GEMMA4, 0, 0);
	CHECK(strstr(r, "{'': {'': {'\\x00o': ''}}}") != NULL, "got %s", r);
	r = render("[{\"role\":\"assistant\",\"tool_calls\":[{\"function\":{\"name\":\"f\",\"arguments\":"
		   "{\"a\\u0000\":1,\"a\":2,\"a\\u0000\":3}}}]}]", G4_TMPL_GEMMA4, 0, 0);
	/* the template prints argument keys raw: "a", NUL, then the last value */
	const char *p = strstr(r, "call:f{a:2,a");
	CHECK(p && !strcmp(p, "call:f{a:2,a") && !memcmp(p + 13, ":3}<tool_call|>", 15), "got %s", r);
}

static void test_errors(void)
{
	const char *r = render("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"},]}", 0, 0, 1);
	CHECK(strstr(r, "byte 43") != NULL, "trailing comma: %s", r);
	r = render("{\"messages\":[{\"content\":\"x\"}]}", 0, 0, 1);
	CHECK(strstr(r, "messages[0]") && strstr(r, "role"), "no role: %s", r);
	r = render("{\"msgs\":[]}", 0, 0, 1);
	CHECK(strstr(r, "messages") != NULL, "no messages: %s", r);
	r = render("[{\"role\":\"assistant\",\"tool_calls\":[{\"function\":{\"name\":\"f\",\"arguments\":\"nope\"}}]}]", G4_TMPL_GEMMA4_2607, 0, 0);
	CHECK(strstr(r, "must be a JSON object") != NULL, "string args in 2026-07: %s", r);
}

static void test_detect(void)
{
	CHECK(g4_chat_template_by_name("gemma4-2607-e") == G4_TMPL_GEMMA4_2607_E, "by name");
	CHECK(g4_chat_template_by_name("llama3") == -1, "unknown name");
	CHECK(g4_chat_template_detect("{{ '<|turn>' }}<|tool_call>") == G4_TMPL_GEMMA4, "April");
	CHECK(g4_chat_template_detect("<|turn><|tool_call>{%- elif ns.prev_message_type == 'tool_response' and enable_thinking -%}") == G4_TMPL_GEMMA4_2607_E, "E");
	CHECK(g4_chat_template_detect("<|turn><|tool_call>'<|channel>thought\\n<channel|>'{%- elif ns.prev_message_type == 'tool_response' and enable_thinking -%}") == G4_TMPL_GEMMA4_2607, "large");
	CHECK(g4_chat_template_detect("<start_of_turn>") == -1, "Gemma 3");
}

int main(void)
{
	tok = g4_tok_load(t_data("tokenizer/mini-tokenizer.json.zst"));
	size_t n;
	char *s = t_slurp(t_data("tokenizer/gemma4-chat-examples.json"), &n);
	ex = s ? g4_json_parse(s, n, "examples") : NULL;
	if (!tok || !ex) {
		printf("FAIL setup: %s\n", g4_errmsg());
		return 1;
	}
	RUN(test_examples);
	RUN(test_values);
	RUN(test_nul_keys);
	RUN(test_errors);
	RUN(test_detect);
	g4_json_free(ex);
	free(s);
	g4_tok_free(tok);
	return t_done();
}
