"""Reading a visitor's words without a model: language, choices, days, times, intents.

Pure functions over text (English, Spanish, Portuguese), shared by the built-in agent and
the evaluation harness. Nothing here knows about tools, storage or transport.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, time, timedelta

LANGS = ("en", "es", "pt")


def fold(text: str) -> str:
    """Lowercase without accents, so "mañana", "manana" and "MAÑANA" read the same."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", fold(text))


_LANG_HINTS = {
    "es": {
        "hola",
        "quiero",
        "quisiera",
        "cita",
        "reservar",
        "manana",
        "hoy",
        "por",
        "favor",
        "gracias",
        "buenas",
        "buenos",
        "dias",
        "tardes",
        "si",
        "la",
        "el",
        "una",
        "un",
        "de",
        "para",
        "hablar",
        "con",
        "persona",
        "cancelar",
        "primera",
        "primero",
        "segunda",
        "tercera",
        "lunes",
        "martes",
        "miercoles",
        "jueves",
        "viernes",
        "sabado",
        "domingo",
        "las",
        "horario",
        "necesito",
        "puedo",
        "tienen",
        "otra",
        "mejor",
        "cambiar",
        "pasado",
    },
    "pt": {
        "ola",
        "oi",
        "quero",
        "queria",
        "gostaria",
        "marcar",
        "agendar",
        "amanha",
        "hoje",
        "obrigado",
        "obrigada",
        "bom",
        "boa",
        "dia",
        "tarde",
        "sim",
        "nao",
        "uma",
        "um",
        "de",
        "para",
        "falar",
        "com",
        "pessoa",
        "atendente",
        "cancelar",
        "primeira",
        "primeiro",
        "segunda",
        "terceira",
        "terca",
        "quarta",
        "quinta",
        "sexta",
        "sabado",
        "domingo",
        "as",
        "horario",
        "preciso",
        "posso",
        "voces",
        "outra",
        "melhor",
        "mudar",
        "depois",
        "feira",
        "voce",
        "vc",
    },
    "en": {
        "hi",
        "hello",
        "hey",
        "want",
        "would",
        "like",
        "book",
        "appointment",
        "tomorrow",
        "today",
        "please",
        "thanks",
        "thank",
        "good",
        "morning",
        "afternoon",
        "yes",
        "no",
        "the",
        "a",
        "an",
        "for",
        "talk",
        "to",
        "person",
        "human",
        "cancel",
        "first",
        "second",
        "third",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "at",
        "can",
        "i",
        "you",
        "one",
        "another",
        "change",
        "move",
        "is",
        "it",
        "me",
    },
}
# Words that settle the language on their own.
_STRONG = {
    "es": {"hola", "manana", "quiero", "quisiera", "gracias", "cita", "hablar", "usted"},
    "pt": {"ola", "oi", "amanha", "obrigado", "obrigada", "quero", "nao", "voce", "marcar"},
    "en": {"hello", "hi", "tomorrow", "thanks", "please", "want", "book", "human"},
}


def detect_language(text: str, previous: str | None = None) -> str:
    """The language of this message, or the previous one when the message does not tell."""
    tokens = words(text)
    if "ç" in text.lower() or "ã" in text.lower() or "õ" in text.lower():
        return "pt"
    if "ñ" in text.lower() or "¿" in text or "¡" in text:
        return "es"
    scores = {
        lang: sum(3 if t in _STRONG[lang] else 1 for t in tokens if t in hints)
        for lang, hints in _LANG_HINTS.items()
    }
    best = max(scores, key=lambda k: scores[k])
    tied = [k for k, v in scores.items() if v == scores[best]]
    if scores[best] == 0 or len(tied) > 1:
        return previous if previous in LANGS else (best if scores[best] else "en")
    return best


# -- intents ---------------------------------------------------------------------------

_HUMAN = re.compile(
    r"\b(human|person|someone real|real person|operator|representative|manager|owner|staff|"
    r"humano|persona|alguien|encargad[oa]|dueno|pessoa|atendente|alguem|responsavel|dono)\b"
)
_TALK = re.compile(
    r"\b(talk|speak|chat|connect|transfer|want|need|hablar|quiero|necesito|pasame|falar|"
    r"quero|preciso|passa|me)\b"
)
_CANCEL = re.compile(r"\b(cancel|cancell?ation|cancelar|cancela|cancele|anular|desmarcar)\b")
_MOVE = re.compile(
    r"\b(reschedule|move|change|postpone|cambiar|mover|reprogramar|remarcar|mudar|alterar|"
    r"trocar)\b"
)
_YES = re.compile(
    r"^(yes|yeah|yep|yup|sure|ok|okay|perfect|great|please do|confirm|confirmed|do it|"
    r"si|claro|vale|dale|perfecto|de acuerdo|confirmo|sim|pode|pode ser|isso|perfeito|"
    r"combinado|confirmado|certo|beleza)\b"
)
_NO = re.compile(r"^(no|nope|nah|not really|nao|negative|mejor no|agora nao)\b")
_INJECTION = re.compile(
    r"(ignore (all |the |your )?(previous|prior|above)|system prompt|your instructions|"
    r"instrucciones|instrucoes|reveal|developer mode|jailbreak|other (visitors|customers|"
    r"clients|users)|otros (clientes|visitantes)|outros (clientes|visitantes)|"
    r"workspace[_ -]?id|another workspace|otro negocio|outra empresa|act as|you are now)"
)
_THANKS = re.compile(r"^(thanks|thank you|thx|gracias|muchas gracias|obrigad[oa]|valeu)\b")
_GREETING = re.compile(
    r"^(hi|hello|hey|good (morning|afternoon|evening)|hola|buenas|buenos dias|ola|oi|"
    r"bom dia|boa tarde|boa noite)\b"
)


def asks_for_person(text: str) -> bool:
    folded = fold(text)
    return bool(_HUMAN.search(folded)) and (bool(_TALK.search(folded)) or len(words(text)) <= 4)


def wants_cancel(text: str) -> bool:
    return bool(_CANCEL.search(fold(text)))


def wants_move(text: str) -> bool:
    return bool(_MOVE.search(fold(text)))


def is_yes(text: str) -> bool:
    return bool(_YES.match(fold(text).strip(" !.¡")))


def is_no(text: str) -> bool:
    return bool(_NO.match(fold(text).strip(" !.¡")))


def looks_like_injection(text: str) -> bool:
    return bool(_INJECTION.search(fold(text)))


def is_thanks(text: str) -> bool:
    return bool(_THANKS.match(fold(text).strip(" !.¡")))


def is_greeting(text: str) -> bool:
    return bool(_GREETING.match(fold(text).strip(" !.¡")))


# -- choices ---------------------------------------------------------------------------

_ORDINALS = {
    1: {
        "first",
        "1st",
        "one",
        "primero",
        "primera",
        "primer",
        "uno",
        "una",
        "primeiro",
        "primeira",
        "um",
        "uma",
    },
    2: {"second", "2nd", "two", "segundo", "segunda", "dos", "dois", "duas"},
    3: {"third", "3rd", "three", "tercero", "tercera", "tercer", "tres", "terceiro", "terceira"},
    4: {"fourth", "4th", "four", "cuarto", "cuarta", "cuatro", "quarto", "quarta", "quatro"},
    5: {"fifth", "5th", "five", "quinto", "quinta", "cinco"},
}
_LAST = {"last", "ultimo", "ultima"}


def choice_number(text: str, options: int) -> int | None:
    """The option a visitor picks: "2", "#2", "option 2", "the second one", "la segunda"."""
    folded = fold(text).strip()
    bare = re.fullmatch(r"\W*(?:option|opcion|opcao|numero|number|n)?\s*#?\s*(\d{1,2})\W*", folded)
    if bare:
        n = int(bare.group(1))
        return n if 1 <= n <= options else None
    tokens = words(text)
    # "segunda-feira" / "quarta feira" are weekdays, not ordinals.
    tokens = [
        t for i, t in enumerate(tokens) if not (i + 1 < len(tokens) and tokens[i + 1] == "feira")
    ]
    cardinal = {
        "one",
        "uno",
        "una",
        "um",
        "uma",
        "two",
        "dos",
        "dois",
        "duas",
        "three",
        "tres",
        "four",
        "cuatro",
        "quatro",
        "five",
        "cinco",
    }
    found: set[int] = set()
    for n, names in _ORDINALS.items():
        if n <= options and any(t in names - cardinal for t in tokens):
            found.add(n)
    if (
        not found
        and len(tokens) <= 3
        and not set(tokens) & {"that", "this", "esa", "ese", "essa", "esse"}
    ):
        # Bare numbers in words ("two", "la una") only in short answers: "one" is everywhere.
        found = {
            n for n, names in _ORDINALS.items() if n <= options and set(tokens) & names & cardinal
        }
    if any(t in _LAST for t in tokens) and options:
        found.add(options)
    digits = [
        int(d) for d in re.findall(r"(?<![\d:])(\d)(?![\d:h])", folded) if not _is_clock(folded)
    ]
    found |= {d for d in digits if 1 <= d <= options}
    return found.pop() if len(found) == 1 else None


def _is_clock(folded: str) -> bool:
    return bool(re.search(r"\b(at|a las|as|las|alas)\s+\d|\d\s*(am|pm|h\b)|\d:\d", folded))


# -- days and times --------------------------------------------------------------------

_WEEKDAYS = {
    0: {"monday", "mon", "lunes", "segunda-feira"},
    1: {"tuesday", "tue", "martes", "terca-feira", "terca"},
    2: {"wednesday", "wed", "miercoles", "quarta-feira"},
    3: {"thursday", "thu", "jueves", "quinta-feira"},
    4: {"friday", "fri", "viernes", "sexta-feira", "sexta"},
    5: {"saturday", "sat", "sabado"},
    6: {"sunday", "sun", "domingo"},
}
_MONTHS = {
    1: ("january", "enero", "janeiro"),
    2: ("february", "febrero", "fevereiro"),
    3: ("march", "marzo", "marco"),
    4: ("april", "abril"),
    5: ("may", "mayo", "maio"),
    6: ("june", "junio", "junho"),
    7: ("july", "julio", "julho"),
    8: ("august", "agosto"),
    9: ("september", "septiembre", "setembro"),
    10: ("october", "octubre", "outubro"),
    11: ("november", "noviembre", "novembro"),
    12: ("december", "diciembre", "dezembro"),
}


def parse_day(text: str, today: date) -> date | None:
    """A day the visitor names, relative to the workspace's local `today`."""
    folded = fold(text)
    joined = re.sub(r"(segunda|terca|quarta|quinta|sexta)\s+feira", r"\1-feira", folded)
    if re.search(r"\b(day after tomorrow|pasado manana|depois de amanha)\b", joined):
        return today + timedelta(days=2)
    if re.search(r"\b(tomorrow|manana|amanha|tmrw)\b", joined) and not re.search(
        r"\b(por la|de|da|pela)\s+manana\b", joined
    ):
        return today + timedelta(days=1)
    if re.search(r"\b(today|hoy|hoje|tonight|this afternoon|esta tarde|hoje a tarde)\b", joined):
        return today
    iso = re.search(r"\b(\d{4})-(\d{2})-(\d{2})\b", joined)
    if iso:
        try:
            return date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
        except ValueError:
            return None
    for month, names in _MONTHS.items():
        for name in names:
            m = re.search(
                rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:de\s+|of\s+)?{name}\b", joined
            ) or re.search(rf"\b{name}\s+(\d{{1,2}})(?:st|nd|rd|th)?\b", joined)
            if m:
                return _future(today, month, int(m.group(1)))
    slash = re.search(r"\b(\d{1,2})/(\d{1,2})\b", joined)
    if slash:
        return _future(today, int(slash.group(2)), int(slash.group(1)))
    day_words = set(re.findall(r"[a-z-]+", joined))
    for weekday, day_names in _WEEKDAYS.items():
        if day_words & day_names:
            ahead = (weekday - today.weekday()) % 7
            return (
                today + timedelta(days=ahead or 7)
                if "next" in day_words
                else today + timedelta(days=ahead)
            )
    return None


def _future(today: date, month: int, day: int) -> date | None:
    for year in (today.year, today.year + 1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            return None
        if candidate >= today:
            return candidate
    return None


def parse_time(text: str) -> time | None:
    """A time of day: "10", "at 10", "10am", "3 pm", "15:30", "15h", "a las 10", "às 10"."""
    folded = fold(text)
    m = re.search(r"\b(\d{1,2})[:.h](\d{2})\b", folded)
    if m:
        return _clock(int(m.group(1)), int(m.group(2)), _meridiem(folded, m.end()))
    m = re.search(r"\b(\d{1,2})\s*(am|pm|a\.m\.|p\.m\.)", folded)
    if m:
        return _clock(int(m.group(1)), 0, "pm" if m.group(2).startswith("p") else "am")
    m = re.search(r"\b(\d{1,2})\s*(h|hs|horas|hrs|o'?clock)\b", folded)
    if m:
        return _clock(int(m.group(1)), 0, _meridiem(folded, m.end()))
    m = re.search(
        r"\b(?:at|a las|a la|las|as|por volta das|around|about|make it|how about|what about|"
        r"better|mejor|melhor|instead)\s+(?:at\s+|a las\s+|as\s+)?(\d{1,2})\b"
        r"(?!\s*(?:/|de\s|of\s))",
        folded,
    )
    if m:
        return _clock(int(m.group(1)), 0, _meridiem(folded, m.end()), guess=True)
    if re.search(r"\b(noon|mediodia|meio-dia|meio dia)\b", folded):
        return time(12, 0)
    return None


def _meridiem(folded: str, at: int) -> str | None:
    tail = folded[at : at + 30]
    if re.search(r"(pm|p\.m\.|in the (afternoon|evening)|de la tarde|da tarde|da noite)", tail):
        return "pm"
    if re.search(r"(am|a\.m\.|in the morning|de la manana|da manha)", tail):
        return "am"
    return None


def _clock(hour: int, minute: int, meridiem: str | None, guess: bool = False) -> time | None:
    if meridiem == "pm" and hour < 12:
        hour += 12
    elif meridiem == "am" and hour == 12:
        hour = 0
    elif meridiem is None and guess and 1 <= hour <= 6:
        hour += 12  # "at 3" means the afternoon for an appointment
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return time(hour, minute)


# -- services --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Named:
    id: str
    name: str


_STOP = {
    "the",
    "a",
    "an",
    "de",
    "la",
    "el",
    "o",
    "um",
    "uma",
    "una",
    "un",
    "and",
    "y",
    "e",
    "for",
    "para",
    "com",
    "con",
    "with",
    "session",
    "sesion",
    "sessao",
}


def match_service(text: str, services: list[Named]) -> Named | None:
    """The service a visitor names: all of a name's words, or its one telling word."""
    tokens = set(words(text))
    best: tuple[float, Named] | None = None
    for service in services:
        name_words = [w for w in words(service.name) if w not in _STOP] or words(service.name)
        if not name_words:
            continue
        hits = sum(1 for w in name_words if w in tokens or (len(w) > 4 and w.rstrip("s") in tokens))
        score = hits / len(name_words)
        if hits and (best is None or score > best[0]):
            best = (score, service)
    if best is None:
        return None
    ties = [s for s in services if s is not best[1] and _score(text, s) == best[0]]
    return None if ties else best[1]


def _score(text: str, service: Named) -> float:
    tokens = set(words(text))
    name_words = [w for w in words(service.name) if w not in _STOP] or words(service.name)
    hits = sum(1 for w in name_words if w in tokens or (len(w) > 4 and w.rstrip("s") in tokens))
    return hits / len(name_words) if name_words else 0.0
