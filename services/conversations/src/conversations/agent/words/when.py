"""When a visitor wants to come: a day or span of days, a time, or a part of the day.

Day and month names come from babel (CLDR) for the six languages, relative days ("mañana",
"après-demain", "übermorgen") from dateparser's own language data, and relative spans ("in two
weeks", "dentro de 3 días", "tra 2 settimane") are parsed by dateparser itself. dateparser is
not given whole messages: it reads chat badly (measured: "el jueves por la tarde", "amanhã de
manhã", "morgen um 10 Uhr" come back empty or wrong, "we" and "me" become Wednesdays), so the
clock, the part of the day and the bounds ("after 5", "antes de las 12") are read here, small
and tested, and only the span that names a relative date is handed to it.

Everything is wall-clock in the business's zone: `today` is the local date, and the result is
dates and times the caller turns into instants. Every pattern has bounded repetition only, and
the text is bounded before it gets here.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from functools import cache

from babel import Locale
from rapidfuzz.distance import DamerauLevenshtein

from conversations.agent.words.text import NUMBER_WORDS, fold

MORNING = (time(6, 0), time(12, 0))
MIDDAY = (time(11, 30), time(14, 30))
# Asked for "the afternoon", nobody means noon: offers start after lunch (noon is MIDDAY).
AFTERNOON = (time(13, 0), time(18, 0))
EVENING = (time(17, 0), time.max)
AFTER_SCHOOL = (time(15, 0), time.max)
WHOLE_DAY = (time(0, 0), time.max)


@dataclass(frozen=True, slots=True)
class When:
    first: date | None = None  # the day asked, or the first of the span
    last: date | None = None  # the last day of the span (== first for one day)
    clock: time | None = None  # an exact time asked
    window: tuple[time, time] | None = None  # a part of the day or a bound, wall-clock
    approximate: bool = False  # "around 4", "4ish"
    past: bool = False  # the day named is already gone
    weekday: int | None = None  # the day was named by its weekday alone ("thursday": 3)
    excluded: tuple[int, ...] = ()  # weekdays the visitor cannot do ("any day but wednesday")
    weekdays: tuple[int, ...] = ()  # only these, of the days asked ("monday or tuesday")
    # The clock is a bare hour from 1 to 7 read as the afternoon ("at 3", "7:30"): the morning
    # is the other reading, for a business open then and closed at the evening one.
    evening_guessed: bool = False
    latest: bool = False  # the last free time of the day asked ("your latest slot tomorrow?")
    avoid: tuple[time, time] | None = None  # a part of the day ruled out ("except lunch")
    # Minutes from now ("in an hour": 60, "right now": 0): `reading` makes it today's time.
    from_now: int | None = None
    month_day: int | None = None  # the day was named by its number alone ("the 12th": 12)
    by_event: bool = False  # the day is an event's the visit must come before ("my wedding")

    @property
    def found(self) -> bool:
        return (
            self.from_now is not None
            or self.first is not None
            or self.clock is not None
            or self.window is not None
            or bool(self.excluded)
            or self.avoid is not None
        )

    def keep_from(self, earlier: When | None) -> When:
        """A follow-up ("could it be at 3pm instead?") keeps what it does not change: a new
        time keeps the day asked before; a new day keeps the time or part of day asked before."""
        if earlier is None:
            return self
        if not self.found:
            return earlier  # "2" after a list of services: the day asked before still holds
        merged = self
        if not self.excluded and earlier.excluded:
            merged = replace(merged, excluded=earlier.excluded)
        start, end = earlier.first, earlier.last
        if self.weekday is not None and start is not None and end is not None and end > start:
            # "the thursday one" after "next week": that week's Thursday, not the nearest.
            span = (start + timedelta(days=d) for d in range(min(7, (end - start).days + 1)))
            day = next((d for d in span if d.weekday() == self.weekday), None)
            if day is not None:
                merged = replace(merged, first=day, last=day)
        elif self.month_day is not None and start is not None and end is not None and end > start:
            # "the 12th works" after "something in january": January's 12th.
            span = (start + timedelta(days=d) for d in range((end - start).days + 1))
            day = next((d for d in span if d.day == self.month_day), None)
            if day is not None:
                merged = replace(merged, first=day, last=day)
        elif self.weekday is not None and start is not None and self.first is not None:
            # "actually make it tuesday" after "next monday": the Tuesday of the week asked,
            # not the nearest one before it.
            monday = start - timedelta(days=start.weekday())
            if self.first < monday:
                day = monday + timedelta(days=self.weekday)
                merged = replace(merged, first=day, last=day)
        if self.first is None and (self.clock is not None or self.window is not None):
            merged = replace(
                merged, first=earlier.first, last=earlier.last, weekdays=earlier.weekdays
            )
        if self.first is not None and self.clock is None and self.window is None:
            merged = replace(
                merged,
                clock=earlier.clock,
                window=earlier.window,
                evening_guessed=earlier.evening_guessed,
                latest=earlier.latest,
                avoid=self.avoid or earlier.avoid,
            )
        return merged


# -- vocabularies ------------------------------------------------------------------------

_LOCALES = {"en": "en", "es": "es", "pt": "pt_BR", "fr": "fr", "de": "de", "it": "it"}


def _names(values: dict[int, str]) -> dict[str, int]:
    return {fold(v).rstrip("."): k for k, v in values.items() if len(fold(v).rstrip(".")) >= 3}


@cache
def _weekdays(lang: str, short: bool = True) -> dict[str, int]:
    """Weekday names (0 = Monday) in `lang`, wide and (with `short`) abbreviated, folded.
    English is read in every language, but not its abbreviations: "mon rdv" is French."""
    locale = Locale.parse(_LOCALES[lang])
    names = _names(dict(locale.days["format"]["wide"]))
    if lang == "en" and short:
        names |= _names(dict(locale.days["format"]["abbreviated"])) | {"tues": 1, "thurs": 3}
    if lang == "pt":  # "na sexta", "segunda que vem": the names without "-feira"
        names |= {n.split("-")[0]: d for n, d in list(names.items()) if "-" in n}
    if lang != "it":  # "on saturdays", "los sábados", "le samedis", "samstags": that day
        wide = _names(dict(locale.days["format"]["wide"]))
        names |= {f"{n}s": d for n, d in wide.items() if not n.endswith("s") and "-" not in n}
    return names


@cache
def _months(lang: str) -> dict[str, int]:
    locale = Locale.parse(_LOCALES[lang])
    names = _names(dict(locale.months["format"]["wide"]))
    names |= _names(dict(locale.months["format"]["abbreviated"]))
    names.pop("mar", None)  # "mar" is the sea in es/pt/it before it is March
    return names


@cache
def _relative_days(lang: str) -> dict[str, int]:
    """ "today", "tomorrow", "after tomorrow" in `lang`, from dateparser's language data."""
    # dateparser.data.date_translation_data.<lang> is data, not API: pinned below 2 in
    # pyproject (the module's `info["relative-type"]` layout).
    info = importlib.import_module(f"dateparser.data.date_translation_data.{lang}").info
    out: dict[str, int] = {}
    keys = (
        ("2 day ago", -2),
        ("1 day ago", -1),
        ("0 day ago", 0),
        ("in 1 day", 1),
        ("in 2 day", 2),
    )
    for key, offset in keys:
        for phrase in info.get("relative-type", {}).get(key, []):
            out[fold(phrase)] = offset
    out |= _EXTRA_RELATIVE.get(lang, {})
    return out


# What dateparser's data lacks for chat (checked in its data files).
_EXTRA_RELATIVE: dict[str, dict[str, int]] = {
    "en": {
        "tmrw": 1,
        "tmr": 1,
        "tmw": 1,
        "tomorow": 1,
        "tommorow": 1,
        "2morrow": 1,
        "2moro": 1,
        "2morow": 1,
        "tomoz": 1,
        "tonight": 0,
    },
    "es": {"pasado manana": 2, "manana": 1},
    "pt": {"depois de amanha": 2, "amanha": 1, "hj": 0},
    "it": {"dopodomani": 2},
    "de": {"heute": 0},
    "fr": {"apres demain": 2, "auj": 0, "dem": 1, "dmn": 1, "2main": 1},
}

_NEXT = r"(?:next|proximo|proxima|prochain|prochaine|nachsten|nachste|kommenden|prossimo|prossima)"
_NEXT_AFTER = r"(?:que viene|que vem|prochain|prochaine|prossimo|prossima)"

_SPANS = {
    # Read before "next week", which "the week after next" contains.
    "week_after_next": re.compile(
        r"\b(?:(?:the )?week after next|la semana despues de la proxima|"
        r"(?:a )?semana depois da proxima|ubernachste woche|la settimana dopo la prossima)\b"
    ),
    "next_week": re.compile(
        r"\b(?:next week|the week after|(?:the )?following week|la semana que viene|"
        r"la proxima semana|la semana siguiente|(?:a |na )?(?:proxima semana|semana q(?:ue)? vem|"
        r"semana seguinte)|la semaine (?:prochaine|suivante|d'apres|pro)|(?:nachste|kommende|"
        r"folgende) woche|die woche danach|(?:la )?prossima settimana|settimana prossima|"
        r"la settimana (?:dopo|successiva))\b"
    ),
    "this_week": re.compile(
        r"\b(?:this week|esta semana|essa semana|nesta semana|nessa semana|cette semaine|"
        r"diese woche|questa settimana)\b"
    ),
    "weekend": re.compile(
        r"\b(?:weekends?|week-ends?|fin(?:es)? de semana|findes?|fi[mn]s? de semana|"
        r"wochenenden?|fine settimana)\b"
    ),
}

# "in two weeks", "dentro de 3 dias", "daqui a 2 semanas", "dans 10 jours", "in 3 Tagen",
# "tra 2 settimane": the span dateparser reads.
_IN_SPAN = re.compile(
    r"\b(?:in|within|en|dentro de|em|daqui a|dans|d'ici|tra|fra)\s(?:a |an |the )?"
    r"(\d{1,2}|[a-z]{2,7})\s(days?|weeks?|fortnight|months?|dias?|semanas?|mes(?:es)?|"
    r"jours?|semaines?|mois|tagen?|wochen?|monaten?|monat|giorni|settimane?|mes[ei])\b"
)

# -- parts of the day --------------------------------------------------------------------

_TODAY_PART = re.compile(
    r"\b(?:this (?:morning|afternoon|evening)|tonight|esta (?:manana|tarde|noche)|"
    r"hoje (?:de|a|pela) (?:manha|tarde|noite)|ce (?:matin|soir)|cet apres-midi|"
    r"heute (?:fruh|morgen|vormittag|nachmittag|abend)|stamattina|stasera|"
    r"oggi pomeriggio)\b"
)
# A few days every calendar names alike, read as their date ("christmas eve at 10" is 24
# December at 10): neither dateparser nor babel knows holidays, and ones that differ by
# country or fall on moving dates are left to the visitor's date.
_NAMED_DATES = {
    "24 december": ("christmas eve", "xmas eve", "nochebuena", "noche buena",
                    "vispera de navidad", "vespera de natal", "veille de noel", "heiligabend",
                    "heiliger abend", "heiligen abend", "vigilia di natale"),
    # Christmas by its name alone too, where no one is called so ("Noël", "Natale" and
    # "Reyes" are given names and surnames: only with a word that makes them the day).
    "25 december": ("christmas day", "xmas day", "dia de navidad", "dia de natal",
                    "jour de noel", "erster weihnachtstag", "giorno di natale", "christmas",
                    "xmas", "navidad", "natal", "weihnachten"),
    "31 december": ("new year's eve", "new years eve", "nochevieja", "noche vieja",
                    "vespera de ano novo", "saint-sylvestre", "saint sylvestre", "silvester",
                    "san silvestro"),
    "1 january": ("new year's day", "new years day", "dia de ano nuevo", "dia de ano novo",
                  "jour de l'an", "neujahr", "neujahrstag", "capodanno", "new year",
                  "new years", "new year's", "ano nuevo", "ano novo", "nouvel an"),
    "6 january": ("epiphany", "dia de reyes", "epifania", "epiphanie", "dreikonigstag",
                  "heilige drei konige"),
}  # fmt: skip
# ...with that word kept, as the reader of bounds wants it ("après Noël" is after 25 December).
_NAMED_WITH = {
    "noel": ("apres", "avant", "a", "pour", "de", "jusqu'a"),
    "natale": ("dopo", "prima di", "a", "per", "di", "fino a"),
    "reyes": ("despues de", "antes de", "para", "en", "de"),
}
_NAMED_DAY = {"noel": "25 december", "natale": "25 december", "reyes": "6 january"}


@cache
def _named_dates() -> tuple[re.Pattern[str], dict[str, str]]:
    dates = {name: day for day, names in _NAMED_DATES.items() for name in names}
    dates |= {
        f"{word} {name}": f"{word} {_NAMED_DAY[name]}"
        for name, words_before in _NAMED_WITH.items()
        for word in words_before
    }
    alt = "|".join(sorted(map(re.escape, dates), key=len, reverse=True))
    return re.compile(rf"(?<![a-z'-])(?:{alt})(?![a-z'-])"), dates


_GREETINGS = re.compile(
    r"\b(?:good (?:morning|afternoon|evening)|buen(?:os|as) (?:dias|tardes|noches)|"
    r"bom dia|boa (?:tarde|noite)|bonsoir|guten (?:morgen|tag|abend)|buon(?:giorno|asera)|"
    r"buona (?:sera|giornata)|"
    # season's greetings name a holiday, not a day asked for
    r"(?:merry|happy) (?:christmas|xmas|new year'?s?)|feliz (?:navidad|natal|ano nuevo|ano novo)|"
    r"felices fiestas|boas festas|joyeux noel|bonne annee|frohe weihnachten|frohes neues jahr|"
    r"buon natale|buon anno)\b"
)
_PARTS: tuple[tuple[re.Pattern[str], tuple[time, time]], ...] = (
    (
        re.compile(
            r"\b(?:mornings?|mornin|am morgen|morgens|vormittags?|fruh|"
            r"(?:por|de|en|a|esta|x) la manana|por las mananas|manhas?|matins?|matinee|"
            r"mattin[ao]|mattinata|"
            # not "how early should I arrive?", nor "early afternoon"
            r"(?<!how )(?<!there )(?<!arrive )early(?!\s(?:afternoon|evening))|"
            # "mañana temprano", "amanhã bem cedo", "demain tôt": not "más temprano" (earlier)
            r"(?<!mas )(?<!llegar )temprano(?!\s(?:por la tarde|en la tarde))|"
            r"(?<!mais )(?<!chegar )(?<!tao )cedo(?!\s(?:a|de|da) tarde)|(?<!plus )(?<!trop )tot)\b"
        ),
        MORNING,
    ),
    (re.compile(r"\b(?:lunch ?time|lunch|almoco|pranzo|mittagspause)\b"), MIDDAY),
    (
        re.compile(
            # "llego 10 min tarde" is late and "más tarde" later, not the afternoon.
            r"\b(?:afternoons?|arvo|(?<!min )(?<!minutos )(?<!llego )(?<!poco )(?<!mas )tardes?|"
            r"apres-midis?|aprem|nachmittags?|pomeriggi[oi]|pome)\b"
        ),
        AFTERNOON,
    ),
    (
        re.compile(
            r"\b(?:evenings?|tonight|night|noches?|noites?|soirs?|soiree|abends?|sera|serata|"
            # After work: "after work", "a la salida del trabajo", "depois do expediente",
            # "en sortant du travail", "nach Feierabend", "dopo il lavoro".
            r"after work|(?:despues del|a la salida del|saliendo del) trabajo|"
            r"depois do (?:trabalho|expediente)|(?:apres le|en sortant du) (?:travail|boulot)|"
            r"nach (?:der arbeit|feierabend)|feierabend|dopo (?:il )?lavoro)\b"
        ),
        EVENING,
    ),
    (
        # After school, when children are out: "after school", "a la salida del cole",
        # "depois da escola", "après l'école", "nach der Schule", "dopo la scuola".
        re.compile(
            r"\b(?:after school|(?:despues del|a la salida del|saliendo del) (?:cole|colegio)|"
            r"(?:depois da|saida da) escola|(?:apres l'|a la sortie de l')ecole|"
            r"nach der schule|(?:dopo la|all'uscita da) scuola)\b"
        ),
        AFTER_SCHOOL,
    ),
)

# What follows a day, a part of it or a time that does not suit ("thursday doesn't work",
# "por la mañana no puedo", "jeudi ça marche pas", "10 Uhr geht nicht"), in the six languages.
_UNSUITED = (
    r"(?:doesn'?t work|does not work|won'?t work|don'?t work|are no good|is no good|no good|"
    r"not possible|not good|no puedo|no me va|no me viene|nao da|nao posso|nao consigo|"
    r"ne marche pas|marche pas|je ne peux pas|je peux pas|ne peux pas|peux pas|"
    r"kann ich nicht|geht nicht|gehen nicht|passt nicht|non posso|non mi va|non va|non riesco)"
)
# A part of the day refused ("i can't do mornings", "por la mañana no puedo", "pas le matin",
# "vormittags kann ich nicht"): the rest of the day, on the other side of it.
_PART_REFUSED_BEFORE = re.compile(
    r"\b(?:can'?t do|cannot do|can not do|not|no|nao|pas|nicht|non|never|nunca|jamais|mai|"
    r"except|sauf|menos|ausser|tranne)\s(?:in the |the |la |le |por la |de |a |am |di |in )?$"
)
_PART_REFUSED_AFTER = re.compile(rf"^\s?(?:(?:no|nao|non|pas)\b(?!\s?\?)|(?:ca )?{_UNSUITED})")
# "after lunch" is the afternoon; "before lunch" the morning.
_AFTER_LUNCH = re.compile(
    r"\b(?:after|despues de(?:l| la)?|depois do|apres(?: le)?|nach dem|dopo(?: il)?)\s$"
)
_BEFORE_LUNCH = re.compile(
    r"\b(?:before|antes de(?:l| la)?|antes do|avant(?: le)?|vor dem|prima di|prima del)\s$"
)


def _part_as_said(
    text: str, said: re.Match[str], part: tuple[time, time]
) -> tuple[time, time] | None:
    """The window a part of the day asks for; None for midday refused ("any time except
    lunch"), which leaves both sides of it (`_midday_refused`)."""
    before = text[max(0, said.start() - 24) : said.start()]
    after = text[said.end() : said.end() + 24]
    if part == MIDDAY:
        if _AFTER_LUNCH.search(before):
            return (AFTERNOON[0], time.max)
        if _BEFORE_LUNCH.search(before):
            return (time(0), time(12))
        if _midday_refused(text, said):
            return None
        return part
    if _PART_REFUSED_BEFORE.search(before) or _PART_REFUSED_AFTER.match(after):
        return (part[1], time.max) if part[0] < time(12) else (time(0), part[0])
    if _LATE_IN.search(before) and part in _LATE_HALF:
        return _LATE_HALF[part]  # "late afternoon", "fim da tarde", "tardo pomeriggio"
    if _EARLY_IN.search(before) and part in _EARLY_HALF:
        return _EARLY_HALF[part]  # "early afternoon", "début d'après-midi"
    return part


# The late or early part of a part of the day ("late afternoon", "en fin de matinée", "a
# primera hora de la tarde", "am späten Nachmittag", "in tarda mattinata"), folded.
_LATE_IN = re.compile(
    r"\b(?:late|end of the|end of|fin de|fin d'|final da|final de la|final de|fim da|fim do|"
    r"ultima hora de la|a ultima hora de la|spaten|spater|spat|tardo|tarda|in tarda)\s?$"
)
_EARLY_IN = re.compile(
    r"\b(?:early|start of the|beginning of the|debut de|debut d'|inicio da|inicio de la|"
    r"comeco da|primera hora de la|a primera hora de la|fruhen|fruher|primo|in primo)\s?$"
)
_LATE_HALF = {
    MORNING: (time(10, 0), time(12, 0)),
    AFTERNOON: (time(15, 0), time(18, 0)),
    EVENING: (time(19, 0), time.max),
}
_EARLY_HALF = {
    MORNING: (time(6, 0), time(10, 0)),
    AFTERNOON: (time(13, 0), time(15, 0)),
    EVENING: (time(17, 0), time(19, 0)),
}


def _midday_refused(text: str, said: re.Match[str]) -> bool:
    before = text[max(0, said.start() - 24) : said.start()]
    after = text[said.end() : said.end() + 24]
    return bool(_PART_REFUSED_BEFORE.search(before) or _PART_REFUSED_AFTER.match(after))


# -- clock times -------------------------------------------------------------------------

_AT = (
    r"(?:at|@|a las|a la|las|as|alle|all'|um|vers|gegen|verso|around|about|approx|"
    r"arround|arond|aroud|abt|"  # typed fast
    r"sobre las|hacia las|tipo|por volta das|por volta de|la pelas|circa|ca|from|after|"
    r"before|until|till|by|from|earlier than|later than|sooner than|desde las|despues de las|"
    r"antes de las|a partir de las|"
    r"depois das|antes das|a partir das|apres|avant|des|nach|ab|vor|bis|dopo le|prima delle|per le|"
    r"dalle|fino alle|entre las|entre|between|zwischen|tra le|hasta las|"
    r"ate as|jusqu'a|make it|how about|what about|instead|better|mejor|melhor|plutot|lieber|"
    r"meglio|o|ou|oder|or|not|pras|pra as|para as)"
)
_NUMBER_WORD = "|".join(sorted((w for w in NUMBER_WORDS if len(w) > 2), key=len, reverse=True))
_WORD_HOUR = re.compile(rf"\b({_AT})\s({_NUMBER_WORD})\b|\b({_NUMBER_WORD})\s(am|pm|uhr|heures?)\b")
_HOUR_WORD = rf"(\d{{1,2}}|{_NUMBER_WORD})"
_UNIT_WORD = r"(?: h| heures?| horas?| ore)?"
_HALF = r"(?:y|e|et) (?:media|meia|demie|mezza|mezzo)"  # "las diez y media", "dix heures et demie"
_QUARTER = r"(?:y|e|et) (?:cuarto|quart|um quarto|un quarto)"
_TO_QUARTER = r"(?:menos cuarto|moins le quart|meno un quarto)"
# Halves and quarters as people say them, rewritten to "H:MM" before times are read:
# (pattern, minutes, hours to add) with the hour in group 1.
_FRACTIONS: tuple[tuple[re.Pattern[str], int, int], ...] = (
    (re.compile(rf"\bhalf past {_HOUR_WORD}\b"), 30, 0),
    (re.compile(rf"\bhalf {_HOUR_WORD}\b(?! (?:hours?|days?|weeks?))"), 30, 0),  # British
    (re.compile(rf"\b(?:a )?quarter past {_HOUR_WORD}\b"), 15, 0),
    (re.compile(rf"\b(?:a )?quarter to {_HOUR_WORD}\b"), 45, -1),
    (re.compile(rf"\bhalb {_HOUR_WORD}\b"), 30, -1),  # "halb drei" is 2:30
    (re.compile(rf"\bviertel nach {_HOUR_WORD}\b"), 15, 0),
    (re.compile(rf"\b(?:viertel vor|dreiviertel) {_HOUR_WORD}\b"), 45, -1),
    (re.compile(rf"\b{_HOUR_WORD}{_UNIT_WORD} {_HALF}\b"), 30, 0),
    (re.compile(rf"\b{_HOUR_WORD}{_UNIT_WORD} {_QUARTER}\b"), 15, 0),
    (re.compile(rf"\b{_HOUR_WORD}{_UNIT_WORD} {_TO_QUARTER}\b"), 45, -1),
)


def _fractions(text: str) -> str:
    for pattern, minutes, shift in _FRACTIONS:

        def clock(m: re.Match[str], minutes: int = minutes, shift: int = shift) -> str:
            word = m.group(1)
            hour = int(word) if word.isdigit() else NUMBER_WORDS[word]
            return f"{(hour + shift - 1) % 12 + 1 if hour <= 12 else hour + shift}:{minutes:02d}"

        text = pattern.sub(clock, text)
    return text


# Times typed without a separator, as chat has them: "530 works", "the 1030 one", "830am",
# "1730". A 3-4 digit number is a time when a marker or "at" goes with it; alone, only at a
# quarter ("530" from 1:15 to 9:45, "1045" or "1400" from 07:00 to 18:45), and never a price,
# an amount, a street number or a digit group of a phone number ("612 345 678").
_COMPACT = re.compile(
    r"(?<![\d/.:,+$#-])(?<!\d\s)(\d{1,2})([0-5]\d)"
    r"(\s?(?:a\.?m\.?|p\.?m\.?|hs|h|uhr)(?![a-z]))?(?![\d/:%-])(?![.,]\d)(?!\s\d)"
)
_NOT_CLOCK_BEFORE = re.compile(
    r"(?:€|£|r\$|\bno\.?|\bn[°º]|\bcode|\bcodigo|\broom|\bsala|\bzip|\bcp)\s?$"
    r"|\b(?:calle|rua|street|st|ave?|avenida|road|rd|strasse|via|rue)\b[^,\d]{0,30}$"
)
_NOT_CLOCK_AFTER = re.compile(
    r"^\s?(?:€|\$|eur\b|euros?\b|usd\b|dollars?\b|bucks\b|reais\b|pesos\b|%|k\b|mil\b)"
)


def _compact_clocks(text: str) -> str:
    """ "530" as "5:30", where it tells a time (above); the reading of times does the rest."""

    def clock(m: re.Match[str]) -> str:
        hour, minute, marker = int(m.group(1)), int(m.group(2)), m.group(3)
        before, after = text[max(0, m.start() - 24) : m.start()], text[m.end() : m.end() + 10]
        if hour > 23 or _NOT_CLOCK_BEFORE.search(before) or _NOT_CLOCK_AFTER.match(after):
            return m.group(0)
        told = marker is not None or _PRECEDED_BY_AT.search(before)
        quarter = minute in (0, 15, 30, 45) if len(m.group(1)) == 2 else minute in (15, 30, 45)
        # 19xx and 20xx alone read as years ("in 2030") before evening times.
        plausible = 1 <= hour <= 9 if len(m.group(1)) == 1 else 7 <= hour <= 18
        if not told and not (quarter and plausible):
            return m.group(0)
        return f"{hour}:{minute:02d}{marker or ''}"

    return _COMPACT.sub(clock, text)


_TIME = re.compile(
    r"(?<![\d/.:,+])(\d{1,2})(?:\s?([:.h])\s?([0-5]\d))?"
    # A marker or unit is a whole word: "2 haircuts" and "2 amigos" tell no time.
    r"(?:\s?(a\.?m\.?|p\.?m\.?)(?![a-z])|"
    r"\s?(hs|hrs|hr|h|heures|heure|uhr|horas|hora|ore|o'?clock)(?![a-z]))?"
    r"(\s?ish(?![a-z]))?(?![\d/])"
)
_NOON = re.compile(
    r"\b(?:noon|midday|mediodia|meio-dia|meio dia|midi|mittags?|mezzogiorno)(ish)?\b"
)
_PM_AFTER = re.compile(
    r"^\s?(?:in the (?:afternoon|evening)|at night|de la (?:tarde|noche)|da (?:tarde|noite)|"
    r"a (?:tarde|noite)|de l'apres-midi|du soir|nachmittags|abends|del pomeriggio|di sera|"
    r"della sera)"
)
_AM_AFTER = re.compile(
    r"^\s?(?:in the morning|de la manana|da manha|du matin|morgens|vormittags|del mattino|"
    r"di mattina)"
)
_AFTER = re.compile(
    r"(?:after|from|later than|despues de|a partir de|desde|depois d[ae]s?|apos|a partir d[ae]s?|"
    r"apres|des|a partir de|nach|ab|dopo|dalle|da)\s?(?:las|la|as|a|le|l')?\s?$"
)
_BEFORE = re.compile(
    r"(?:before|by|until|till|no later than|earlier than|sooner than|antes de|antes d[ae]s?|"
    r"hasta|ate|avant|jusqu'a|"
    r"vor|bis|prima d[ei]l?l?e?|entro|fino a)\s?(?:las|la|as|a|le|l'|alle)?\s?$"
)
# A bound said with "not" is the other one: "not before noon", "pas avant midi", "nicht vor
# 12", "non prima delle 12" are after; "no later than 3", "not after 4" before.
_NEGATED = re.compile(r"\b(?:not|no|nao|pas|nicht|non|never)\s$")


def _bound(before: str) -> str | None:
    """ "after" or "before" when the words before a time bound it, else None."""
    for side, pattern in (("after", _AFTER), ("before", _BEFORE)):
        m = pattern.search(before)
        if m:
            if _NEGATED.search(before[: m.start()]):
                return "before" if side == "after" else "after"
            return side
    return None


_AROUND = re.compile(
    r"(?:around|arround|arond|aroud|about|abt|approx|approximately|sobre|hacia|a eso de|tipo|"
    r"por volta d[ae]s?|"
    r"la pelas|vers|gegen|verso|circa|ca\.?)\s?(?:las|la|as|a|le|les|alle)?\s?$"
)
_RANGE = re.compile(
    r"(?<![\d/.:])(\d{1,2})(?:[:.h]([0-5]\d))?\s?(am|pm)?\s?(?:h\b|hs\b|uhr\b)?\s?"
    r"(?:-|\u2013|to|till|until|a|y|e|et|und|bis|alle|and|as|ate|hasta)\s?(?:las |as |le )?"
    r"(\d{1,2})(?:[:.h]([0-5]\d))?\s?(am|pm|h|uhr)?(?![\d/])"
    r"(?!\s?(?:people|persons|personas|pessoas|personnes|personen|persone|years|anos|ans|jahre|anni))"
)
# Words that open a span of hours ("de 10 a 12", "entre 14h et 16h", "das 14 às 16", "von 14
# bis 16"): the two numbers after them are hours.
_RANGE_LEAD = re.compile(r"\b(?:de|das|des|von|from|between|entre|tra|dalle|fra)\s$")
# "at 10"; Italian puts the hour word first: "alle ore 10".
_PRECEDED_BY_AT = re.compile(rf"(?:^|\s){_AT}\s?(?:(?:ore|le|les|las|os|the)\s)?$")
# Units that also count hours ("2 horas para un tinte"): a length, not a time, when a word
# of length leads or follows ("de 2 heures", "2 horas para"), unless "at" leads ("às 2
# horas", "a las 5 horas"); "demain 15 heures" stays a time.
_COUNTED_HOURS = {"horas", "hora", "heures", "heure", "ore", "hrs", "hr"}
_LASTING_AFTER = re.compile(r"^\s?(?:de|del|da|di|para|pra|por|pour|of|for|per|fur)\b")
_LASTING_BEFORE = re.compile(
    r"(?:\b(?:de|for|durante|pendant|fur|per|por|reservar|reserver|book|need|necesito|"
    r"preciso|brauche|bisogno|dura|dure|dauert|lasts?|takes?|tarda|demora))\s$"
)
_UNIT_AFTER = re.compile(
    r"^\s?(?:(?:days?|weeks?|dias?|semanas?|jours?|semaines?|tag|tage|tagen|wochen?|giorni|"
    r"settiman[ae]|people|persons?|personas?|pessoas?|min|mins|minutes?|minutos?|minuti|"
    r"months?|meses|mois|monate?n?|mesi|x|th|st|nd|rd)(?![a-z])|/|\.\d)"
)


def _hour(
    hour: int,
    minute: int,
    meridiem: str | None,
    window: tuple[time, time] | None,
    *,
    padded: bool = False,
) -> time | None:
    """`padded`: written with a leading zero ("07:30"), a 24-hour clock: never the evening."""
    if padded and meridiem is None:
        return time(hour, minute) if 0 <= hour <= 23 and 0 <= minute <= 59 else None
    if meridiem == "pm" and hour < 12:
        hour += 12
    elif meridiem == "am" and hour == 12:
        hour = 0
    elif meridiem is None and hour < 12:
        if window is not None and window[0] >= time(12) and hour < 12:
            hour += 12
        elif window is None and 1 <= hour <= 7:
            hour += 12  # "at 3" is the afternoon for an appointment
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return time(hour, minute)


def _evening_guessed(
    hour: int, meridiem: str | None, window: tuple[time, time] | None, padded: bool = False
) -> bool:
    """`_hour` made this hour the afternoon by its guess alone (no am/pm, no part of the day,
    no leading zero)."""
    return meridiem is None and window is None and not padded and 1 <= hour <= 7


def _meridiem(text: str, end: int, marker: str | None) -> str | None:
    if marker:
        return "pm" if marker.startswith("p") else "am"
    tail = text[end : end + 30]
    if _PM_AFTER.match(tail):
        return "pm"
    if _AM_AFTER.match(tail):
        return "am"
    return None


# A time refused ("no not 10, 11", "a las 10 no, a las 11", "non pas 10h, plutôt 11h"): the
# time after it is the one asked.
_NOT_BEFORE = re.compile(r"\b(?:not|no|nao|pas|nicht|non)\s(?:at |a las |as |a |um |alle )?$")
_FITS_AFTER = re.compile(
    r"^\s?(?:(?:is|would be|sounds|seems|'s|esta|me va|me viene|e|ist|est|va)\s)?"
    r"(?:ok|okay|fine|good|great|perfect|alright|work|works|possible|posible|possivel|passt|"
    r"geht|va bene|possibile|bien|perfecto|perfeito|serve|sirve|otimo|parfait|gut|perfekt|"
    r"perfetto|bene|"
    # "can we do 11 instead": a number put in the place of the time asked before
    r"instead(?! of)|rather|en su lugar|mejor|au lieu|plutot|stattdessen|lieber|invece|piuttosto|"
    r"em vez disso|no lugar)\b"
)
_WORD = re.compile(r"\w+")
# "i work on thursday" says what the visitor does, not that thursday suits.
_SUBJECTS = {"i", "we", "you", "they", "he", "she", "yo", "eu", "je", "ich", "wir", "io", "noi"}


def says_it_suits(text: str) -> bool:
    """ "thursday works", "el jueves me va bien", "Donnerstag passt", "giovedì va bene": what
    the message names suits the visitor."""
    folded = fold(text)
    return any(
        m.group() not in _SUBJECTS and _FITS_AFTER.match(folded[m.end() : m.end() + 30])
        for m in _WORD.finditer(folded)
    )


# "at 10 no?" asks; "at 10 no, at 11" refuses.
# "a las 5 no hay?", "às 5 não tem?": asks whether there is one, refuses nothing.
_NOT_AFTER = re.compile(
    rf"^\s?(?:(?:no|nao|pas|nicht|non)\b(?!\s?\?)"
    rf"(?!\s(?:hay|tienen|teneis|tenes|tiene|queda|quedan|tem|tens|c'e|gibt)\b)|{_UNSUITED})"
)


# "can we push it from 10 to 11?", "lo puedo cambiar de las 10 a las 11?": a move from one
# time to the other, not a window.
_MOVED_FROM = re.compile(
    r"\b(?:push|move|change|switch|shift|bump|cambiar|cambiamos|mover|pasar|passar|mudar|"
    r"deplacer|decaler|verschieben|verlegen|spostare|sposta)\b(?:\s[a-z']+){0,3}\s"
    r"(?:from|de|desde|das|da|dalle|von)\s?(?:las |as |les |le )?$"
)


# "can i change my cleaning to 11?", "la puedo pasar a las 12?": the time a booking moves to.
_MOVED_TO = re.compile(
    r"\b(?:push|move|change|switch|shift|bump|reschedule|cambiar|cambia|mover|pasar|passar|"
    r"mudar|deplacer|decaler|changer|verschieben|verlegen|spostare|sposta)\b(?:\s+[a-z']+){0,4}"
    r"\s+(?:to|para|pra|a|auf|alle)\s?$"
)


# ...with nothing counted after the number ("change it to 2 haircuts" is no time).
_ALONE_AFTER = re.compile(
    r"^\s?(?:$|[?!.,;]|instead|please|pls|then|tomorrow|today|on\b|el\b|o\b|le\b|am\b|"
    r"manana|amanha|demain|morgen|domani)"
)


def _read_clock(text: str, window: tuple[time, time] | None) -> When:
    """The first time of day in `text` that is not refused, with a bound or "around" if one
    leads it."""
    m = _RANGE.search(text)
    if m and _MOVED_FROM.search(text[max(0, m.start() - 40) : m.start()]):
        late = m.group(6) if m.group(6) in ("am", "pm") else None
        moved_to = _hour(int(m.group(4)), int(m.group(5) or 0), late, window)
        if moved_to is not None:
            return When(clock=moved_to)
    before_range = text[: m.start()] if m else ""
    if m and (
        m.group(3)
        or m.group(6)
        or _PRECEDED_BY_AT.search(before_range)
        or _RANGE_LEAD.search(before_range)
    ):
        late = m.group(6) if m.group(6) in ("am", "pm") else None
        first = _hour(int(m.group(1)), int(m.group(2) or 0), m.group(3) or late, window)
        second = _hour(int(m.group(4)), int(m.group(5) or 0), late, window)
        if first and second and first < second:
            return When(window=(first, second))
    refused = False  # a number right after a refused time is the time wanted
    for m in _TIME.finditer(text):
        hour = int(m.group(1))
        sep, minutes, marker, unit, ish = m.group(2), m.group(3), m.group(4), m.group(5), m.group(6)
        before = text[max(0, m.start() - 24) : m.start()]
        after = text[m.end() : m.end() + 16]
        if sep == "." and minutes and re.match(r"^\.?\d", after):
            continue  # 15.12.2026: a date
        if _UNIT_AFTER.match(after) and not (marker or unit or (sep and minutes)):
            continue  # "2 days", "3 people", "the 15th", "15 de diciembre"
        if (
            unit in _COUNTED_HOURS
            and not (sep or _PRECEDED_BY_AT.search(before))
            and (_LASTING_AFTER.match(after) or _LASTING_BEFORE.search(before))
        ):
            continue  # "2 horas para un tinte", "un massage de 2 heures": how long, not when
        if _NOT_BEFORE.search(before) or _NOT_AFTER.match(after):
            refused = True
            continue
        meridiem = _meridiem(text, m.end(), marker)
        # "is 10 ok?", "would 3 work?": a number asked about is an hour; so is one a bound
        # leads ("dopo le 18", "after 5").
        fits = _FITS_AFTER.match(after)
        side = _bound(before)
        telling = bool(
            (sep and minutes) or marker or unit or ish or meridiem or refused or fits or side
        )
        moved_to = _MOVED_TO.search(text[max(0, m.start() - 60) : m.start()])
        telling = telling or bool(moved_to and _ALONE_AFTER.match(after))
        if not telling and not _PRECEDED_BY_AT.search(before):
            continue
        padded = len(m.group(1)) == 2 and m.group(1).startswith("0")
        clock = _hour(hour, int(minutes or 0), meridiem, window, padded=padded)
        if clock is None:
            continue
        if side == "after":
            return When(window=(clock, time.max))
        if side == "before":
            return When(window=(time(0), clock))
        return When(
            clock=clock,
            approximate=bool(ish) or bool(_AROUND.search(before)),
            evening_guessed=_evening_guessed(hour, meridiem, window, padded),
        )
    noon = _NOON.search(text)
    if noon:
        before = text[: noon.start()]
        side = _bound(before)
        if side == "after":
            return When(window=(time(12), time.max))
        if side == "before":
            return When(window=(time(0), time(12)))
        return When(clock=time(12), approximate=bool(noon.group(1) or _AROUND.search(before)))
    return When()


# -- days --------------------------------------------------------------------------------


def _future(today: date, month: int, day: int, year: int | None = None) -> date | None:
    years = [year] if year else [today.year, today.year + 1]
    for y in years:
        if y < 100:
            y += 2000
        try:
            candidate = date(y, month, day)
        except ValueError:
            return None
        if candidate >= today or year:
            return candidate
    return None


# Weekdays and relative days are read in all six languages: a visitor who writes "slt, dispo
# jeudi aprem pour un haircut ?" may be taken for English, and the day must not be lost for
# it. Abbreviations and Portuguese's ordinal weekdays only in the message's own language, and
# French "hier" only in French (it is "here" in German).
_OWN_ONLY = {"hier", "dem"}  # "hier" is German "here", "dem" a German article


@cache
def _day_names(lang: str, short: bool = True) -> dict[str, int]:
    """Weekday names of the six languages (the message's own last, so they win), with the
    abbreviations of `lang` and English's (but "mon" and "tue") when `short`."""
    others = [lg for lg in _LOCALES if lg != lang]
    names = {
        n: d
        for lg in others
        for n, d in _weekdays(lg, short=False).items()
        if n not in _PT_ORDINAL_DAYS  # "segunda", "quarta" are ordinals in es and it
    }
    if short:  # "beard trim fri" taken for another language; "mon" and "tue" are "my", "your"
        english = {n: d for n, d in _weekdays("en").items() if n not in ("mon", "tue")}
        names |= english
    return names | _weekdays(lang, short=short)


@cache
def _relative_names(lang: str) -> dict[str, int]:
    others = [lg for lg in _LOCALES if lg != lang]
    names = {n: o for lg in others for n, o in _relative_days(lg).items() if n not in _OWN_ONLY}
    return names | _relative_days(lang)


@cache
def _day_patterns(lang: str) -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    langs = dict.fromkeys([lang, "en"])
    months = {n: m for lg in langs for n, m in _months(lg).items()}
    weekdays = _day_names(lang)
    relative = _relative_names(lang)
    alt = lambda names: "|".join(sorted(map(re.escape, names), key=len, reverse=True))  # noqa: E731
    month_day = re.compile(
        rf"\b(\d{{1,2}})(?:st|nd|rd|th|er|º|o|\.)?\s?(?:de |of |the )?({alt(months)})\b"
        rf"|\b({alt(months)})\.?\s(?:the\s)?(\d{{1,2}})(?:st|nd|rd|th)?\b(?!:)"
    )
    weekday = re.compile(rf"\b({alt(weekdays)})\b")
    rel = re.compile(rf"(?<![a-z-])({alt(relative)})(?![a-z-])")
    return month_day, weekday, rel


_NUMERIC = re.compile(
    r"(?<![\d/.:])(\d{1,2})([/-])(\d{1,2})(?:[/-](\d{2,4}))?(?![\d/:])(?!\s?(?:am|pm|h\b|uhr))"
    r"|(?<![\d/.:])(\d{1,2})\.(\d{1,2})\.(\d{2,4})?(?![\d:])"
)
_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
# "the 15th", "dia 15"; never "the 2nd one" or "2nd option" (a pick from a list).
_ORDINAL_DAY = re.compile(
    r"\b(?:the |on the )?(\d{1,2})(?:st|nd|rd|th)\b(?!\s(?:one|option|time|slot))"
    r"|\bdia (\d{1,2})\b"
    # A day of the month after an article, where it cannot be an option of a list: after
    # "for" ("para el 15", "pour le 8", "per il 9", "fur den 10."), with a time after it
    # ("le 8 a 14h", "il 9 alle 16", "el 15 a las 5"), or as German writes it ("am 10.").
    r"|\b(?:para|pour|per|fur|pra)\s(?:el|le|il|den|o)\s(\d{1,2})\b\.?(?![:h]?\d)"
    r"|\b(?:el|le|il|am|den|o)\s(\d{1,2})(?:\.|º|er)?(?=\s(?:a las|a|alle|um|as|at)\s\d)"
    r"|\b(?:am|den)\s(\d{1,2})\.(?!\d)"
    # "el 12 por la tarde", "le 12 ?", "il 12": past any list's option numbers, a date
    r"|\b(?:el|le|il)\s([4-9]|[12]\d|3[01])\b"
    r"(?![:h.,]?\d|\s?(?:h\b|hs\b|horas?\b|heures?\b|ore\b|uhr\b|am\b|pm\b|€|euros?\b|min))"
)


# Portuguese says weekdays by their ordinal ("segunda" is Monday and "second"): alone, "a
# segunda" after a list is the second option; it is Monday with "-feira", "na", "que vem"...
_PT_ORDINAL_DAYS = {"segunda", "terca", "quarta", "quinta", "sexta"}
_PT_DAY_CONTEXT = re.compile(
    r"(?:\b(?:na|no|nesta|nessa|esta|essa|proxima|ate|pra|para|dia|de|ser|e|ou|algo|vaga|"
    r"vagas|horario|horarios|tem|marcar|agendar)\s$)"
)


def _is_weekday(text: str, match: re.Match[str]) -> bool:
    if match.group(1) not in _PT_ORDINAL_DAYS:
        return True
    after = text[match.end() : match.end() + 12]
    if re.match(r"(?:-| )feira| que vem| agora| (?:as|a|de|pela|depois|no|ou) |\s?\d", after):
        return True  # "segunda-feira", "quinta que vem", "sexta às 15h", "sexta de manhã"
    before = text[max(0, match.start() - 10) : match.start()]
    return not before.strip(" ,.!?") or bool(_PT_DAY_CONTEXT.search(before))


_IT_HOURS = re.compile(r"(?:per )?le ")


def _read_day(text: str, today: date, lang: str, month_first: bool) -> tuple[When, tuple[int, int]]:
    iso = _ISO.search(text)
    if iso:
        try:
            day = date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
            return When(first=day, last=day), iso.span()
        except ValueError:
            pass
    month_day, weekday_re, rel_re = _day_patterns(lang)
    m = month_day.search(text)
    if m:
        months = {n: mo for lg in (lang, "en") for n, mo in _months(lg).items()}
        if m.group(1):
            day = _future(today, months[m.group(2)], int(m.group(1)))
        else:
            day = _future(today, months[m.group(3)], int(m.group(4)))
        if day:
            bound = _DAY_BOUND.search(text[max(0, m.start() - 20) : m.start()])
            if bound and day > today:
                # "anything before christmas?", "before december 18": the days up to it.
                last = day if bound.group(1) in _INCLUSIVE else day - timedelta(days=1)
                return When(first=today, last=last), (m.start() - len(bound.group(0)), m.end())
            after = _after(text, m.start(), day, today)
            if after is not None:
                return after[0], (after[1], m.end())
            return When(first=day, last=day), m.span()
    m = _NUMERIC.search(text)
    if m:
        if m.group(1):
            a, b, year = int(m.group(1)), int(m.group(3)), m.group(4)
            if month_first and a <= 12 and not (b > 31):
                a, b = b, a
            if b > 12 and a <= 12:
                a, b = b, a
        else:
            a, b, year = int(m.group(5)), int(m.group(6)), m.group(7)
        day = _future(today, b, a, int(year) if year else None)
        if day:
            return When(first=day, last=day, past=day < today), m.span()
    for name, pattern in _SPANS.items():
        found_span = pattern.search(text)
        if found_span:
            span = found_span.span()
            if name in ("next_week", "week_after_next"):
                weeks = 2 if name == "week_after_next" else 1
                monday = today + timedelta(days=7 * weeks - today.weekday())
                week = When(first=monday, last=monday + timedelta(days=6))
                return _weekday_within(text, lang, week), span
            if name == "this_week":
                before, after = text[max(0, span[0] - 24) : span[0]], text[span[1] :]
                if _PART_REFUSED_BEFORE.search(before) or _PART_REFUSED_AFTER.match(after):
                    # "esta semana no puedo, la que viene", "questa settimana no": the next.
                    monday = today + timedelta(days=7 - today.weekday())
                    return When(first=monday, last=monday + timedelta(days=6)), span
                week = When(first=today, last=today + timedelta(days=6 - today.weekday()))
                return _weekday_within(text, lang, week), span
            saturday = today + timedelta(days=(5 - today.weekday()) % 7)
            if today.weekday() == 6:
                return When(first=today, last=today), span
            return When(first=saturday, last=saturday + timedelta(days=1)), span
    m = _IN_SPAN.search(text)
    if m:
        found = _dateparser_span(m.group(0), today, lang)
        if found:
            return When(first=found, last=found), m.span()
    m = next((w for w in weekday_re.finditer(text) if _is_weekday(text, w)), None)
    if m:
        target = _day_names(lang)[m.group(1)]
        ahead = (target - today.weekday()) % 7
        around = text[max(0, m.start() - 14) : m.end() + 14]
        name = re.escape(m.group(1))
        if ahead == 0 and re.search(rf"\b{_NEXT}\s{name}|{name}\s{_NEXT_AFTER}", around):
            ahead = 7
        day = today + timedelta(days=ahead)
        dated = _WEEKDAY_DATE.match(text, m.end())
        if dated and lang == "en" and not (dated.group(0).count("the") or dated.group(2)):
            dated = None  # English says "friday the 18th": "friday 4" is more likely 4 pm
        if dated:  # "el viernes 18", "friday the 18th": that date, not the next Friday
            day = _day_of_month(today, int(dated.group(1)), target) or day
            return When(first=day, last=day), (m.start(), dated.end())
        bound = _DAY_BOUND.search(text[max(0, m.start() - 20) : m.start()])
        if bound and bound.group(1) == "ate" and _FAREWELL_AFTER.match(text, m.end()):
            bound = None  # "obrigada, até quinta! 😊": see you on Thursday, not "until"
        if bound and day > today:
            # "a trim before friday": the days up to it; "by friday" includes it.
            last = day if bound.group(1) in _INCLUSIVE else day - timedelta(days=1)
            return When(first=today, last=last), (m.start() - len(bound.group(0)), m.end())
        after = _after(text, m.start(), day, today)
        if after is not None:
            return after[0], (after[1], m.end())
        event = _EVENT_BEFORE.search(text[max(0, m.start() - 44) : m.start()])
        return When(first=day, last=day, weekday=target, by_event=bool(event)), m.span()
    m = rel_re.search(text)
    if m:
        day = today + timedelta(days=_relative_names(lang)[m.group(1)])
        return When(first=day, last=day), m.span()
    m = _ORDINAL_DAY.search(text)
    # Italian "le 18" is six in the evening ("dopo le 18", "per le 18"); its days take "il".
    if m and not (lang == "it" and _IT_HOURS.match(m.group(0))):
        number = int(next(g for g in m.groups() if g))
        day = _day_of_month(today, number)
        after = _after(text, m.start(), day, today) if day is not None else None
        if after is not None:
            return after[0], (after[1], m.end())
        if day is not None:
            return When(first=day, last=day, month_day=number), m.span()
    typo = _misspelt_weekday(text, lang)
    if typo is not None:
        target, span = typo
        day = today + timedelta(days=(target - today.weekday()) % 7)
        return When(first=day, last=day, weekday=target), span
    return When(), (0, 0)


# Words a weekday's name is one slip from that are words of their own ("segundo", "quinto":
# ordinals; "quarto", a room; "Domenico", a name; "sundae").
_NOT_WEEKDAYS = {"segundo", "quinto", "quarto", "sundae", "mondo", "domenico", "marte",
                 "montage"}  # fmt: skip


def _misspelt_weekday(text: str, lang: str) -> tuple[int, tuple[int, int]] | None:
    """A weekday's full name typed with one slip ("biernes", "thrusday", "firday",
    "mercoledi"): one letter added, dropped, changed or two swapped (rapidfuzz's
    Damerau-Levenshtein distance 1), on names of six letters or more."""
    names = {n: d for n, d in _weekdays(lang, short=False).items() if len(n) >= 6}
    names |= {n: d for n, d in _weekdays("en", short=False).items() if len(n) >= 6}
    for m in re.finditer(r"[a-z]{5,12}", text):
        word = m.group()
        if word in names or word in _NOT_WEEKDAYS:
            continue
        near = {d for n, d in names.items() if DamerauLevenshtein.distance(word, n) == 1}
        if len(near) == 1:
            return near.pop(), m.span()
    return None


# A month asked with "in", "early", "end of"... ("in january", "a finales de mes", "Anfang
# Mai", "next month"): its days from today, or the third of it said. Only with such a word:
# "may I book?" names no month.
_MONTH_PARTS = {
    "early": 1, "beginning of": 1, "start of": 1, "principios de": 1, "comienzos de": 1,
    "inicio de": 1, "inicio do": 1, "comeco de": 1, "debut": 1, "debut de": 1, "anfang": 1,
    "inizio": 1, "inizio di": 1, "mid": 11, "middle of": 11, "mediados de": 11,
    "meados de": 11, "mi": 11, "mitte": 11, "meta": 11, "end of": 21, "late": 21,
    "finales de": 21, "final de": 21, "fin de": 21, "fines de": 21, "fim de": 21,
    "fim do": 21, "fin": 21, "fin du": 21, "ende": 21, "fine": 21, "fine di": 21,
    # A week of the month, by its order ("first week of january", "la segunda semana de
    # enero"): seven days from that day; the last week the month's last seven.
    "first week": 1, "second week": 8, "third week": 15, "fourth week": 22, "last week": -7,
    "primera semana": 1, "segunda semana": 8, "tercera semana": 15, "cuarta semana": 22,
    "ultima semana": -7, "primeira semana": 1, "terceira semana": 15, "quarta semana": 22,
    "premiere semaine": 1, "deuxieme semaine": 8, "troisieme semaine": 15,
    "quatrieme semaine": 22, "derniere semaine": -7, "erste woche": 1, "ersten woche": 1,
    "zweite woche": 8, "zweiten woche": 8, "dritte woche": 15, "dritten woche": 15,
    "letzte woche": -7, "letzten woche": -7, "prima settimana": 1, "seconda settimana": 8,
    "terza settimana": 15, "quarta settimana": 22, "ultima settimana": -7,
}  # fmt: skip
_WEEK_WORDS = ("week", "semana", "semaine", "woche", "settimana")
_IN_MONTH = ("in", "en", "em", "im", "nel", "para", "pour", "during", "durante", "a", "for",
             "fur", "per", "pra", "sometime in", "some time in")  # fmt: skip
_THIS_MONTH = ("the month", "this month", "el mes", "este mes", "o mes", "do mes",
               "du mois", "ce mois", "des monats", "diesen monat", "del mese",
               "questo mese")  # fmt: skip
# Only after "end of"...: "a finales de mes"; "pour mes enfants" is "my" in French.
_MONTH_AFTER_PART = ("mes", "mese", "monats")
_NEXT_MONTH = ("next month", "mes que viene", "el mes que viene", "el proximo mes",
               "proximo mes", "mes que vem", "o mes que vem", "o proximo mes",
               "mois prochain", "le mois prochain", "nachsten monat", "naechsten monat",
               "mese prossimo", "il mese prossimo", "prossimo mese",
               "il prossimo mese")  # fmt: skip


@cache
def _month_pattern() -> tuple[re.Pattern[str], dict[str, int]]:
    months: dict[str, int] = {}
    for lg in _LOCALES:
        locale = Locale.parse(_LOCALES[lg])
        months |= _names(dict(locale.months["format"]["wide"]))
    named = {**months, **dict.fromkeys(_THIS_MONTH, 0), **dict.fromkeys(_NEXT_MONTH, -1)}
    alt = lambda names: "|".join(sorted(map(re.escape, names), key=len, reverse=True))  # noqa: E731
    pattern = re.compile(
        rf"\b({alt(_MONTH_PARTS)})[\s-](?:of |the |de |del |do |du |des |di |im |in |d')?"
        rf"(?:the |la |le |el |o )?({alt([*named, *_MONTH_AFTER_PART])})\b"
        rf"|\b(?:{alt(_IN_MONTH)})\s({alt(named)})\b"
        rf"|\b({alt(_NEXT_MONTH)})\b|\b(monatsende|fine mese)\b"
    )
    return pattern, named | dict.fromkeys(_MONTH_AFTER_PART, 0)


def _month_span(text: str, today: date) -> tuple[When, str]:
    """The days of a month asked ("early january", "next month", "end of the month"), and
    `text` without the words that said it (so "early" is no morning)."""
    pattern, named = _month_pattern()
    m = pattern.search(text)
    if m is None:
        return When(), text
    part, name = m.group(1), m.group(2) or m.group(3) or m.group(4) or "mes"
    if m.group(5):
        part = "end of"
    month = named[name]
    if month == 0:
        month = today.month
    elif month == -1:
        month = today.month % 12 + 1
    year = today.year + (month < today.month)
    start = _MONTH_PARTS[part] if part else 1
    following = date(year + month // 12, month % 12 + 1, 1)
    month_end = (following - timedelta(days=1)).day
    if part and any(w in part for w in _WEEK_WORDS):
        start = start if start > 0 else month_end - 6
        end: int | None = min(start + 6, month_end)
    else:
        end = {1: 10, 11: 20}.get(start) if part else None
    first = max(date(year, month, start), today)
    last = date(year, month, end) if end else following - timedelta(days=1)
    if last < first:
        return When(), text
    return When(first=first, last=last), text[: m.start()] + " " * len(m.group(0)) + text[m.end() :]


def _weekday_within(text: str, lang: str, week: When) -> When:
    """ "nächste Woche Mittwoch", "next week on wednesday": that weekday of the week named
    (several weekdays are left to `_several_weekdays`)."""
    _, weekday_re, _ = _day_patterns(lang)
    named = {
        _day_names(lang)[m.group(1)] for m in weekday_re.finditer(text) if _is_weekday(text, m)
    }
    if len(named) != 1 or week.first is None or week.last is None:
        return week
    target = named.pop()
    day = week.first + timedelta(days=(target - week.first.weekday()) % 7)
    return When(first=day, last=day, weekday=target) if day <= week.last else week


# "before friday", "antes del viernes", "avant vendredi", "vor Freitag", "prima di venerdì",
# "até sexta"; "by friday" and "entro venerdì" include the day.
_DAY_BOUND = re.compile(
    r"\b(before|by|no later than|sooner than|earlier than|antes del?|antes que|avant|"
    r"plus tot que|vor|fruher als|prima di|entro|ate|mais cedo que)\s"
    r"(?:the |el |le |am |il |o |a |la |de )?$"
)
# Before an event on the day named: "a haircut before my wedding on saturday", "antes de mi
# boda el sábado", "vor meiner Hochzeit am Samstag". The day is the event's; the visit may be
# that day or, when it cannot, the days before it (never after).
_EVENT_BEFORE = re.compile(
    r"\b(?:before (?:my|our|the|his|her)|antes de (?:mi|la|nuestra|nuestro)|"
    r"antes d[oa] (?:meu|minha|nosso|nossa)|avant (?:mon|ma|notre)|"
    r"vor (?:meiner|meinem|unserer|unserem|der|dem)|prima (?:del mio|della mia|del|della))"
    r" [a-z']{3,20} (?:on |this |next |el |del |no |na |de |du |am |di )?(?:the )?$"
)
_INCLUSIVE = {"by", "no later than", "entro"}
# "after christmas", "the week after the 10th", "después del viernes": the week after that day.
_DAY_AFTER = re.compile(
    r"\b(?:(?:the week|la semana|a semana|la semaine|die woche|la settimana)\s)?"
    r"(?:after|despues del?|depois d[oa]|apres|nach|dopo)\s"
    r"(?:the |el |la |le |il |o |a |am |de )?$"
)


def _after(text: str, start: int, day: date, today: date) -> tuple[When, int] | None:
    """The week after `day` when the words before it ask for after it, and where they start."""
    bound = _DAY_AFTER.search(text[max(0, start - 30) : start])
    if bound is None or day < today:
        return None
    first = day + timedelta(days=1)
    return When(first=first, last=first + timedelta(days=6)), start - len(bound.group(0))


# What may follow "até <day>" when it is a goodbye: the end of the message, or a smile.
_FAREWELL_AFTER = re.compile(r"[^\w?]*$")


# A day of the month right after a weekday's name ("viernes 18", "friday the 18th", "freitag,
# den 18."); never a time ("sexta 18h", "friday 10:30", "freitag 18 uhr").
_WEEKDAY_DATE = re.compile(
    r",?\s(?:the |den |le |el |il |o |dia |am )?(\d{1,2})(st|nd|rd|th|er|º|\.)?"
    r"(?![\d:.]|\s?(?:h\b|h\d|am\b|pm\b|uhr|horas?\b|hs\b|heures?\b|ore\b|o'clock))"
)


def _day_of_month(today: date, number: int, weekday: int | None = None) -> date | None:
    """The next date on day `number` of a month (from today, three months ahead); with
    `weekday`, one that falls on it if there is one, else the nearest (the number is the more
    exact)."""
    candidates = []
    for months_ahead in range(0, 3):
        month = (today.month - 1 + months_ahead) % 12 + 1
        year = today.year + (today.month - 1 + months_ahead) // 12
        try:
            candidate = date(year, month, number)
        except ValueError:
            continue
        if candidate >= today:
            candidates.append(candidate)
    same = [c for c in candidates if c.weekday() == weekday]
    return same[0] if same else (candidates[0] if candidates else None)


_EXCEPT = (
    r"(?:except(?: for| on)?|but not|not on|not|pero no|mas nao|mais pas|aber nicht|ma non|"
    r"menos|excepto|salvo|sauf|hormis|ausser|außer|"
    r"nicht|tranne|eccetto|fuorche)\s(?:el |la |los |las |on |le |les |am |il |a |o |os |de )?"
)


# A weekday refused after its name: "thursday doesn't work actually, how about tomorrow?",
# "el jueves al final no puedo", "jeudi ça marche pas", "Donnerstag geht nicht" (a few words
# between, none a number: "thursday at 10 doesn't work" refuses the time, not the day).
_REFUSED = (
    r"(?:\s(?:the|el|al|final|then|actually|really|sadly|je|ich|mir|me|a|la|le|ca|c'est|"
    r"isn't|is|en|fin|leider|doch|ja|mi|per|o|os)){0,3}\s"
    rf"{_UNSUITED}\b"
)


@cache
def _except_pattern(lang: str) -> re.Pattern[str]:
    names = set(_day_names(lang, short=False))
    alt = "|".join(sorted(map(re.escape, names), key=len, reverse=True))
    return re.compile(rf"\b{_EXCEPT}({alt})s?\b|\b({alt})s?{_REFUSED}")


def _excluded_days(text: str, lang: str) -> tuple[tuple[int, ...], str]:
    """Weekdays the visitor rules out ("cualquier día menos el miércoles", "any day but not
    monday", "sauf le mercredi"), and the text without them, so they are not read as the day
    asked."""
    names = _day_names(lang, short=False)
    found: list[int] = []

    def blank(m: re.Match[str]) -> str:
        found.append(names[m.group(1) or m.group(2)])
        return " " * len(m.group(0))

    text = _except_pattern(lang).sub(blank, text)
    return tuple(sorted(set(found))), text


# "11", "the 11 one", "ok 11 pls": a number alone but for an article or a word of chat.
_BARE_NUMBER = re.compile(
    # "the 11", "a das 10" (pt), "la de las 11", "quella delle 10", "die um 10"
    # ...and after a "no" to the time put alone: "no the 11", "nein, die um 10"
    r"^\s*(?:(?:no|nope|nah|nao|non|nein)[\s,.!]+)?(?:(?:the|ok|okay|la|el|o|a|le|il|lo|die|der|"
    r"quella)\s+)?"
    r"(?:(?:das|de las|delle|alle|um)\s+)?(\d{1,2})"
    r"(?:\s+(?:one|pls|plz|please|then|una|uno|um|uma|bitte))?[\s?!.]*$"
)


def shift_minutes(text: str) -> int | None:
    """How far a message moves something, in minutes ("an hour later", "30 min earlier", "eine
    Stunde später", "una hora antes", "mezz'ora dopo"; the direction is the reader's `later` or
    `earlier`); None when it says no amount."""
    m = _AMOUNT.search(fold(text))
    return _minutes_said(m) if m else None


def bare_hour(text: str, options: int) -> time | None:
    """A number alone that cannot be one of `options` listed but can be an hour ("11" after
    three times offered): that hour, the afternoon for 1 to 7 as with "at 3"."""
    said = _BARE_NUMBER.match(fold(text))
    if said is None:
        return None
    number = int(said.group(1))
    if number <= options or number > 23:
        return None
    return _hour(number, 0, None, None)


_EITHER = re.compile(r"\b(?:or|o|ou|oder|oppure|y|and|e|et|und)\b")


def _several_weekdays(text: str, today: date, lang: str, days: When) -> When:
    """ "monday or tuesday", "mercredi ou jeudi", "wednesday or thursday next week": only those
    weekdays, within the span asked, or else over their next occurrences."""
    _, weekday_re, relative_re = _day_patterns(lang)
    names = _day_names(lang)
    named = sorted({names[m.group(1)] for m in weekday_re.finditer(text) if _is_weekday(text, m)})
    if len(named) == 1:
        # "tomorrow or friday", "mañana o el viernes": a relative day and a weekday, both.
        relative = _relative_names(lang)
        near = [today + timedelta(days=relative[m.group(1)]) for m in relative_re.finditer(text)]
        if near and _EITHER.search(text):
            weekday_date = today + timedelta(days=(named[0] - today.weekday()) % 7)
            dates = sorted({*near, weekday_date})
            if len(dates) > 1:
                return When(
                    first=dates[0],
                    last=dates[-1],
                    weekdays=tuple(sorted({d.weekday() for d in dates})),
                )
    if len(named) < 2:
        return days
    if days.first is not None and days.last is not None and days.last > days.first:
        return replace(days, weekdays=tuple(named), weekday=None)
    # "next tues or wed" on a Tuesday: from next Tuesday on, as "next tues" alone.
    nearest = today + timedelta(days=((days.weekday or 0) - today.weekday()) % 7)
    later = days.weekday is not None and days.first is not None and days.first > nearest
    # "next monday or tuesday": "next" is said of both, from the first on.
    later = later or (days.weekday is not None and bool(_NEXT_WORD.search(text)))
    base = days.first if later and days.first is not None else today
    dates = [base + timedelta(days=(d - base.weekday()) % 7) for d in named]
    return When(first=min(dates), last=max(dates), weekdays=tuple(named))


_NEXT_WORD = re.compile(rf"\b{_NEXT}\b")


# An hour standing alone right after a day ("tomorrow 10"): not a date, count or unit.
_BARE_HOUR = re.compile(
    r"\s(\d{1,2})(?:\s(?:pls|please|por favor|porfa|xfa|svp|bitte|per favore))?\s?(?:[?!.]|$)"
)


# ...or right before it ("is 10 tomorrow ok?", "would 3 on friday work?"), but not a count
# ("for 2 tomorrow").
_HOUR_BEFORE_DAY = re.compile(
    r"(?:^|\s)(?<!for )(?<!para )(?<!pour )(?<!el )(?<!the )(?<!le )(?<!il )"
    r"(\d{1,2})\s(?:on |el |le |am |il )?$"
)


def _dateparser_span(span: str, today: date, lang: str) -> date | None:
    import dateparser

    tokens = [str(NUMBER_WORDS.get(t, t)) for t in span.split()]
    settings = {
        "PREFER_DATES_FROM": "future",
        "RELATIVE_BASE": datetime.combine(today, time(12)),  # naive wall clock, see notes
        "TIMEZONE": "UTC",
    }
    found = dateparser.parse(" ".join(tokens), languages=[lang, "en"], settings=settings)  # type: ignore[arg-type]
    if found is None or found.date() < today:
        return None
    return found.date()


# -- the whole reading ------------------------------------------------------------------


# The last free time of a day: "what's the latest appointment tomorrow?", "el último turno",
# "o último horário", "votre dernier créneau", "den letzten Termin", "l'ultimo orario". Not
# "by 5 at the latest", nor "the last one" (the list's last).
_LATEST = re.compile(
    r"(?<!at the )\b(?:latest|last) (?:appointment|slot|opening|spot)s?\b"
    r"|(?<!at the )\blatest\b(?! news)"
    r"|\bultim[oa] (?:turno|horario|hora|cita|hueco|vaga|appuntamento|orario|posto)\b"
    r"|\bdernier (?:creneau|rendez-vous|rdv|horaire)\b|\bderniere heure\b"
    r"|\bletzte[nr]? (?:termin|slot|uhrzeit)\b|\bspatesten termin\b"
    # the end of the day: "haircut end of day friday?", "en fin de journée", "ao final do dia"
    r"|\bend of (?:the )?day\b|\bfin de (?:la )?journee\b|\b(?:ao|no) final do dia\b"
    r"|\bal final del dia\b|\bam ende des tages\b|\ba fine giornata\b"
)

# An amount of time, in the six languages: "half an hour", "an hour", "2 hours", "un'ora",
# "30 min", "eine Stunde", "media hora", "une demi-heure".
_AMOUNT_OF = (
    r"(?P<half>half an hour|half hour|media hora|meia hora|une demi-heure|demi-heure|demi heure|"
    r"einer halben stunde|halbe stunde|mezz'?ora|mezzora)|(?P<count>an|one|a|1|una|uma|une|"
    r"einer|eine|ein|un|2|two|dos|duas|deux|zwei|due)\s(?:hours?|horas?|heures?|stunden?|or[ae])|"
    r"(?P<hour>un'ora)|(?P<minutes>\d{1,3})\s?(?:min|mins|minutes?|minutos?|minuten|minuti)"
)
_AMOUNT = re.compile(rf"\b(?:{_AMOUNT_OF})\b")
# A time counted from now: "can i come in an hour?", "en media hora", "daqui a 20 min",
# "dans une heure", "in einer halben Stunde", "tra mezz'ora"; and now itself ("right now").
_FROM_NOW = re.compile(
    rf"\b(?:in|en|dentro de|daqui a|daqui|em|dans|tra|fra)\s(?:{_AMOUNT_OF})\b"
    r"|\b(?P<now>right now|right away|straight away|ahora mismo|ya mismo|agora mesmo|"
    r"tout de suite|jetzt gleich|gleich jetzt|sofort|subito|adesso)\b"
)
_TWO = {"2", "two", "dos", "duas", "deux", "zwei", "due"}


def _minutes_said(m: re.Match[str]) -> int:
    """The minutes an `_AMOUNT_OF` match says."""
    if m.group("minutes"):
        return int(m.group("minutes"))
    if m.group("half"):
        return 30
    return 120 if m.group("count") in _TWO else 60


def _minutes_from_now(folded: str) -> tuple[int | None, str]:
    """Minutes from now the text asks for, and the text without the words that said it."""
    m = _FROM_NOW.search(folded)
    if m is None:
        return None, folded
    minutes = 0 if m.group("now") else _minutes_said(m)
    return minutes, folded[: m.start()] + " " * (m.end() - m.start()) + folded[m.end() :]


def read_when(text: str, today: date, lang: str = "en", *, month_first: bool = False) -> When:
    """What `text` says about when: day(s), time, part of day. `text` is bounded already."""
    folded = _GREETINGS.sub(" ", fold(text))
    named, dates = _named_dates()
    folded = named.sub(lambda m: dates[m.group(0)], folded)
    folded = _WORD_HOUR.sub(
        lambda m: (
            f"{m.group(1)} {NUMBER_WORDS[m.group(2)]}"
            if m.group(1)
            else f"{NUMBER_WORDS[m.group(3)]} {m.group(4)}"
        ),
        folded,
    )
    folded = _compact_clocks(_fractions(folded))
    lang = lang if lang in _LOCALES else "en"
    window = None
    month_span = When()
    month_day, _, _ = _day_patterns(lang)
    if not month_day.search(folded):  # "the 14th of january" is read as the date it is
        month_span, folded = _month_span(folded, today)
    from_now, folded = _minutes_from_now(folded)
    today_part = bool(_TODAY_PART.search(folded))
    avoid = None
    for pattern, part in _PARTS:
        said = pattern.search(folded)
        if said:
            window = _part_as_said(folded, said, part)
            avoid = part if part == MIDDAY and window is None else None
            folded = pattern.sub(" ", folded)
            break
    excluded, folded = _excluded_days(folded, lang)
    days, (a, b) = _read_day(folded, today, lang, month_first)
    days = _several_weekdays(folded, today, lang, days)
    if days.first is None and month_span.first is not None:
        days = month_span
    elif days.weekday is not None and month_span.first is not None and month_span.last:
        # "mid december, any tuesday": the Tuesdays of those days, not the next Tuesday.
        days = replace(month_span, weekdays=(days.weekday,))
    timing = _read_clock(folded[:a] + " " * (b - a) + folded[b:], window)
    bare = _BARE_HOUR.match(folded, b) if days.first is not None and b else None
    if timing.clock is None and timing.window is None and bare:
        # "tomorrow 10", "lunes 5": a bare hour right after the day is its time.
        hour, meridiem = int(bare.group(1)), _meridiem(folded, bare.end(), None)
        clock = _hour(hour, 0, meridiem, window)
        guessed = _evening_guessed(hour, meridiem, window)
        timing = When(clock=clock, evening_guessed=guessed) if clock else timing
    ahead = _HOUR_BEFORE_DAY.search(folded[:a]) if days.first is not None and b else None
    if timing.clock is None and timing.window is None and ahead:
        clock = _hour(int(ahead.group(1)), 0, None, window)
        guessed = _evening_guessed(int(ahead.group(1)), None, window)
        timing = When(clock=clock, evening_guessed=guessed) if clock else timing
    latest = bool(_LATEST.search(folded))
    if days.first is None and (today_part or latest):
        days = When(first=today, last=today)  # "your latest slot?": today's
    when = When(
        first=days.first,
        last=days.last,
        clock=timing.clock,
        window=timing.window or window,
        approximate=timing.approximate,
        past=days.first is not None and days.first < today,
        weekday=days.weekday,
        month_day=days.month_day,
        by_event=days.by_event,
        excluded=excluded,
        weekdays=days.weekdays,
        evening_guessed=timing.evening_guessed,
        latest=latest and timing.clock is None,
        avoid=avoid if timing.clock is None and timing.window is None else None,
        from_now=from_now if days.first is None and timing.clock is None else None,
    )
    if when.clock is not None and window is not None and timing.window is None:
        when = replace(when, window=None)  # "tomorrow afternoon at 4": the time says it all
    return when
