"""Tactics are untrusted input: accept one Lean 4 tactic, reject what could cheat or escape.

`check_tactic(text)` returns a reason a person can read, or None; `normalize_tactic(text)` is the
text the REPL is sent and a proof records. The check runs before Lean sees the text. What it rejects:

- giving up a goal: `sorry`, `admit`, `stop` (= `repeat sorry`), `sorryAx`, and the library-search
  tactics that admit goals or only suggest (`apply?`, `rw?`, `exact?`, `hint`, `simp?`, ...): their
  cost is a hidden search outside the counted budget, and the policy should write the term itself;
- skipping the kernel or running code: `native_decide`, `decide +native`, `ofReduceBool`, `unsafe`,
  `implemented_by`, `run_tac`/`run_cmd`/`run_elab`/`run_meta`, `by_elab`, `eval%`, `bv_decide`
  (calls an external SAT solver), `polyrith` (calls a web service);
- commands, which in the checker's file would end the proof and start a declaration of their own:
  every command keyword (`theorem`, `def`, `axiom`, `import`, `set_option` (`debug.skipKernelTC`),
  `open` (also `open Foo in tac`: names can be written qualified; the statement's header, which is
  part of the problem and never passes through here, may open namespaces), `macro`, `elab`,
  `notation`, `attribute`, `termination_by`, ...), `#`-commands (`#eval`, `#exit`), attributes `@[...]`;
- meta-programming and text Lean and this scanner might read differently: syntax quotations and
  name literals (backquote), interpolated and raw strings, `«escaped»` identifiers, control,
  format (bidi, zero-width) and odd space characters, tabs, unterminated comments or strings;
- goal bullets (`·`, `.`) and `|` at the start: the search focuses goals itself (goal combinators
  such as `all_goals`, `<;>`, `case`, `next` are fine: a state's goals are all its own).

Comments and string literals are removed before words are checked, so they cannot hide a word from
the check, and a word in them is not rejected. Words are matched with ASCII identifier boundaries,
so `h.sorry` or `αsorry` is rejected even where Lean would read one identifier (safe side), and the
text is checked again after NFKC normalisation (full-width or other compatibility look-alikes).
Look-alike letters from other scripts (Cyrillic `ѕorry`) are different identifiers to Lean too,
so they cannot reach a forbidden tactic. The trusted checker re-checks every proof anyway
(`#print axioms`): this layer keeps the search's bookkeeping honest and the processes safe.

`check_script` applies the same word and character checks to a whole proof script (bullets
allowed anywhere). `check_tactic` also accepts the scripts `proof.render_proof` writes (they start
with a tactic), which is how the trusted checker asks it. A text of several tactics passes the
sandbox and is refused by Lean: the REPL parses exactly one tactic.
"""

from __future__ import annotations

import re
import unicodedata

MAX_TACTIC_CHARS = 4000

GIVE_UP = frozenset({"sorry", "admit", "stop", "sorryAx"})

LIBRARY_SEARCH = frozenset(
    {
        "exact?", "apply?", "rw?", "rw_search", "hint", "observe", "observe?", "says", "library_search",
        "suggest", "simp?", "simp?!", "simp_all?", "dsimp?", "simp_arith?", "aesop?", "norm_num?",
        "field_simp?", "unfold?", "conv?", "polyrith",
    }
)

UNSOUND_OR_CODE = frozenset(
    {
        "native_decide", "native", "ofReduceBool", "ofReduceNat", "reduceBool", "reduceNat",
        "trustCompiler", "implemented_by", "extern", "unsafe", "unsafeCast", "unsafeIO", "unsafeBaseIO",
        "unsafeEIO", "run_tac", "run_cmd", "run_elab", "run_meta", "by_elab", "bv_decide", "skipKernelTC",
    }
)

COMMANDS = frozenset(
    {
        "theorem", "lemma", "def", "example", "abbrev", "instance", "axiom", "axioms", "opaque",
        "structure", "class", "inductive", "coinductive", "mutual", "deriving", "import", "export",
        "open", "namespace", "section", "end", "variable", "universe", "omit", "include", "set_option",
        "attribute", "macro", "macro_rules", "syntax", "elab", "elab_rules", "notation", "infix",
        "infixl", "infixr", "prefix", "postfix", "declare_syntax_cat", "initialize",
        "builtin_initialize", "private", "protected", "noncomputable", "partial", "nonrec", "scoped",
        "local", "termination_by", "decreasing_by", "register_option", "register_simp_attr",
        "add_decl_doc", "library_note", "alias", "irreducible_def", "compile_inductive", "seal",
        "unseal", "assert_not_exists", "recall", "where",
    }
)

FORBIDDEN = GIVE_UP | LIBRARY_SEARCH | UNSOUND_OR_CODE | COMMANDS

_REASONS = (
    (GIVE_UP, "gives up a goal instead of proving it"),
    (LIBRARY_SEARCH, "is a library search: the policy must write the tactic it would find"),
    (UNSOUND_OR_CODE, "skips the kernel or runs code"),
    (COMMANDS, "is a command, not part of a tactic"),
)

_IDENT_CHARS = r"A-Za-z0-9_'!?"
_WORDS = re.compile(
    r"(?<![" + _IDENT_CHARS + r"])("
    + "|".join(re.escape(w) for w in sorted(FORBIDDEN, key=len, reverse=True))
    + r")(?![" + _IDENT_CHARS + r"])"
)
# Lower-case tactic names that end in `?` are suggestion tactics (`exact?`, `simp_all?`); a
# qualified or camel-case name (`List.head?`, `l.get?`) is an ordinary identifier.
_SUGGESTION = re.compile(r"(?<![" + _IDENT_CHARS + r".])[a-z][a-z_]*\?(?![" + _IDENT_CHARS + r"])")
# `#eval`, `#exit`, `#print` are commands; `#[a, b]` (arrays) and `#s` (Finset.card) are terms.
_HASH_COMMAND = re.compile(r"#[A-Za-z_][A-Za-z0-9_]")
_EVAL_PERCENT = re.compile(r"(?<![" + _IDENT_CHARS + r".])eval%")
_CHAR_LITERAL = re.compile(r"'(?:\\(?:x[0-9A-Fa-f]{2}|u\{[0-9A-Fa-f]+\}|[^\n])|[^\\'\n])'")
_ALLOWED_SPACE = {" ", "\n"}


class ScanError(ValueError):
    """The text cannot be split into code, comments and literals the way Lean would."""


def _code_and_literals(text: str) -> tuple[str, str]:
    """(code with comments blanked and literals emptied, the same with comments blanked only).

    Comments become spaces (newlines kept, so columns stay put); string and character literals
    become `""` and `' '` in the first result. Raises ScanError on what this scanner will not read.
    """
    code: list[str] = []
    kept: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        prev = text[i - 1] if i else " "
        if text.startswith("--", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            blank = " " * (end - i)
            code.append(blank)
            kept.append(blank)
            i = end
        elif text.startswith("/-", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/-", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("-/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            if depth:
                raise ScanError("unterminated comment")
            blank = "".join(ch if ch == "\n" else " " for ch in text[i:j])
            code.append(blank)
            kept.append(blank)
            i = j
        elif c == '"':
            if re.match(r"[A-Za-z0-9_'!?]", prev):
                raise ScanError("interpolated or raw strings (`s!\"…\"`, `r\"…\"`) are meta-programming")
            j = i + 1
            while j < n and text[j] != '"':
                if text[j] == "\\":
                    j += 1
                j += 1
            if j >= n:
                raise ScanError("unterminated string")
            code.append('""')
            kept.append(text[i : j + 1])
            i = j + 1
        elif c == "'" and not (prev.isalnum() or prev in "_'!?."):
            m = _CHAR_LITERAL.match(text, i)
            if m:  # a character literal; otherwise `'` is notation (`f '' s`)
                code.append("' '")
                kept.append(m.group(0))
                i = m.end()
            else:
                code.append(c)
                kept.append(c)
                i += 1
        else:
            code.append(c)
            kept.append(c)
            i += 1
    return "".join(code), "".join(kept)


def _bad_character(text: str) -> str | None:
    for ch in text:
        if ch in _ALLOWED_SPACE:
            continue
        if ch == "\t":
            return "tabs are not allowed in Lean source"
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp", "Zs"):
            name = unicodedata.name(ch, f"U+{ord(ch):04X}")
            return f"character {name} (category {cat}) is not allowed in a tactic"
    return None


def _word_problem(code: str) -> str | None:
    """Forbidden words, commands and meta-programming in `code` (comments and literals removed)."""
    for variant in (code, unicodedata.normalize("NFKC", code)):
        if m := _WORDS.search(variant):
            word = m.group(1)
            why = next(reason for words, reason in _REASONS if word in words)
            return f"`{word}` {why}"
        if m := _SUGGESTION.search(variant):
            return f"`{m.group(0)}` is a library search: the policy must write the tactic it would find"
        if _EVAL_PERCENT.search(variant):
            return "`eval%` runs code at elaboration time"
        if _HASH_COMMAND.search(variant):
            return "`#` commands (`#eval`, `#exit`, ...) are not tactics"
        if "@[" in variant:
            return "attributes (`@[...]`) belong to declarations, not tactics"
        if "`" in variant:
            return "quotations and name literals (backquote) are meta-programming, not proof steps"
        if "«" in variant or "»" in variant:
            return "escaped identifiers («…») are not allowed in a tactic"
        if "+native" in variant.replace(" ", ""):
            return "`decide +native` skips the kernel"
    return None


def _screen(text: object, whole_script: bool) -> tuple[str | None, str]:
    """(reason or None, normalised text)."""
    if not isinstance(text, str):
        return f"a tactic must be a string, got {type(text).__name__}", ""
    if len(text) > MAX_TACTIC_CHARS * (8 if whole_script else 1):
        return f"longer than {MAX_TACTIC_CHARS} characters", ""
    text = text.replace("\r\n", "\n")
    if "\0" in text:
        return "contains a NUL byte", ""
    if reason := _bad_character(text):
        return reason, ""
    try:
        code, kept = _code_and_literals(text)
    except ScanError as e:
        return str(e), ""
    if reason := _word_problem(code):
        return reason, ""
    normal = _layout(kept)
    if not normal:
        return "empty tactic", ""
    if not whole_script:
        if normal[0] in "·.":
            return "bullets are not tactics: the search focuses goals itself", ""
        if normal[0] in "|;":
            return f"a tactic cannot start with {normal[0]!r}", ""
    return None, normal


def _layout(kept: str) -> str:
    """Blank lines and trailing spaces dropped, the first line's indentation removed from all."""
    lines = [line.rstrip() for line in kept.split("\n") if line.strip()]
    if not lines:
        return ""
    indent = len(lines[0]) - len(lines[0].lstrip(" "))
    out = []
    for line in lines:
        lead = len(line) - len(line.lstrip(" "))
        out.append(line[min(lead, indent) :])
    return "\n".join(out)


def check_tactic(text: str, theorem_name: str | None = None) -> str | None:
    """Why `text` may not be sent to Lean as one tactic, or None if it may.

    With `theorem_name`, a tactic that mentions the theorem being proved is rejected too: in the
    REPL that name is a local hypothesis (the recursive call), which the final file refuses.
    """
    reason, normal = _screen(text, whole_script=False)
    if reason is None and theorem_name:
        last = theorem_name.split(".")[-1]
        names = {theorem_name, last}
        code, _ = _code_and_literals(normal)
        for name in names:
            if re.search(r"(?<![" + _IDENT_CHARS + r"])" + re.escape(name) + r"(?![" + _IDENT_CHARS + r"])", code):
                return f"`{name}` is the theorem being proved: a proof cannot use itself"
    return reason


def check_script(text: str) -> str | None:
    """The same checks for a whole proof script (several lines of tactics, bullets allowed)."""
    return _screen(text, whole_script=True)[0]


def normalize_tactic(text: str) -> str:
    """The tactic as sent and recorded: comments gone, layout tidied. ValueError if rejected."""
    reason, normal = _screen(text, whole_script=False)
    if reason is not None:
        raise ValueError(reason)
    return normal
