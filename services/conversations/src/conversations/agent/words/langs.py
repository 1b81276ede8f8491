"""Which language a visitor writes, and the locale the business speaks in.

lingua decides on messages long enough to tell; its low-accuracy models (about 15 MB for six
languages instead of 170 MB) with a confidence rule are wrong about as rarely as the full ones
on chat messages, and a message that does not pass the rule keeps the conversation's language.
Greetings and one-word answers ("hola", "oi", "merci") are too short for any detector: a
small list settles those.
"""

from __future__ import annotations

import re
from functools import cache

from babel import Locale, UnknownLocaleError

from conversations.agent.words.text import fold, words

LANGS = ("en", "es", "pt", "fr", "de", "it")

# Words that tell the language on their own, even alone in a message ("posso" is Portuguese
# as much as Italian, and "ok" is said in every language: they tell nothing). "um" tells
# both German ("um 10") and Portuguese ("um corte"): the other words settle which.
_TELLING = {
    "en": {"hi", "hello", "hey", "thanks", "thank", "please", "yes", "tomorrow", "today",
           "book", "appointment", "want", "would", "like", "can", "the", "what", "how",
           "when", "where", "morning", "afternoon", "evening", "cool", "yeah", "yep", "on",
           "for", "do", "you", "your", "is", "are", "there", "i", "i'm", "my", "need", "pls",
           "plz", "u", "any", "anything", "and", "could", "get", "have", "take", "with", "of",
           "to", "at", "it", "this", "next", "thx", "see", "then", "just",
           "haircut", "cut", "much", "long", "open", "cancel", "move", "one", "tmrw", "sure",
           "it's", "name", "number", "email", "phone", "call", "will", "late", "running",
           "mins", "prices", "price", "cost", "ur", "whats", "what's", "sorry", "wrong", "only",
           "cash", "pay", "walk"},
    "es": {"hola", "gracias", "quiero", "quisiera", "cita", "manana", "hoy", "buenas",
           "buenos", "puedo", "tienen", "cuanto", "donde", "vale", "usted", "necesito",
           "hora", "turno", "reservar", "porfa", "tarde", "noche", "genial", "perfecto", "el",
           "los", "las", "para", "con", "que", "por", "mi", "hay", "y", "en", "corte", "si",
           "queria", "quería", "hueco", "cuesta", "vuestro", "tenéis", "teneis", "haceis",
           "aceptais", "cerrais", "podeis", "sois", "estais", "abris"},
    "pt": {"oi", "ola", "obrigado", "obrigada", "quero", "amanha", "hoje", "voce", "voces",
           "vc", "marcar", "agendar", "horario", "tudo", "bom", "boa", "sim", "nao",
           "preciso", "quanto", "onde", "valeu", "beleza", "perfeito", "tchau", "pra", "um",
           "uma", "com", "queria", "tem", "custa", "remarcar", "atendente", "ate", "logo",
           "minha", "meu", "desmarcar", "gostaria", "vou", "vai", "entao", "obg", "blz",
           "tbm", "agora", "vcs", "qto", "qnto", "hj", "abrem", "fecham", "funcionam", "aceitam",
           "qual", "quais", "endereco", "valor", "fica", "ficam", "fazem", "atendem", "vaga",
           "vagas", "pode", "ao", "vem", "menos", "aceita", "pix", "horas", "ta"},
    "fr": {"bonjour", "salut", "merci", "oui", "demain", "aujourd'hui", "rendez", "rdv",
           "je", "voudrais", "vous", "est", "combien", "ou", "quand", "bonsoir", "c'est",
           "s'il", "plait", "d'accord", "parfait", "matin", "soir", "apres", "coupe"},
    "de": {"hallo", "danke", "ja", "nein", "morgen", "heute", "termin", "ich", "mochte",
           "bitte", "sie", "wie", "viel", "wann", "wo", "guten", "tag", "gerne", "uhr",
           "nachmittag", "abend", "vormittag", "genau", "servus", "moin", "um", "gibt", "habt",
           "ihr", "seid", "kostet", "ist", "kann", "mit", "zu", "bis", "zahlen", "absagen",
           "gehts", "vielen", "dank"},
    "it": {"ciao", "grazie", "buongiorno", "buonasera", "domani", "oggi", "vorrei",
           "appuntamento", "quanto", "dove", "quando", "sono", "perfetto",
           "pomeriggio", "mattina", "sera", "prenotare", "taglio", "prego", "va", "bene",
           "il", "parlare", "favore", "spostare", "potrei", "della", "disdire", "venire",
           "dispiace", "scusa", "scusate", "riesco", "posto", "orario", "settimana",
           "c'e", "avete", "prezzi", "prezzo", "dite", "costano", "quanti", "aprite",
           "chiudete", "potete", "prendere", "domattina", "accettate", "fate", "puo"},
}  # fmt: skip


@cache
def _detector():  # type: ignore[no-untyped-def]
    from lingua import Language, LanguageDetectorBuilder

    six = [
        Language.ENGLISH,
        Language.SPANISH,
        Language.PORTUGUESE,
        Language.FRENCH,
        Language.GERMAN,
        Language.ITALIAN,
    ]
    return LanguageDetectorBuilder.from_languages(*six).with_low_accuracy_mode().build()


_ISO = {"ENGLISH": "en", "SPANISH": "es", "PORTUGUESE": "pt", "FRENCH": "fr", "GERMAN": "de"}


def _lingua(text: str, previous: str | None = None) -> tuple[str | None, float]:
    """lingua's language for `text` when it is sure of it, and its confidence. Mid-
    conversation, it takes the visitor's own language a share of at least `_STILL_PREVIOUS`
    to keep it: a short sentence with a name in it ("o nome dela é Júlia": Italian 0.87,
    Portuguese 0.08) is no switch."""
    values = _detector().compute_language_confidence_values(text)
    if len(values) < 2:
        return None, 0.0
    top, second = values[0], values[1]
    if top.value < 0.5 or top.value - second.value < 0.2:
        return None, 0.0
    found = _ISO.get(top.language.name, "it")
    if previous is not None and found != previous:
        share = sum(v.value for v in values if _ISO.get(v.language.name, "it") == previous)
        if share >= _STILL_PREVIOUS:
            return previous, share
    return found, top.value


_STILL_PREVIOUS = 0.05
_SURE = 0.8  # a detector this sure outweighs a single telling word


@cache
def _telling() -> dict[str, frozenset[str]]:
    """The words above, and each language's weekdays and relative days (babel's and
    dateparser's, as the day reader has them): "jeudi", "giovedì", "übermorgen" tell."""
    from conversations.agent.words.when import _relative_days, _weekdays

    out = {}
    for lang, hints in _TELLING.items():
        days = set(_weekdays(lang, short=False)) | set(_relative_days(lang))
        out[lang] = frozenset(hints | {d for d in days if " " not in d})
    return out


def _by_words(tokens: list[str]) -> tuple[str | None, int]:
    scores = {lang: sum(t in hints for t in tokens) for lang, hints in _telling().items()}
    best = max(scores, key=lambda k: scores[k])
    if scores[best] == 0 or list(scores.values()).count(scores[best]) > 1:
        return None, 0
    return best, scores[best]


# Spellings only one of the six languages has, as whole words: "é" alone is Portuguese's
# "is" ("quanto é o corte?") and "è" Italian's ("qual è l'indirizzo?"), French writes "est";
# "às" is Portuguese ("às 10"), "ça" and "il y a" French. lingua's small models put "qual o
# endereço?" and "il y a un parking ?" in English, sure of it.
_SPELLED = (
    ("pt", re.compile(r"(?<!\w)(?:é|às)(?!\w)", re.IGNORECASE)),
    ("it", re.compile(r"(?<!\w)è(?!\w)", re.IGNORECASE)),
    ("fr", re.compile(r"(?<!\w)(?:ça|il y a)(?!\w)", re.IGNORECASE)),
)
_ADDRESSES = re.compile(r"\S{1,64}@\S{1,255}|https?://\S{1,500}|[+\d][\d ().-]{5,30}")


def detect_language(text: str, previous: str | None, default: str = "en") -> str:
    """The language of this message; else the conversation's so far; else the business's.
    E-mail addresses, links and phone numbers say nothing of a language: they are left out."""
    text = _ADDRESSES.sub(" ", text)
    folded = fold(text)
    if "ñ" in text.lower() or "¿" in text or "¡" in text:
        return "es"
    if any(c in text.lower() for c in "ãõ"):
        return "pt"
    if any(c in text.lower() for c in "ß"):
        return "de"
    for lang, spelling in _SPELLED:
        if spelling.search(text):
            return lang
    tokens = words(folded)
    letters = sum(c.isalpha() for c in folded)
    voted, votes = _by_words(tokens)
    if voted is not None and votes >= 2:
        return voted
    if votes == 1 and previous in LANGS and len(tokens) <= 3:
        return previous  # "sì", "ok", "vale": one short word does not switch languages
    known = previous if previous in LANGS else None
    found, sureness = _lingua(text, known) if letters >= 15 and len(tokens) >= 4 else (None, 0.0)
    if found is not None and voted is not None and found != voted:
        # The detector and the telling words disagree: trust the conversation if it is one
        # of them, else the words (short chat defeats statistical models most), unless one
        # word voted and the detector is sure ("on peut payer par carte ?": "on" is English
        # too, French 0.83).
        if previous in (found, voted):
            return previous
        return found if votes == 1 and sureness >= _SURE else voted
    if found is not None:
        return found
    if voted is not None:
        return voted
    return previous if previous in LANGS else default


# -- the business's locale ---------------------------------------------------------------


@cache
def country_of(timezone: str) -> str | None:
    """The country of an IANA zone (pytz's table of zones per country), or None (UTC...)."""
    import pytz

    for country, zones in pytz.country_timezones.items():
        if timezone in zones:
            return str(country)
    return None


@cache
def default_language(timezone: str) -> str:
    """The language most spoken where the business is (CLDR's likely subtags), if we speak it."""
    country = country_of(timezone)
    if country is None:
        return "en"
    try:
        language = Locale.parse(f"und_{country}").language
    except (UnknownLocaleError, ValueError):
        return "en"
    return language if language in LANGS else "en"


@cache
def locale_for(lang: str, timezone: str) -> Locale:
    """The visitor's language in the business's country (en_US, es_MX, pt_BR...), or the
    language's own default when CLDR has no such pair (en in Mexico reads as en_GB's order)."""
    lang = lang if lang in LANGS else "en"
    country = country_of(timezone)
    if country:
        try:
            return Locale.parse(f"{lang}_{country}")
        except (UnknownLocaleError, ValueError):
            pass
    fallback = {"en": "en_GB", "es": "es_ES", "pt": "pt_BR", "fr": "fr_FR", "de": "de_DE"}
    return Locale.parse(fallback.get(lang, "it_IT"))


def month_first(locale: Locale) -> bool:
    """Whether numeric dates put the month first (12/3 is 3 December in en_US)."""
    pattern = locale.date_formats["short"].pattern.lower()
    return pattern.find("m") < pattern.find("d")
