"""Which service a visitor names, with typos, plurals and names inside other names.

rapidfuzz's WRatio with its default processor picks the right service in 9 of 10 measured
cases; the one rule on top is the notes' "longest full match": when every word of a service's
name is in the message ("haircut and beard" names both "Haircut" and "Haircut and beard"),
the service with the most words wins. A name said in another language by a near-identical
word ("clase" for "class") counts when only one service has such a word; so does a word of
the trade said in another language ("corte" for "Haircut", "limpeza" for "Cleaning"), from a
small table of the services small businesses sell, as no library translates single words. A
tie or a weak score is a question for the visitor.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from rapidfuzz import fuzz, process, utils

from conversations.agent.words.intents import CHAT_WORDS
from conversations.agent.words.text import fold

_JOINERS = {"and", "y", "e", "et", "und", "&", "+", "with", "con", "com", "avec", "mit", "the"}
CUTOFF = 80.0
COGNATE = 80.0
MARGIN = 8.0

# The same service in the six languages, folded (no accents). A word here names the service
# whose name holds another word of its set, or all of it written as one ("checkup" for
# "Check-up"). Only words that name a service and nothing else: "consulta" is also "a
# question" in Spanish, "call" is "call me", "cut" is "do you cut children's hair?", so none
# is here.
SAME_SERVICE: tuple[frozenset[str], ...] = tuple(
    frozenset(group.split())
    for group in (
        "haircut corte coupe haarschnitt haareschneiden haarschneiden taglio",
        "beard barba barbe bart",
        "cleaning limpieza limpeza nettoyage detartrage reinigung zahnreinigung pulizia",
        "whitening blanqueamiento clareamento branqueamento blanchiment bleaching "
        "aufhellung sbiancamento",
        "checkup chequeo revision revisao controle kontrolle kontrolluntersuchung controllo",
        "manicure manicura manucure manikure",
        "pedicure pedicura pedikure",
        "massage masaje massagem massaggio",
        "class clase aula cours kurs classe",
        "session sesion sessao seance sitzung sessione",
    )
)
_SAME = {word: group for group in SAME_SERVICE for word in group}
# German writes a service as one word: its parts, as the names in English have them.
_COMPOUNDS = {
    "bartschnitt": ("beard", "trim"),
    "barttrimmen": ("beard", "trim"),
    "bartrasur": ("beard", "shave"),
    "kinderhaarschnitt": ("kids", "haircut"),
    "privatstunde": ("private", "session"),
    "privatsitzung": ("private", "session"),
}
# A child, in the six languages (folded): "a haircut for my son" asks for "Kids haircut", as
# does a child's age ("my 5 year old", "mi hija de 7 años"). Not "son" (Spanish "they are"),
# "kind" (English "what kind of"): every word here is a child and nothing else.
CHILD = frozenset(
    " ".join(
        (
            "kid kids child children childs boy boys girl girls toddler junior",
            "nino nina ninos ninas hijo hija hijos hijas peque peques",
            "crianca criancas filho filha filhos filhas menino menina",
            "enfant enfants fils fille garcon",
            "kinder sohn tochter junge madchen",
            "bambino bambina bambini bimbo bimba bimbi figlio figlia ragazzo ragazza",
            "nene nena nenes",
        )
    ).split()
)
# A child's age: "my 5 year old", "5yo", "de 7 años", "tem 6 anos", "de 6 ans", "8 Jahre alt",
# "8-jährige", "di 9 anni"; twelve or under. Not "for 3 years" or "hace 2 años" (time gone by).
_AGE = re.compile(
    r"\b(\d{1,2})\s?-?\s?(?:years?|yrs?)\s?-?\s?old\b|\b(\d{1,2})\s?yo\b"
    r"|\b(?:de|di|tiene|tem|a)\s(\d{1,2})\s(?:anos|ans|anni)\b"
    r"|\b(\d{1,2})\s?(?:jahre\salt|-?jahrig)"
)
# Short words that are a service only as a noun, after an article: "a cut" is a haircut, "do
# you cut children's hair?" asks something else.
_ARTICLES = {"a", "the", "my", "another", "quick"}
_NOUN_AFTER_ARTICLE = {"cut": "haircut"}
# Cutting the hair said with a verb: "cortarme el pelo", "cortar o cabelo", "me couper les
# cheveux", "Haare schneiden", "tagliarmi i capelli".
_CUT_HAIR = re.compile(
    r"\b(?:cort|coup|schneid|taglia)\w*(?:\s\w+){0,2}\s(?:pelo|cabelo|cheveux|haare|capelli)\b"
    r"|\b(?:haare|cheveux|capelli|pelo|cabelo)\s(?:\w+\s)?(?:schneiden|couper|tagliare|cortar)"
)


@dataclass(frozen=True, slots=True)
class Named:
    id: str
    name: str


def _tokens(text: str) -> set[str]:
    out = set()
    previous, after_article = "", 2  # words since the last article ("a fresh cut": one)
    for t in fold(utils.default_process(text)).split():
        if after_article <= 1 and t in _NOUN_AFTER_ARTICLE:
            out.add(_NOUN_AFTER_ARTICLE[t])  # "a cut", "a fresh cut": the service, not the verb
        after_article = 0 if t in _ARTICLES else after_article + 1
        if t in _JOINERS:
            previous = ""
            continue
        out.add(t)
        out.update(_COMPOUNDS.get(t, ()))
        if len(t) > 4 and t.endswith("s"):
            out.add(t[:-1])  # "haircuts" names "haircut"
        if previous:
            out.add(previous + t)  # "hair cut and beard" names "Haircut and beard"
        previous = t
    folded = fold(text)
    if _CUT_HAIR.search(folded):
        out.add("haircut")
    ages = [int(age) for found in _AGE.findall(folded) for age in found if age]
    if out & CHILD or any(age <= 12 for age in ages):
        out |= CHILD
    # "un corte" names "Haircut": the message's words in the other languages too.
    return out | {same for t in out for same in _SAME.get(t, ())}


def _name_tokens(name: str) -> set[str]:
    return {t for t in fold(utils.default_process(name)).split() if t not in _JOINERS}


# The words that make a service a child's ("Kids haircut", "Corte infantil"; one word such
# as "Kinderhaarschnitt" is not split), and those that ask for the other one ("the normal one").
CHILDS_SERVICE = CHILD | {"infantil", "infantiles", "enfantin"}
GROWN_UP = frozenset({
    "normal", "regular", "standard", "adult", "adults", "adulto", "adultos", "adulte",
    "adultes", "erwachsene", "erwachsenen", "normale", "normalen"
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class ServiceMatch:
    service: Named | None
    candidates: tuple[Named, ...] = ()  # when ambiguous: the ones to ask about
    also: tuple[Named, ...] = ()  # other services named with it, to book after it
    # Services the message names apart, each on its own, that `service` joins ("how much is
    # a haircut? and the beard?" with "Haircut and beard" sold): a question of price or
    # duration is about each of them as well as about `service`.
    apart: tuple[Named, ...] = ()


def match_service(text: str, services: list[Named]) -> ServiceMatch:
    if not services or not text.strip():
        return ServiceMatch(None)
    query = _tokens(text)
    # "hair cut" -> also try the words joined, as people split compound names.
    joined = fold(utils.default_process(text)).replace(" ", "")
    full = [s for s in services if _name_tokens(s.name) and _name_tokens(s.name) <= query]
    full += [
        s
        for s in services
        if s not in full
        and len(_name_tokens(s.name)) == 1
        and next(iter(_name_tokens(s.name))) in joined
        and len(joined) <= 3 * len(s.name)
    ]
    if full:
        match = _named_in_full(text, full, services)
        if match.service is not None and _is_joined(match.service.name):
            return _with_parts_apart(text, match, full, services)
        return match
    names = [s.name for s in services]
    # Without the joining words, which names share ("and the kids one?" is not about
    # "Haircut and beard").
    plain = " ".join(t for t in utils.default_process(text).split() if t not in _JOINERS)
    # "hi", "si", "ok": a few letters are inside many a name ("wHItening", "seSSIon") and
    # chat words name nothing; fuzzy scores on them pick a service nobody asked for.
    plain = " ".join(t for t in plain.split() if fold(t) not in CHAT_WORDS)
    if len(plain.replace(" ", "")) < 4:
        return _cognate(text, services)
    ranked = process.extract(
        plain, names, scorer=fuzz.WRatio, processor=utils.default_process, limit=2
    )
    if not ranked or ranked[0][1] < CUTOFF:
        # The name may be a typo inside a longer message ("hiar cut tmrw at 10 pls"): score
        # each run of up to three words alone, with a stricter cutoff.
        ranked = _best_window(plain, names)
    if not ranked or ranked[0][1] < CUTOFF:
        return _cognate(text, services)
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    if ranked[0][1] - second >= MARGIN:
        return ServiceMatch(services[ranked[0][2]])
    return ServiceMatch(None, tuple(services[i] for _, score, i in ranked if score >= CUTOFF))


def _named_in_full(text: str, full: list[Named], services: list[Named]) -> ServiceMatch:
    """Of the services every word of whose name is in the message, the longest ("Haircut and
    beard" over "Haircut"). Two that neither holds ("haircut and a beard trim") are two
    services asked for: a service whose name joins words of both ("Haircut and beard") is
    the one, else the first named, with the others in `also` (booked one at a time)."""
    tokens = {s: _name_tokens(s.name) for s in services}
    longest = [s for s in full if not any(tokens[s] < tokens[o] for o in full)]
    again = _named_again(text, full, longest, tokens)
    longest += again + _named_besides(text, longest + again, services)
    if len(longest) == 1:
        return ServiceMatch(longest[0])
    combined = [
        s
        for s in services
        if _is_joined(s.name) and all(tokens[s] & tokens[o] for o in longest) and not again
    ]
    if len(combined) == 1:
        return ServiceMatch(combined[0])
    if combined:
        return ServiceMatch(None, tuple(combined))
    first, *others = sorted(longest, key=lambda s: said_at(text, s, longest))
    return ServiceMatch(first, also=tuple(others))


def said_at(text: str, service: Named, named: list[Named]) -> int:
    """The word where `service` is first named in `text`, by the words of its name that no
    other of `named` holds ("kids" of "Kids haircut" beside "Haircut")."""
    own = _name_tokens(service.name)
    others = [s for s in named if s != service]
    distinct = own - {t for s in others for t in _name_tokens(s.name)}
    if distinct:
        return _position(text, distinct)
    # Every word of it is in a longer name ("Haircut" in "Kids haircut"): where it is said
    # outside that name's own words.
    said = fold(utils.default_process(text)).split()
    taken: set[int] = set()
    for other in others:
        theirs = _name_tokens(other.name)
        start = _position(text, theirs - own or theirs)
        taken.update(
            i for i in range(start, min(len(said), start + len(theirs) + 1)) if said[i] in theirs
        )
    return next((i for i, w in enumerate(said) if i not in taken and {w, w[:-1]} & own), len(said))


def _named_again(
    text: str, full: list[Named], longest: list[Named], tokens: dict[Named, set[str]]
) -> list[Named]:
    """A name held by a longer one and said again on its own ("a haircut for me and a kids
    haircut for my son": "Haircut" as well as "Kids haircut")."""
    names = {t for s in full for t in tokens[s]}
    said = Counter(
        w if w in names or w[:-1] not in names else w[:-1]  # "haircuts" says "haircut"
        for w in fold(utils.default_process(text)).split()[:80]
    )
    for s in longest:
        said.subtract(tokens[s])
    return [s for s in full if s not in longest and all(said[t] > 0 for t in tokens[s])]


def _named_besides(text: str, named: list[Named], services: list[Named]) -> list[Named]:
    """Services a word of `SAME_SERVICE` names besides those named in full ("barba e corte"
    with "Haircut" and "Beard trim"): each such word that none of them holds, when it is in
    one service's name only."""
    held = {t for s in named for t in _name_tokens(s.name)}
    out: list[Named] = []
    for word in set(_plain(text).split()[:40]):
        same = _SAME.get(word, frozenset())
        if not same or same & held:
            continue
        holders = [s for s in services if same & _name_tokens(s.name)]
        if len(holders) == 1 and holders[0] not in named + out:
            out.append(holders[0])
    return out


def _with_parts_apart(
    text: str, match: ServiceMatch, full: list[Named], services: list[Named]
) -> ServiceMatch:
    """`match` (a service whose name joins others: "Haircut and beard") with the services
    the message names apart from each other that it joins: "el corte cuánto sale? y la
    barba?" names "Haircut" and "Beard trim" apart, "corte y barba" names the one service.
    Apart: more than one word between the two, besides joining words and articles."""
    joined = match.service
    assert joined is not None
    tokens = {s: _name_tokens(s.name) for s in services}
    # (sentence, word) of each word that names a part of the joined name.
    said = [
        (n, w)
        for n, sentence in enumerate(_SENTENCES.split(text)[:10])
        for w in fold(utils.default_process(sentence)).split()[:60]
    ]
    where = [i for i, (_, w) in enumerate(said) if {w, w[:-1], *_SAME.get(w, ())} & tokens[joined]]
    if len(where) < 2:
        return match
    first, last = min(where), max(where)
    between = [w for _, w in said[first + 1 : last] if w not in _JOINERS | _ARTICLES | _LITTLE]
    if said[first][0] == said[last][0] and len(between) <= 1:
        return match  # "corte y barba", "haircut and a beard trim": the joined service
    named_by_same = {t for _, w in said for t in _SAME.get(w, ())}
    named_in_full = {t for s in full if s != joined for t in tokens[s]}
    parts = []
    for service in services:
        if service == joined or not tokens[service] & tokens[joined]:
            continue
        if service in full:
            parts.append(service)
            continue
        # Named by a word of the trade ("barba" for "Beard trim"), when only it has the word.
        shared = tokens[service] & named_by_same - named_in_full
        holders = [s for s in services if s != joined and tokens[s] & shared]
        if shared and holders == [service]:
            parts.append(service)
    if not parts:
        return match
    return ServiceMatch(joined, match.candidates, match.also, apart=tuple(parts))


_SENTENCES = re.compile(r"[?!.;¿¡\n]+")
_LITTLE = {"o", "la", "el", "le", "les", "los", "las", "der", "die", "das", "lo", "i", "um", "un"}


def _is_joined(name: str) -> bool:
    return bool(set(utils.default_process(name).split()) & _JOINERS)


def _position(text: str, name_tokens: set[str]) -> int:
    """Where in the message a service is first named (by a word, its plural, a word of
    `SAME_SERVICE` or two words written apart)."""
    said = fold(utils.default_process(text)).split()
    for i, word in enumerate(said):
        forms = {word, word[:-1], *_SAME.get(word, ())}
        if i:
            forms.add(said[i - 1] + word)
        if forms & name_tokens:
            return i
    return len(said)


def _cognate(text: str, services: list[Named]) -> ServiceMatch:
    """A service named in the visitor's language by a word spelt almost like a word of its
    name ("una clase" for "Hatha class", "sesión privada" for "Private session"): the same
    first three letters and rapidfuzz's ratio >= 80, on words of five letters or more; or by
    a word of `SAME_SERVICE` ("barba" for "Beard trim"). Only when exactly one service has
    such a word; several are a question."""
    plain = _plain(text).split()[:40]
    words = {w for w in plain if len(w) >= 5}
    same = {s for w in plain for s in _SAME.get(w, ())}
    hits = []
    for service in services:
        name_words = _plain(service.name).split()
        if same & {*name_words, "".join(name_words)}:
            hits.append(service)
            continue
        for name_word in name_words:
            if len(name_word) >= 5 and any(
                w[:3] == name_word[:3] and fuzz.ratio(w, name_word) >= COGNATE for w in words
            ):
                hits.append(service)
                break
    if len(hits) == 1:
        return ServiceMatch(hits[0])
    return ServiceMatch(None, tuple(hits) if len(hits) > 1 else ())


def _plain(text: str) -> str:
    """Lower case, no punctuation, no accents ("sesión" -> "sesion")."""
    decomposed = unicodedata.normalize("NFKD", utils.default_process(text))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _best_window(text: str, names: list[str]) -> list[tuple[str, float, int]]:
    words = utils.default_process(text).split()[:40]
    best: dict[int, float] = {}
    for size in (1, 2, 3):
        for i in range(len(words) - size + 1):
            chunk = " ".join(words[i : i + size])
            if len(chunk) < 4:
                continue
            for _name, score, index in process.extract(
                chunk, names, scorer=fuzz.WRatio, processor=utils.default_process, limit=3
            ):
                if score >= (80 if size > 1 else 85):
                    best[index] = max(best.get(index, 0.0), score)
    ranked = sorted(best.items(), key=lambda kv: -kv[1])
    return [(names[i], score, i) for i, score in ranked[:3]]
