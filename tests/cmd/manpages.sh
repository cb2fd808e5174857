#!/bin/sh
# The man pages match the commands:
#  - every command in cmd/ has a page man/NAME.1 whose NAME section names it;
#  - for every command three sets of options are equal: the options its
#    source accepts (string literals "-x"/"--xx" it compares arguments with,
#    getopt_long's table and short-option string), the options its --help
#    mentions, and the options of its page (SYNOPSIS and the heads of the
#    option lists, read from mandoc's HTML rendering so that mdoc and man(7)
#    pages are treated alike);
#  - `mandoc -T lint` reports nothing for any page in man/, except that a
#    cross-reference to another g4 page (Xr g4tok 1) cannot be resolved
#    before the pages are installed: those lines are accepted when the page
#    they name is in man/.
. tests/cmd/lib.sh
T=$G4_TMP/manpages
mkdir -p "$T"

if ! command -v mandoc >/dev/null 2>&1; then
	no mandoc "mandoc is not installed (tools/deps.sh installs it)"
	exit 0
fi

# Option words in text on stdin: -x or --xx-yy at the start of a word (after
# a blank, a bracket, a bar or a comma), one per line, sorted, unique.
opts() {
	sed 's/\\-/-/g' | grep -oE '(^|[][ 	(|,])(--?[A-Za-z][A-Za-z0-9-]*|-0\b)' |
		sed 's/^[][ 	(|,]*//' | sort -u
}

# The options the source of a command accepts.
src_opts() {
	{
		# string literals that are exactly an option: strcmp(a, "--tokens")
		grep -oE '"--?[A-Za-z][A-Za-z0-9-]*"' "$1" | tr -d '"'
		# getopt_long tables: { "name", required_argument, ... }
		grep -oE '\{ *"[A-Za-z][A-Za-z0-9-]*", *(no|required|optional)_argument' "$1" |
			sed 's/^{ *"\([^"]*\)".*/--\1/'
		# getopt_long(argc, argv, "m:s:o:", ...): the short options
		grep -oE 'getopt(_long)? *\([^,]*, *[^,]*, *"[^"]*"' "$1" |
			sed 's/.*"\([^"]*\)"$/\1/' | tr -d ':+' | fold -w1 | sed 's/^/-/'
	} | grep -vE '^-+$' | sort -u
}

# The options of a page: its SYNOPSIS and the heads (<dt>) of its lists.
man_opts() {
	mandoc -T html -O fragment "$1" | awk '
		/<section class="Sh">/ { syn = 0 }
		/id="SYNOPSIS"/ { syn = 1 }
		/<dt/ { dt = 1 }
		syn || dt { print }
		/<\/dt>/ { dt = 0 }' |
		sed -e 's/<[^>]*>/ /g' -e 's/&#x2011;/-/g' -e 's/&#x2010;/-/g' -e 's/&#x2212;/-/g' | opts
}

n=0
for src in cmd/*.c; do
	name=$(basename "$src" .c)
	page=man/$name.1
	n=$((n + 1))
	if [ ! -f "$page" ]; then
		no "${name}_page" "no man page $page"
		continue
	fi
	if mandoc -T ascii "$page" | col -b | sed -n '/^NAME/{n;p;}' | grep -q "^ *$name - "; then
		ok "${name}_page"
	else
		no "${name}_page" "the NAME section of $page does not name $name"
	fi
	if [ ! -x "$G4_BIN/$name" ]; then
		no "${name}_options" "$G4_BIN/$name is not built"
		continue
	fi
	src_opts "$src" >"$T/$name.src"
	"$G4_BIN/$name" --help 2>/dev/null | opts >"$T/$name.help"
	man_opts "$page" >"$T/$name.man"
	if [ ! -s "$T/$name.src" ] || [ ! -s "$T/$name.help" ] || [ ! -s "$T/$name.man" ]; then
		no "${name}_options" "no options found (source $(wc -l <"$T/$name.src"), --help $(wc -l <"$T/$name.help"), page $(wc -l <"$T/$name.man"))"
		continue
	fi
	why=""
	d=$(comm -23 "$T/$name.src" "$T/$name.help" | tr '\n' ' ')
	[ -n "$d" ] && why="$why accepted but not in --help: $d;"
	d=$(comm -13 "$T/$name.src" "$T/$name.help" | tr '\n' ' ')
	[ -n "$d" ] && why="$why in --help but not accepted: $d;"
	d=$(comm -23 "$T/$name.help" "$T/$name.man" | tr '\n' ' ')
	[ -n "$d" ] && why="$why in --help but not in $page: $d;"
	d=$(comm -13 "$T/$name.help" "$T/$name.man" | tr '\n' ' ')
	[ -n "$d" ] && why="$why in $page but not in --help: $d;"
	if [ -z "$why" ]; then ok "${name}_options"; else no "${name}_options" "$why"; fi
done
[ "$n" -gt 0 ] || no commands "no cmd/*.c"

# Every page in man/ belongs to a command or is section 5.
for page in man/*.[1-9]; do
	[ -f "$page" ] || continue
	case $page in
	*.1) [ -f "cmd/$(basename "$page" .1).c" ] || no "$(basename "$page")_command" "$page documents no command in cmd/";;
	esac
done
[ -f man/g4-formats.5 ] && ok formats_page || no formats_page "man/g4-formats.5 is missing"

# mandoc -T lint: nothing, but unresolved references to pages in man/.
for page in man/*.[1-9]; do
	[ -f "$page" ] || continue
	base=$(basename "$page")
	mandoc -T lint "$page" >"$T/lint" 2>&1
	bad=""
	while IFS= read -r line; do
		ref=$(printf '%s\n' "$line" | sed -n 's/^mandoc: [^ ]*: STYLE: referenced manual not found: Xr \(g4[A-Za-z0-9-]*\) \([1-9]\)\( (.*)\)\{0,1\}$/\1.\2/p')
		if [ -n "$ref" ] && [ -f "man/$ref" ]; then continue; fi
		bad="$bad $line |"
	done <"$T/lint"
	if [ -z "$bad" ]; then ok "lint_$base"; else no "lint_$base" "mandoc -T lint:$bad"; fi
done
