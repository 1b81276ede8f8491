"""Bounding and folding visitor text, so every reader after it runs on a small, plain input."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# What the readers look at: a visitor's message may be 4,000 characters, but a request for a
# time, a service or a person is said in the first few hundred. Reading more only costs.
READ_LIMIT = 400

_RUNS = re.compile(r"(\s)\s+|([^\w\s])\2{2,}")  # whitespace runs; a symbol repeated 3+ times


def bound(text: str, limit: int = READ_LIMIT) -> str:
    """The first `limit` characters, with runs of spaces and repeated symbols collapsed."""
    return _RUNS.sub(lambda m: m.group(1) or m.group(2), text[: limit * 2])[:limit].strip()


@lru_cache(maxsize=256)
def fold(text: str) -> str:
    """Lowercase without accents, so "mañana", "manana" and "MAÑANA" read the same. A
    reading folds the same message a score of times: it is done once."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("\u2019", "'")


_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def words(text: str) -> list[str]:
    """Folded words; apostrophes inside a word are kept ("l'apres-midi" -> "l'apres", "midi")."""
    return _WORD.findall(fold(text))


# Small numbers as words, for "in two weeks", "at ten", "the third one" (no library spells
# numbers back to values in these languages).
NUMBER_WORDS: dict[str, int] = {
    # en
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a": 1, "an": 1,
    # es
    "uno": 1, "una": 1, "un": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5,
    "seis": 6, "siete": 7, "ocho": 8, "nueve": 9, "diez": 10, "once": 11, "doce": 12,
    # pt
    "um": 1, "uma": 1, "dois": 2, "duas": 2, "quatro": 4, "sete": 7, "oito": 8,
    "nove": 9, "dez": 10, "onze": 11, "doze": 12,
    # fr
    "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "sept": 7, "huit": 8,
    "neuf": 9, "dix": 10, "douze": 12,
    # de
    "ein": 1, "eins": 1, "eine": 1, "einen": 1, "einer": 1, "zwei": 2, "drei": 3, "vier": 4,
    "funf": 5, "sechs": 6, "sieben": 7, "acht": 8, "neun": 9, "zehn": 10, "elf": 11,
    "zwolf": 12,
    # it
    "due": 2, "tre": 3, "cinque": 5, "sei": 6, "sette": 7, "otto": 8,
    "dieci": 10, "undici": 11, "dodici": 12,
}  # fmt: skip


# Words of four letters or more that ask rather than name ("do you HAVE", "is THERE", "TENÉIS",
# "AVEZ-vous", "GIBT es"): what a question is about is in the other words.
_ASKING_WORDS = {
    "have", "there", "your", "does", "what", "where", "when", "which", "with", "about",
    "would", "could", "should", "this", "that", "please", "thanks", "thank", "also", "some",
    "them", "they", "then", "from", "here", "just", "like", "need", "want", "know", "tell",
    "teneis", "tienen", "tiene", "para", "como", "donde", "cuando", "puedo", "puede",
    "algun", "alguna", "esta", "este", "gracias", "favor", "porfa", "tambien", "ustedes",
    "usted", "vosotros", "voces", "onde", "quando", "posso", "pode", "algum", "alguma",
    "obrigado", "obrigada", "tambem", "vous", "avez", "avoir", "pour", "comment", "quand",
    "peut", "merci", "aussi", "chez", "haben", "habt", "gibt", "eine", "einen", "einem",
    "kann", "konnen", "bitte", "danke", "auch", "wann", "welche", "avete", "avere", "sono",
    "come", "dove", "grazie", "anche", "della", "delle",
}  # fmt: skip


def content_words(text: str) -> set[str]:
    """The words that say what a question is about: four letters or more, not asking words."""
    return {w for w in words(text) if len(w) >= 4 and w not in _ASKING_WORDS}
