"""Dictionary definitions of nouns and verbs, read for the trained shape and motion words they name.

A sentence encoder places words by the company they keep, not by their outline: MiniLM puts "dice"
nearer to "ball" than to "box" and reads 60 development shape nouns at 0.75
(:mod:`cinediff.text.grounding`). A dictionary says what a thing looks like: WordNet defines a
"dice" as "a small cube with 1 to 6 spots on the six faces", a "coin" as "a flat metal piece (usually
a disc)", a "funnel" as "a conical shape with a wider and a narrower opening". This module counts, for
every noun, the trained shape words (and their plurals and WordNet adjectives: "circular", "conical")
in the definitions and synonyms of its :data:`SENSES` most frequent senses and their direct
hypernyms (:data:`DEPTH`); :func:`shape_of` takes the shape whose words are named most, and none on a
tie or no mention. On the development nouns it names a shape for 21 of 60, all 21 right
(``benchmarks/reading.py``); :class:`~cinediff.text.grounding.ClauseReader` asks it first and its
encoder for the rest.

Verbs alike: a motion verb with no direction word ("a ring falling") is read by the encoder as a
change of size (moves are told apart only by their direction words), but WordNet's chain says it:
to fall is to "descend", to descend to "move downward". :func:`motion_of` counts the trained
direction and size words ("downward", "bigger"; :func:`cinediff.text.grounding.definition_words`)
over :data:`VERB_SENSES` senses and :data:`VERB_DEPTH` hypernym levels; it names the motion of 19 of
27 development verbs ("rising", "plummeting", "mushrooming"), none wrongly.

The counts are built once from the WordNet 3.0 database files (``cinediff data glosses
/usr/share/wordnet``; Debian's ``wordnet-base`` has them) into :data:`TABLE` and :data:`VERB_TABLE`,
a few thousand rows shipped with the package, so that reading needs no download and no WordNet
install. WordNet 3.0 Copyright 2006 by Princeton University, all rights reserved; its licence is in
each table's header.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

TABLE = Path(__file__).with_name("noun-glosses.tsv")
VERB_TABLE = Path(__file__).with_name("verb-glosses.tsv")
SENSES = 3  # most frequent senses read per noun ("fin": the number five first, a fish's fin third)
DEPTH = 1  # hypernym levels read above each sense ("pellet" -> "a small sphere" -> "ball")
# Verbs have more senses and say less of themselves: "plummet" is "drop sharply", to drop "fall
# vertically", to fall "descend ...", to descend "move downward" (chosen on the development verbs).
VERB_SENSES, VERB_DEPTH = 8, 2
LICENSE = """\
Counts derived from WordNet 3.0 (https://wordnet.princeton.edu), under its licence:
WordNet 3.0 Copyright 2006 by Princeton University.  All rights reserved.
THIS SOFTWARE AND DATABASE IS PROVIDED "AS IS" AND PRINCETON UNIVERSITY MAKES NO REPRESENTATIONS OR
WARRANTIES, EXPRESS OR IMPLIED.  BY WAY OF EXAMPLE, BUT NOT LIMITATION, PRINCETON UNIVERSITY MAKES NO
REPRESENTATIONS OR WARRANTIES OF MERCHANTABILITY OR FITNESS FOR ANY PARTICULAR PURPOSE OR THAT THE USE
OF THE LICENSED SOFTWARE, DATABASE OR DOCUMENTATION WILL NOT INFRINGE ANY THIRD PARTY PATENTS,
COPYRIGHTS, TRADEMARKS OR OTHER RIGHTS.
The name of Princeton University or Princeton may not be used in advertising or publicity pertaining
to distribution of the software and/or database.  Title to copyright in this software, database and
any associated documentation shall at all times remain with Princeton University and LICENSEE agrees
to preserve same."""
WORD = re.compile(r"[a-z]+")


@dataclass
class Synset:
    words: list[str]  # lemmas, lower case, "_" between the words of a compound
    hypernyms: list[str]  # offsets of the synsets one level up
    gloss: str


@dataclass
class WordNet:
    """The parts of a WordNet database this module reads."""

    senses: dict[str, list[str]]  # lemma -> synset offsets, most frequent sense first
    synsets: dict[str, Synset]  # offset -> synset
    adjectives: dict[str, set[str]]  # noun lemma -> adjectives WordNet derives from it ("cone" -> "conical")


def _records(path: Path) -> Iterable[list[str]]:
    """The fields of each line of a WordNet data or index file (the licence header, indented, skipped)."""
    with open(path, encoding="utf-8", newline="") as f:
        for line in f:
            if not line.startswith(" "):
                yield line.rstrip("\r\n").split(" ")


def _synset(fields: list[str]) -> tuple[list[str], list[tuple[str, str, str, str]], str]:
    """(words, pointers (symbol, offset, pos, source/target), gloss) of a data-file record."""
    count = int(fields[3], 16)
    words = [fields[4 + 2 * i].lower() for i in range(count)]
    at = 4 + 2 * count
    pointers = [tuple(fields[at + 1 + 4 * i: at + 5 + 4 * i]) for i in range(int(fields[at]))]
    gloss = " ".join(fields[fields.index("|") + 1:]) if "|" in fields else ""
    return words, pointers, gloss.strip()


def read_wordnet(folder: str | Path, pos: str = "noun") -> WordNet:
    """Parse ``index.<pos>`` and ``data.<pos>`` (``pos``: "noun" or "verb") of a WordNet 3.x ``dict``
    folder, and for nouns the adjectives ``data.adj`` derives from them."""
    folder = Path(folder)
    senses = {}
    for fields in _records(folder / f"index.{pos}"):
        count, pointers = int(fields[2]), int(fields[3])
        senses[fields[0]] = fields[6 + pointers: 6 + pointers + count]
    synsets = {}
    for fields in _records(folder / f"data.{pos}"):
        words, pointers, gloss = _synset(fields)
        synsets[fields[0]] = Synset(words, [p[1] for p in pointers if p[0] in ("@", "@i")], gloss)
    adjectives: dict[str, set[str]] = {}
    for fields in _records(folder / "data.adj") if pos == "noun" else ():
        words, pointers, _ = _synset(fields)
        for symbol, offset, target_pos, source_target in pointers:
            if symbol in ("+", "\\") and target_pos == "n" and offset in synsets:  # derived from / pertains to a noun
                source, target = int(source_target[:2], 16), int(source_target[2:], 16)
                nouns = synsets[offset].words if target == 0 else [synsets[offset].words[target - 1]]
                for noun in nouns:
                    adjectives.setdefault(noun, set()).update(words if source == 0 else [words[source - 1]])
    return WordNet(senses, synsets, {noun: {re.sub(r"\(.*\)", "", a) for a in adj} for noun, adj in adjectives.items()})


def keyword_forms(keyword: str, wordnet: WordNet) -> set[str]:
    """The spellings of ``keyword`` counted in a definition: itself, its plurals, its WordNet adjectives."""
    plural = keyword + ("es" if keyword.endswith(("s", "x", "z", "ch", "sh")) else "s")
    return {keyword, plural, *wordnet.adjectives.get(keyword, ())}


def gloss_counts(wordnet: WordNet, keywords: Iterable[str], senses: int = SENSES,
                 depth: int = DEPTH) -> dict[str, dict[str, int]]:
    """lemma -> {keyword: times named}, over the definitions and synonyms of the lemma's first ``senses``
    senses and their hypernyms ``depth`` levels up; lemmas naming no keyword are left out."""
    form_of = {form: k for k in keywords for form in keyword_forms(k, wordnet)}
    out = {}
    for lemma, offsets in wordnet.senses.items():
        counts: dict[str, int] = {}
        for offset in offsets[:senses]:
            level = [offset]
            for _ in range(depth + 1):
                for synset in (wordnet.synsets[o] for o in level):
                    text = " ".join([synset.gloss.lower(), *(w.replace("_", " ") for w in synset.words)])
                    for word in WORD.findall(text):
                        if word in form_of and word != lemma:
                            counts[form_of[word]] = counts.get(form_of[word], 0) + 1
                level = [h for o in level for h in wordnet.synsets[o].hypernyms]
        if counts:
            out[lemma] = counts
    return out


def write_table(counts: Mapping[str, Mapping[str, int]], path: str | Path = TABLE) -> Path:
    """Write ``lemma<TAB>keyword=count ...`` lines, sorted, under the licence as ``#`` comments."""
    lines = [f"# {line}" if line else "#" for line in LICENSE.splitlines()]
    lines += [f"{noun}\t" + " ".join(f"{k}={n}" for k, n in sorted(c.items())) for noun, c in sorted(counts.items())]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Path(path)


def read_table(path: str | Path = TABLE) -> dict[str, dict[str, int]]:
    """The counts :func:`write_table` wrote (lemma, "_" between words -> {keyword: count})."""
    out = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            noun, _, rest = line.partition("\t")
            out[noun] = {k: int(n) for k, _, n in (item.partition("=") for item in rest.split())}
    return out


def verb_lemmas(word: str) -> list[str]:
    """The lemmas an inflected verb may have, likeliest first ("rising" -> "rise", "ris"; "dropping" ->
    "droppe", "dropp", "drop"): WordNet's detachment rules for -s, -es, -ed and -ing, e restored first."""
    out = [word]
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) > len(suffix) + 1:
            stem = word[: -len(suffix)]
            out += [stem + "e", stem] if suffix in ("ing", "ed") else [stem]
            if suffix in ("ing", "ed") and len(stem) > 2 and stem[-1] == stem[-2]:
                out.append(stem[:-1])  # a doubled consonant: "dropping" -> "drop"
    return out


def motion_of(span: str, table: Mapping[str, Mapping[str, int]], words: Mapping[str, str]) -> str | None:
    """The motion the definitions of a motion span's verbs name (``words``: keyword -> direction or
    "growing" / "shrinking"), from its first verb with any: a direction over a change of size, the
    most-named of either, None on a tie or no mention ("falling" is "descend ..." and to descend "move
    downward" -> "down")."""
    for word in WORD.findall(span.lower()):
        counts = next((table[lemma] for lemma in verb_lemmas(word) if lemma in table), {})
        votes = {}
        for keyword, n in counts.items():
            if keyword in words:
                votes[words[keyword]] = votes.get(words[keyword], 0) + n
        sizes = [m for m in votes if m in ("growing", "shrinking")]
        for group in ([m for m in votes if m not in sizes], sizes):
            if group:
                best = max(group, key=votes.get)
                return best if [votes[m] for m in group].count(votes[best]) == 1 else None
    return None


def shape_of(noun: str, table: Mapping[str, Mapping[str, int]], shapes: Mapping[str, Iterable[str]]) -> str | None:
    """The shape whose trained words (``shapes``: shape -> words) the definitions of ``noun`` name most
    often; None for an unknown noun, no mention or a tie. A plural is looked up as its singular too."""
    key = "_".join(WORD.findall(noun.lower()))
    counts = table.get(key) or table.get(key.removesuffix("s")) or {}
    votes = {shape: sum(counts.get(w, 0) for w in words) for shape, words in shapes.items()}
    best = max(votes, key=votes.get, default=None)
    if best is None or votes[best] == 0 or list(votes.values()).count(votes[best]) > 1:
        return None
    return best
