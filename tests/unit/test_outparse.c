/* Model-output parsing: the model_output_* examples of the chat examples,
 * every JSON type in tool-call arguments, markers split across pieces. */
#include "t.h"
#include "err.h"
#include "json.h"
#include "outparse.h"

static g4_buf got[4];

static void on(void *ctx, int kind, const char *s, size_t n)
{
	(void)ctx;
	if (kind == G4_OUT_TOOLCALL && got[3].n)
		g4_buf_putc(&got[3], '\n');
	g4_buf_put(&got[kind], s, n);
}

/* Parses text fed in pieces of `step` bytes; 0 = all at once. */
static void parse(const char *text, size_t step, int flags)
{
	for (int i = 0; i < 4; i++) {
		g4_buf_free(&got[i]);
		g4_buf_puts(&got[i], "");
	}
	g4_outp *p = g4_outp_new(on, NULL, flags);
	size_t n = strlen(text);
	for (size_t i = 0; i < n; i += step ? step : n)
		g4_outp_feed(p, text + i, step && n - i > step ? step : n - i);
	g4_outp_end(p);
	g4_outp_free(p);
}

static void expect(const char *text, const char *content, const char *thinking, const char *calls)
{
	size_t steps[] = { 0, 1, 2, 3, 7 };
	for (int k = 0; k < 5; k++) {
		parse(text, steps[k], 0);
		CHECK(!strcmp(got[1].p, content), "step %zu: content [%s] want [%s]", steps[k], got[1].p, content);
		CHECK(!strcmp(got[2].p, thinking), "step %zu: thinking [%s] want [%s]", steps[k], got[2].p, thinking);
		CHECK(!strcmp(got[3].p, calls), "step %zu: calls [%s] want [%s]", steps[k], got[3].p, calls);
	}
}

static void test_model_outputs(void)
{
	size_t n;
	char *s = t_slurp(t_data("tokenizer/gemma4-chat-examples.json"), &n);
	g4_json *ex = s ? g4_json_parse(s, n, "examples") : NULL;
	CHECK(ex != NULL, "%s", g4_errmsg());
	if (!ex)
		return;
	const g4_json *l = g4_json_get(ex, "examples");
	int seen = 0;
	for (size_t i = 0; i < l->n; i++) {
		const g4_json *name = g4_json_get(&l->kid[i], "name"), *t = g4_json_get(&l->kid[i], "model_output_text");
		if (!t)
			continue;
		seen++;
		if (!strcmp(name->str, "model_output_thinking"))
			expect(t->str, "17 × 23 = 391.", "17*23 = 17*20 + 17*3 = 340 + 51 = 391.", "");
		else if (!strcmp(name->str, "model_output_no_thinking"))
			expect(t->str, "17 × 23 = 391.", "", "");
		else if (!strcmp(name->str, "model_output_tool_call"))
			expect(t->str, "", "", "{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\",\"unit\":\"celsius\"}}");
		else
			CHECK(0, "unexpected example %s", name->str);
	}
	CHECK(seen == 3, "%d model outputs", seen);
	g4_json_free(ex);
	free(s);
}

static void test_types(void)
{
	expect("<|tool_call>call:f{arr:[1,<|\"|>two<|\"|>,{k:<|\"|>v<|\"|>}],b:false,f:-1.5,i:42,"
	       "obj:{a:<|\"|>q<|\"|>,z:1},s:<|\"|>text \"quoted\"\n<|\"|>,n:null,t:true,e:[],o:{}}<tool_call|><|tool_response>",
	       "", "", "{\"name\":\"f\",\"arguments\":{\"arr\":[1,\"two\",{\"k\":\"v\"}],\"b\":false,\"f\":-1.5,\"i\":42,"
	       "\"obj\":{\"a\":\"q\",\"z\":1},\"s\":\"text \\\"quoted\\\"\\n\",\"n\":null,\"t\":true,\"e\":[],\"o\":{}}}");
	/* whitespace after { [ , : ; two calls; content before the calls */
	expect("Let me check.<|tool_call>call:a{ x: [ 1, 2 ], y :<|\"|>z<|\"|>}<tool_call|><|tool_call>call:b{}<tool_call|><|tool_response>",
	       "Let me check.", "", "{\"name\":\"a\",\"arguments\":{\"x\":[1,2],\"y\":\"z\"}}\n{\"name\":\"b\",\"arguments\":{}}");
	/* a call that does not parse is passed on as text */
	expect("<|tool_call>oops<tool_call|>", "<|tool_call>oops<tool_call|>", "", "");
}

static void test_tolerance(void)
{
	/* empty thought block, budget-cut block, stray closer, repeated opener */
	expect("<|channel>thought\n<channel|>Hi.<turn|>ignored", "Hi.", "", "");
	expect("<|channel>thought<channel|>  Hi. ", "Hi.", "", "");
	expect("Answer.<channel|>", "Answer.", "", "");
	expect("<|channel><|channel>thought\nx<channel|>y", "y", "x", "");
	/* inside an open thought block from the prompt */
	parse("plan<channel|>done<turn|>", 1, G4_OUTP_IN_THOUGHT);
	CHECK(!strcmp(got[2].p, "plan") && !strcmp(got[1].p, "done"), "open thought: [%s] [%s]", got[2].p, got[1].p);
}

int main(void)
{
	RUN(test_model_outputs);
	RUN(test_types);
	RUN(test_tolerance);
	for (int i = 0; i < 4; i++)
		g4_buf_free(&got[i]);
	return t_done();
}
