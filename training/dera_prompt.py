"""The grounded-QA prompt exactly as dera builds it, so training sees the bytes dera feeds the model.

Mirrors, in Python:
- Sources/Pipelines/PromptTemplate.swift: a `[system]` / `[user]` section file; a line is a header when,
  stripped of spaces and tabs, it starts with `[`, ends with `]` and holds no space; each section's lines are
  joined with "\n" and then stripped of whitespace and newlines at both ends; `{{name}}` is replaced verbatim.
- Sources/Tokenization/ChatTemplate.swift: ChatML, `<|im_start|>{role}\n{content}<|im_end|>\n` per message,
  then `<|im_start|>assistant\n`. The template has a system section, so SmolLM2's default system message
  is never inserted.
- HaluEval rows with retrieval off: one passage, `"[1] " + knowledge` (knowledge untouched, no title),
  the question verbatim (HaluEval has a few questions with a leading space; dera keeps them, so do we).
The tokenizer adds no BOS (the GGUF has add_bos_token = false); `<|im_start|>`/`<|im_end|>` are parsed as
special tokens.
"""

from __future__ import annotations

from pathlib import Path

# Swift's CharacterSet.whitespaces is Unicode general category Zs plus tab; the templates only use ASCII,
# where that is " " and "\t". .whitespacesAndNewlines adds "\n", "\r" and the other line separators.
_SPACES = " \t"
_SPACES_AND_NEWLINES = " \t\n\r\x0b\x0c\x85\u2028\u2029"

IM_START = "<|im_start|>"
IM_END = "<|im_end|>"


class PromptTemplate:
    def __init__(self, text: str, path: str = "<prompt>"):
        sections: dict[str, list[str]] = {}
        current = None
        for line in text.split("\n"):
            trimmed = line.strip(_SPACES)
            if trimmed.startswith("[") and trimmed.endswith("]") and " " not in trimmed:
                name = trimmed[1:-1]
                if name not in ("system", "user"):
                    raise ValueError(f"{path}: unknown section [{name}]")
                current = name
                sections[name] = []
            elif current is not None:
                sections[current].append(line)
            elif trimmed:
                raise ValueError(f"{path}: text before the first [system] or [user] header")

        def joined(name):
            if name not in sections:
                return None
            return "\n".join(sections[name]).strip(_SPACES_AND_NEWLINES)

        self.system = joined("system")
        self.user = joined("user")
        if not self.user:
            raise ValueError(f"{path}: no [user] section")

    @classmethod
    def load(cls, path: str | Path) -> "PromptTemplate":
        return cls(Path(path).read_text(encoding="utf-8"), str(path))

    @staticmethod
    def fill(text: str, values: dict[str, str]) -> str:
        # Left to right, like PromptTemplate.fill: an unclosed "{{" is copied through.
        out = []
        rest = text
        while True:
            open_at = rest.find("{{")
            if open_at < 0:
                break
            close_at = rest.find("}}", open_at + 2)
            if close_at < 0:
                break
            out.append(rest[:open_at])
            name = rest[open_at + 2:close_at].strip(_SPACES)
            if name not in values:
                raise KeyError(f"the prompt template uses {{{{{name}}}}}, which has no value")
            out.append(values[name])
            rest = rest[close_at + 2:]
        out.append(rest)
        return "".join(out)

    def messages(self, values: dict[str, str]) -> list[tuple[str, str]]:
        result = []
        if self.system is not None:
            result.append(("system", self.fill(self.system, values)))
        result.append(("user", self.fill(self.user, values)))
        return result


def render_chatml(messages: list[tuple[str, str]]) -> str:
    """ChatML with the assistant header appended (addGenerationPrompt: true)."""
    text = "".join(f"{IM_START}{role}\n{content}{IM_END}\n" for role, content in messages)
    return text + f"{IM_START}assistant\n"


def halueval_prompt(template: PromptTemplate, row: dict) -> str:
    """The prompt dera gives the model for one HaluEval QA row with the row's knowledge as the only passage."""
    return render_chatml(template.messages({"passages": "[1] " + row["knowledge"], "question": row["question"]}))


def chosen_answer(row: dict) -> str:
    """The preferred reply: the row's right_answer, stripped, with the end-of-turn token."""
    return row["right_answer"].strip() + IM_END


def rejected_answer(row: dict) -> str:
    """The dispreferred reply: the row's hallucinated_answer, stripped, with the end-of-turn token."""
    return row["hallucinated_answer"].strip() + IM_END


# --- Retrieval prompts (dera ask): several retrieved passages, as GroundedAnswerer.messages() numbers them ---

PASSAGE_CHARACTERS = 600   # GroundedAnswerer.passageCharacters


def _characters(text: str) -> list[str]:
    """Extended grapheme clusters, the unit Swift's String.count and prefix(_:) use."""
    import regex   # a dependency of transformers
    return regex.findall(r"\X", text)


def passage_prompt_text(text: str, limit: int = PASSAGE_CHARACTERS) -> str:
    """GroundedAnswerer.promptText: the passage cut to `limit` characters plus "…" when longer."""
    chars = _characters(text)
    return "".join(chars[:limit]) + "…" if len(chars) > limit else text


def retrieval_passages(hits: list[dict]) -> str:
    """`{{passages}}` for hits as `dera search --json` prints them: "[n] Title: text" (no "Title: " when the
    title is empty), one per line."""
    lines = []
    for n, hit in enumerate(hits, start=1):
        title = hit.get("title") or ""
        lines.append(f"[{n}] " + (title + ": " if title else "") + passage_prompt_text(hit["passage"]["text"]))
    return "\n".join(lines)


def retrieval_prompt(template: PromptTemplate, question: str, hits: list[dict]) -> str:
    """The prompt `dera ask QUESTION` renders over `hits` (a template with a [system] section, so no default
    system message is inserted; ChatML as for SmolLM2 and Qwen2.5)."""
    return render_chatml(template.messages({"passages": retrieval_passages(hits), "question": question}))
