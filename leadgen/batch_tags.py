"""The one batch-tag rule (the NICHES_INPUT column's), shared by the planner, the CLI and the flow parameters."""

from __future__ import annotations

import re

BATCH_TAG_MAX_CHARS = 100  # the batch_tag columns are String(100)
# Letters (any script: "партия-1" is a tag), digits and . _ : - ; nothing else, no spaces.
BATCH_TAG_RE = re.compile(r"^[\w.:-]{1,100}$")
BATCH_TAG_HELP = f"letters, digits and . _ : - (at most {BATCH_TAG_MAX_CHARS} characters)"


def batch_tag_problem(tag: str, /) -> str | None:
    """Why `tag` is not a valid batch tag, or None: the rule of the input column, `--batch-tag` and the flows."""
    if len(tag) > BATCH_TAG_MAX_CHARS:
        return f"is longer than {BATCH_TAG_MAX_CHARS} characters"
    if not BATCH_TAG_RE.fullmatch(tag):
        return f"{tag!r} may only hold letters, digits and . _ : -"
    return None


def check_batch_tag(tag: str, /) -> str:
    """`tag` unchanged when valid, else ValueError("batch_tag <why>") (a pydantic validator of flow parameters)."""
    problem = batch_tag_problem(tag)
    if problem is not None:
        raise ValueError(f"batch_tag {problem}")
    return tag
