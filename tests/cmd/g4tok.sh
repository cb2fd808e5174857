# g4tok: encode, decode, documents, chat, vocab-only GGUF, errors.
. tests/cmd/lib.sh
T=$G4_DATA/tokenizer/mini-tokenizer.json.zst
D=$G4_TMP/g4tok; mkdir -p "$D"

expect help sh -c 'g4tok --help >/dev/null'
out=$(g4tok --version); [ "$out" = "g4tok (g4) $(sed -n 's/.*G4_VERSION "\(.*\)"/\1/p' lib/version.h)" ] && ok version || no version "$out"

out=$(printf 'Hello world' | g4tok --tokenizer "$T" --ids)
[ "$out" = "2 9259 1902" ] && ok ids || no ids "$out"
out=$(printf 'Hello world' | g4tok --tokenizer "$T" --ids --no-bos)
[ "$out" = "9259 1902" ] && ok no_bos || no no_bos "$out"
out=$(printf '<|turn>' | g4tok --tokenizer "$T" --ids --no-bos --no-parse-special)
[ "$out" = "236820 236909 887 236813" ] && ok no_parse_special || no no_parse_special "$out"

# stream round trip, byte for byte (a file with newlines, tabs, emoji, CR)
printf 'caf\303\251 \360\237\246\231\r\n\ttabs  and  spaces\n\n<table>x</table>' > "$D/a.txt"
g4tok --tokenizer "$T" "$D/a.txt" > "$D/a.g4s" && g4tok --tokenizer "$T" -d "$D/a.g4s" > "$D/a.out"
cmp -s "$D/a.txt" "$D/a.out" && ok stream_round_trip || no stream_round_trip "decoded text differs"
head -c 4 "$D/a.g4s" | od -An -tx1 | grep -q '89 47 34 53' && ok stream_magic || no stream_magic "not a g4 stream"
# decimal ids decode the same
g4tok --tokenizer "$T" --ids "$D/a.txt" | g4tok --tokenizer "$T" -d > "$D/b.out"
cmp -s "$D/a.txt" "$D/b.out" && ok ids_round_trip || no ids_round_trip "decoded text differs"

# two files: one stream, two documents; --lines
printf 'Hello' > "$D/1.txt"; printf ' world' > "$D/2.txt"
out=$(g4tok --tokenizer "$T" "$D/1.txt" "$D/2.txt" | g4tok --tokenizer "$T" -d | od -An -c | tr -s ' ')
[ "$out" = " H e l l o \n w o r l d" ] && ok two_documents || no two_documents "$out"
out=$(g4tok --tokenizer "$T" --ids "$D/1.txt" "$D/2.txt" | wc -l)
[ "$out" -eq 2 ] && ok two_lines || no two_lines "$out lines"
out=$(printf 'Hello\n world\n' | g4tok --tokenizer "$T" --ids --lines --no-bos -t 2)
[ "$out" = "$(printf '9259\n1902')" ] && ok lines || no lines "$out"

# control tokens: hidden by default, shown with --special; user-defined always
out=$(echo "2 105 9259 100" | g4tok --tokenizer "$T" -d)
[ "$out" = "Hello<|channel>" ] && ok decode_hidden || no decode_hidden "$out"
out=$(echo "2 105 9259" | g4tok --tokenizer "$T" -d --special)
[ "$out" = "<bos><|turn>Hello" ] && ok decode_special || no decode_special "$out"

# chat: ids, render, thinking, template, media slots
req='[{"role":"user","content":"Hello"}]'
out=$(echo "$req" | g4tok --tokenizer "$T" --chat --ids)
[ "$out" = "2 105 2364 107 9259 106 107 105 4368 107 100 45518 107 101" ] && ok chat_ids || no chat_ids "$out"
out=$(echo "$req" | g4tok --tokenizer "$T" --chat --ids --template gemma4-2607-e)
[ "$out" = "2 105 2364 107 9259 106 107 105 4368 107" ] && ok chat_template || no chat_template "$out"
out=$(echo "$req" | g4tok --tokenizer "$T" --chat --render --thinking --no-generation-prompt)
[ "$out" = "$(printf '<bos><|turn>system\n<|think|>\n<turn|>\n<|turn>user\nHello<turn|>')" ] && ok chat_render || no chat_render "$out"
req='{"messages":[{"role":"user","content":[{"type":"text","text":"Transcribe:"},{"type":"audio"}]}]}'
out=$(echo "$req" | g4tok --tokenizer "$T" --chat --ids)
[ "$out" = "2 105 2364 107 5183 17038 236787 258881 106 107 105 4368 107 100 45518 107 101" ] && ok chat_audio_ids || no chat_audio_ids "$out"
# in the stream the placeholder is a slot: SLOT record 03 02 00 00
echo "$req" | g4tok --tokenizer "$T" --chat > "$D/c.g4s"
od -An -tx1 -v "$D/c.g4s" | tr -d '\n' | grep -q '03 02 00 00' && ok chat_slot || no chat_slot "no audio slot record"
out=$(g4tok --tokenizer "$T" -d --special "$D/c.g4s")
# ... between the markers the processor puts around the soft tokens
case $out in *'Transcribe:<|audio><|audio|><audio|><turn|>'*) ok chat_slot_decode;; *) no chat_slot_decode "$out";; esac
# the model's own template is the default: the micro GGUF has none -> gemma4
out=$(echo '[{"role":"user","content":"x"}]' | g4tok -m "$G4_DATA/micro-e2b-Q4_0.gguf" --chat --render)
[ "$out" = "$(printf '<bos><|turn>user\nx<turn|>\n<|turn>model\n<|channel>thought\n<channel|>')" ] && ok chat_gguf || no chat_gguf "$out"

# vocab-only GGUF: loads back with the same ids
g4tok --tokenizer "$T" --write-gguf "$D/v.gguf" && ok write_gguf || no write_gguf "failed"
a=$(g4tok --tokenizer "$T" --ids "$D/a.txt"); b=$(g4tok -m "$D/v.gguf" --ids "$D/a.txt")
[ -n "$a" ] && [ "$a" = "$b" ] && ok gguf_same_ids || no gguf_same_ids "$a / $b"

# errors: one line, status 1; usage errors: status 2
expect_fail bad_json 1 sh -c "echo '[{\"role\":\"user\",\"content\":\"x\"' | g4tok --tokenizer $T --chat"
grep -q 'byte' "$G4_TMP/ef.err" && ok bad_json_position || no bad_json_position "$(cat "$G4_TMP/ef.err")"
expect_fail unknown_id 1 sh -c "echo '2 999999' | g4tok --tokenizer $T -d"
grep -q 'token 1' "$G4_TMP/ef.err" && ok unknown_id_position || no unknown_id_position "$(cat "$G4_TMP/ef.err")"
expect_fail garbage_stream 1 sh -c "printf 'x y' | g4tok --tokenizer $T -d"
expect_fail no_file 1 g4tok --tokenizer "$D/nonexistent.json"
expect_fail not_tokenizer 1 g4tok --tokenizer "$D/a.txt"
expect_fail no_vocab 2 g4tok --ids
expect_fail bad_option 2 g4tok --tokenizer "$T" --frobnicate
expect_fail bad_template 2 g4tok --tokenizer "$T" --chat --template llama3
# invalid UTF-8 goes through byte fallback
out=$(printf 'a\377b' | g4tok --tokenizer "$T" --ids --no-bos)
[ "$out" = "236746 493 236763" ] && ok invalid_utf8 || no invalid_utf8 "$out"
# -o writes the file whole
printf 'Hello' | g4tok --tokenizer "$T" --ids -o "$D/o.txt" && [ "$(cat "$D/o.txt")" = "2 9259" ] && ok out_file || no out_file "-o"
# a failed write names the output and what failed
expect_fail write_gguf_dev_full 1 g4tok --tokenizer "$T" --write-gguf /dev/full
[ "$(cat "$G4_TMP/ef.err")" = "g4tok: writing /dev/full: No space left on device" ] && ok write_gguf_dev_full_msg ||
	no write_gguf_dev_full_msg "$(head -c 300 "$G4_TMP/ef.err")"
