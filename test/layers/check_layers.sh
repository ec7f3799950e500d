#!/bin/sh
# Check that every #include "..." of the C sources follows the layering in
# a rules file (test/layers/rules says how to read it), and that no two
# files include each other in a cycle.
#
#   test/layers/check_layers.sh [-r RULES] [ROOT]
#
# ROOT (default .) is the tree to check; its test/, build*/, data/ and
# node_modules/ are skipped. RULES defaults to test/layers/rules. Prints one
# line per problem:
#
#   FILE:LINE: #include "INCLUDE": LAYER may not include it (RULES:N: ...)
#   FILE:LINE: #include "INCLUDE": forbidden by !PREFIX for LAYER (RULES:N)
#   FILE: no layer in RULES
#   include cycle: A -> B -> A
#
# then a summary, and a line for each exception no longer used. Includes
# are paths from the root ("naming/core/model.h"); a bare name is looked up
# next to the includer, else taken as not ours ("uthash.h") and skipped.
# Exits 1 when there is a problem, 2 on a usage or rules error, else 0.
# POSIX sh and awk only (no python on CI), fast enough for every make
# test. Self-test: test/layers/selftest.sh.
set -eu

rules=test/layers/rules
while getopts r: opt; do
    case $opt in
    r) rules=$OPTARG ;;
    *) echo "usage: $0 [-r RULES] [ROOT]" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
root=${1:-.}

[ -f "$rules" ] || { echo "check_layers: no rules file $rules" >&2; exit 2; }
[ -d "$root" ] || { echo "check_layers: no directory $root" >&2; exit 2; }

find "$root" \( -path "$root/test" -o -path "$root/build*" -o \
    -path "$root/data" -o -name node_modules -o -name .git \) -prune -o \
    -type f \( -name '*.c' -o -name '*.h' \) -print | sort |
awk -v rules="$rules" -v root="$root" '
# ---------------------------------------------------------------- rules
function load_rules(    line, n, f, i, k) {
    nl = 0
    ne = 0
    while ((getline line < rules) > 0) {
        nr++
        sub(/#.*/, "", line)
        sub(/[ \t]+$/, "", line)
        n = split(line, f, /[ \t]+/)
        k = 1
        while (k <= n && f[k] == "") k++
        if (k > n) continue
        if (f[k] == "exception") {
            if (n - k != 2) bad_rule("exception FILE INCLUDE")
            ne++
            ex_file[ne] = f[k + 1]
            ex_inc[ne] = f[k + 2]
            ex_line[ne] = nr
            continue
        }
        if (!(f[k] in lay_line)) {
            nl++
            lay[nl] = f[k]
            lay_line[f[k]] = nr
            lay_text[f[k]] = ""
        }
        for (i = k + 1; i <= n; i++) {
            if (f[i] == "") continue
            lay_allow[f[k], ++lay_n[f[k]]] = f[i]
            lay_text[f[k]] = lay_text[f[k]] " " f[i]
        }
    }
    close(rules)
    if (nl == 0) bad_rule("no layers")
}

function bad_rule(what) {
    printf "check_layers: %s:%d: %s\n", rules, nr, what > "/dev/stderr"
    exit_code = 2
    exit 2
}

function starts(s, p) {
    return substr(s, 1, length(p)) == p
}

# The layer of @path: the longest LAYER that is a prefix of it, or "".
function layer_of(path,    i, best) {
    best = ""
    for (i = 1; i <= nl; i++)
        if (starts(path, lay[i]) && length(lay[i]) > length(best))
            best = lay[i]
    return best
}

# Whether @file (of layer @l) may include @inc. Sets why (the deciding
# entry, "" when none matched).
function allowed(file, l, inc,    i, e, best, ok) {
    best = -1
    ok = 0
    why = ""
    for (i = 1; i <= lay_n[l]; i++) {
        e = lay_allow[l, i]
        if (e == "*") {
            if (best < 0) { best = 0; ok = 1; why = e }
        } else if (substr(e, 1, 1) == "!") {
            if (starts(inc, substr(e, 2)) && length(e) - 1 >= best) {
                best = length(e) - 1; ok = 0; why = e
            }
        } else if (starts(inc, e) && length(e) > best) {
            best = length(e); ok = 1; why = e
        }
    }
    if (ok) return 1
    for (i = 1; i <= ne; i++) {
        if (starts(file, ex_file[i]) && starts(inc, ex_inc[i])) {
            ex_used[i] = 1
            return 1
        }
    }
    return 0
}

# ---------------------------------------------------------------- files
BEGIN { load_rules() }

{
    path = $0
    if (substr(path, 1, length(root) + 1) == root "/")
        path = substr(path, length(root) + 2)
    nfiles++
    file[nfiles] = path
    disk[path] = $0
    known[path] = 1
}

END {
    if (exit_code) exit exit_code
    problems = 0
    bad_files = 0
    for (fi = 1; fi <= nfiles; fi++) {
        path = file[fi]
        l = layer_of(path)
        if (l == "") {
            printf "%s: no layer in %s\n", path, rules
            problems++
            bad_files++
            continue
        }
        dir = path
        if (!sub(/\/[^\/]*$/, "", dir)) dir = ""
        lineno = 0
        bad_here = 0
        while ((getline line < disk[path]) > 0) {
            lineno++
            if (line !~ /^[ \t]*#[ \t]*include[ \t]*"/) continue
            inc = line
            sub(/^[ \t]*#[ \t]*include[ \t]*"/, "", inc)
            sub(/".*/, "", inc)
            # A name without a folder is looked up next to the includer
            # first, as the compiler does; not found there, it is not one
            # of ours ("uthash.h").
            if (inc !~ /\//) {
                if (!((dir "/" inc) in known)) continue
                inc = dir "/" inc
            }
            if (inc in known) {
                edges[path] = edges[path] SUBSEP inc
            }
            if (allowed(path, l, inc)) continue
            problems++
            bad_here = 1
            if (substr(why, 1, 1) == "!")
                printf "%s:%d: #include \"%s\": forbidden by %s for %s (%s:%d)\n",
                    path, lineno, inc, why, l, rules, lay_line[l]
            else
                printf "%s:%d: #include \"%s\": %s may not include it (%s:%d: %s ->%s)\n",
                    path, lineno, inc, l, rules, lay_line[l], l, lay_text[l]
        }
        close(disk[path])
        bad_files += bad_here
    }
    cycles = find_cycles()
    problems += cycles
    used = 0
    for (i = 1; i <= ne; i++) used += (i in ex_used)
    printf "check-layers: %d files, %d problem(s) (%d include cycle(s)) in %d file(s); %d of %d exception(s) used; rules: %s\n",
        nfiles, problems, cycles, bad_files, used, ne, rules
    for (i = 1; i <= ne; i++)
        if (!(i in ex_used))
            printf "check-layers: exception at %s:%d (%s %s) is no longer needed\n",
                rules, ex_line[i], ex_file[i], ex_inc[i]
    exit problems > 0 ? 1 : 0
}

# ---------------------------------------------------------------- cycles
# Depth-first search over the includes between files of the tree; each
# back edge is one cycle, printed from the file it returns to.
function find_cycles(    fi, n) {
    n = 0
    for (fi = 1; fi <= nfiles; fi++)
        if (!(file[fi] in color)) n += dfs(file[fi], 0)
    return n
}

function dfs(v, depth,    n, k, m, parts, w, j, text) {
    color[v] = 1
    stack[depth] = v
    n = 0
    m = split(edges[v], parts, SUBSEP)
    for (k = 2; k <= m; k++) {
        w = parts[k]
        if (!(w in color)) {
            n += dfs(w, depth + 1)
        } else if (color[w] == 1) {
            text = ""
            for (j = 0; j <= depth; j++)
                if (text != "" || stack[j] == w) text = text stack[j] " -> "
            printf "include cycle: %s%s\n", text, w
            n++
        }
    }
    color[v] = 2
    return n
}
'
