"""A visitor's name, phone and e-mail, as they type them in chat.

phonenumbers finds numbers in free text in the business's country ("(312) 448-2219" at a US
business is +13124482219, not +3124482219), email-validator checks addresses without any DNS
call, and the name is what follows "my name is", "soy", "je m'appelle"... in six languages, or a
short answer made of name-like words when the agent has just asked for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

from conversations.agent.words.intents import CHAT_WORDS
from conversations.agent.words.text import fold

_EMAIL_CANDIDATE = re.compile(r"[^\s<>(),;:\"'\[\]]{1,64}@[^\s<>(),;:\"'\[\]]{1,255}")
# Words that only ever introduce a name ("my name is", "me llamo"): what follows is read as
# a name however it is written.
_NAME_LEADS = re.compile(
    r"\b(?:my name is|my name's|name:|call me|under the name(?: of)?|"
    r"(?:book it|put it|book me|put me) under|"
    r"me llamo|mi nombre es|a nombre de|meu nome [eé]|me chamo|(?:no|em) nome d[eao]|"
    r"je m['\u2019]appelle|mon nom est|au nom de|"
    r"ich hei(?:ß|ss)e|mein name ist|auf den namen|"
    r"mi chiamo|il mio nome [eè]|a nome di)\s+",
    re.IGNORECASE,
)
# "I'm", "soy", "c'est", "ich bin"... introduce a name ("c'est Claire") as often as anything
# else ("c'est possible", "soy nueva", "ich bin krank"): only a capitalised word after them is
# taken for a name, unless the agent has just asked for it.
_COPULA_LEADS = re.compile(
    r"\b(?:i am|i'm|i\u2019m|im|this is|it's|it\u2019s|"
    r"soy|sou o|sou a|sou|je suis|c'est|c\u2019est|ich bin|hier ist|sono)\s+",
    re.IGNORECASE,
)
_PHONE_LIKE = re.compile(r"\+?[\d(][\d\s().-]{5,25}\d")
_NAME_WORD = re.compile(r"^[^\W\d_][^\W\d_'\u2019.-]{0,30}(?:[-'\u2019][^\W\d_]{1,30})?\.?$")
_NOT_NAMES = {
    "here", "ok", "okay", "yes", "no", "fine", "good", "great", "interested", "looking",
    "available", "free", "back", "late", "sorry", "a", "the", "not", "just", "bien", "aqui",
    "listo", "lista", "aquí", "ici", "da", "qui", "là", "la", "el", "o", "hier", "nuevo",
    "nueva", "novo", "nova", "new", "also", "tambien", "también", "bitte", "porfa", "svp",
    "pls", "plz",
    # "it's for my son": a preposition starts no name
    "for", "para", "pra", "pour", "für", "fur", "per", "to", "with", "con", "com", "avec", "mit",
}  # fmt: skip


_JOINERS = {"and", "y", "e", "et", "und", "ed", "my", "mi", "mon", "ma", "meu", "minha", "mein",
            "meine", "il", "la", "from", "here"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ContactDetails:
    name: str | None = None
    phone: str | None = None  # E.164
    email: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.name or self.phone or self.email)


def find_phone(text: str, region: str | None) -> str | None:
    try:
        for match in phonenumbers.PhoneNumberMatcher(text[:400], region or "ZZ"):
            if phonenumbers.is_valid_number(match.number):
                return phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
    except Exception:
        return None
    return None


def find_email(text: str) -> str | None:
    for candidate in _EMAIL_CANDIDATE.findall(text[:400]):
        try:
            return validate_email(candidate.rstrip(".!?"), check_deliverability=False).normalized
        except EmailNotValidError:
            continue
    return None


# The mailbox providers most visitors' addresses are at: a domain one or two keystrokes from
# one of them ("gmial.com", "hotmial.com", "yaho.es") is most likely a slip.
_MAILBOXES = (
    "gmail.com", "googlemail.com", "hotmail.com", "hotmail.es", "hotmail.fr", "hotmail.it",
    "hotmail.de", "outlook.com", "outlook.es", "live.com", "msn.com", "yahoo.com", "yahoo.es",
    "yahoo.fr", "yahoo.it", "yahoo.de", "yahoo.com.br", "icloud.com", "me.com", "aol.com",
    "proton.me", "protonmail.com", "gmx.de", "gmx.net", "web.de", "t-online.de", "libero.it",
    "orange.fr", "free.fr", "laposte.net", "uol.com.br", "bol.com.br", "terra.com.br",
    "telefonica.net", "mail.com", "gmx.com", "gmx.at", "gmx.ch", "ymail.com", "live.fr",
    "mac.com", "hotmail.co.uk", "yahoo.co.uk", "btinternet.com", "sky.com", "zoho.com",
    "bluewin.ch", "orange.es", "wanadoo.fr", "sfr.fr", "tiscali.it", "virgilio.it",
)  # fmt: skip


def likely_meant(email: str) -> str | None:
    """The address `email` most likely meant when its domain is a slip of a common mailbox
    provider's ("ana@gmial.com" -> "ana@gmail.com"); None when it looks as intended."""
    local, _, domain = email.rpartition("@")
    if not local or domain in _MAILBOXES or len(domain) < 6:
        return None
    slips = 2 if len(domain) >= 12 else 1  # short domains differ by a letter legitimately
    best = process.extractOne(
        domain, _MAILBOXES, scorer=DamerauLevenshtein.distance, score_cutoff=slips
    )
    return f"{local}@{best[0]}" if best is not None else None


def _name_from(words: list[str]) -> str | None:
    picked: list[str] = []
    for word in words[:4]:
        clean = word.strip(",.!?;:")
        lowered = clean.lower()
        if (
            not clean
            or not _NAME_WORD.match(clean)
            or lowered in _NOT_NAMES | _JOINERS
            or fold(clean) in CHAT_WORDS
        ):
            break
        picked.append(clean[:1].upper() + clean[1:])
        if word[-1:] in ",.!?;:":
            break  # "soy María, mi móvil...": the name ends at the comma
    return " ".join(picked)[:100] if picked else None


def _chat_word(word: str) -> bool:
    clean = word.strip(",.!?;:").lower()
    return clean in _NOT_NAMES or fold(clean) in CHAT_WORDS


def find_name(text: str, *, asked: bool) -> str | None:
    """The name a visitor gives: after a lead ("I'm Ana"), or, when just asked for it, a short
    answer that looks like a name ("Ana Lopez", "ana, ana@mail.com")."""
    short = text[:300]
    lead = _NAME_LEADS.search(short)
    if lead:
        return _name_from(short[lead.end() :].split())
    copula = _COPULA_LEADS.search(short)
    if copula:
        words = short[copula.end() :].split()
        if asked or (words and words[0][:1].isupper()):
            return _name_from(words)
    if asked:
        # The first part that says something: "jane@example.com, Jane" is left as ", Jane".
        parts = [p.strip() for p in re.split(r"[,;\n]|\s-\s", short) if p.strip()]
        first = parts[0] if parts else ""
        words = first.split()
        while words and _chat_word(words[0]):  # "ok. Ann Lee", "sure, Ann": the name after
            words.pop(0)
        if not words and len(parts) > 1:
            first, words = parts[1], parts[1].split()
        if (
            1 <= len(words) <= 3
            and "@" not in first
            and "?" not in first  # "whats ur address?" asks; a name answers
            and not any(c.isdigit() for c in first)
        ):
            return _name_from(words)
    return None


def unreadable(text: str) -> str | None:
    """What looks like a phone number or an e-mail address in `text` but is not one that
    can be used (read_details found neither): shown back to the visitor as typed."""
    email = _EMAIL_CANDIDATE.search(text[:400])
    if email is not None:
        return email.group(0)
    phone = _PHONE_LIKE.search(text[:400])
    return phone.group(0).strip() if phone is not None else None


def read_details(text: str, region: str | None, *, asked: bool = False) -> ContactDetails:
    phone, email = find_phone(text, region), find_email(text)
    # The name is read from what is left once the address and number are out of the way:
    # "Claire Martin claire.martin@example.fr" is a name and an e-mail, with no comma between.
    # A number or address that is not one ("John Smith 0612345678" at a Spanish business, a
    # French mobile without its +33) still leaves the name before it.
    rest = _PHONE_LIKE.sub(",", _EMAIL_CANDIDATE.sub(",", text[:400]))
    name = find_name(rest, asked=asked)
    if name is None and (phone or email):
        # "Lucía, lucia@example.com" unasked: a capitalised name before the contact details.
        parts = [p for p in re.split(r"[,;\n]", rest[:300]) if p.strip()]
        first = parts[0].split() if parts else []
        if 1 <= len(first) <= 3 and all(w[:1].isupper() for w in first):
            name = find_name(" ".join(first), asked=True)
    return ContactDetails(name=name, phone=phone, email=email)


# Someone else the visit is for: "for my husband (John)", "para mi madre", "pra minha filha",
# "pour ma mère", "für meinen Sohn", "per mia moglie" (folded). The relation is a word of the
# family or a friend: "for my 5 year old" is a child's age, read where services are.
_RELATIONS = (
    "husband|wife|son|daughter|mom|mum|mother|dad|father|partner|boyfriend|girlfriend|friend|"
    "brother|sister|grandma|grandmother|grandpa|grandfather|fiance|fiancee|"
    "marido|esposo|esposa|mujer|hijo|hija|madre|mama|padre|papa|novio|novia|pareja|amigo|"
    "amiga|hermano|hermana|abuela|abuelo|filho|filha|mae|pai|namorado|namorada|irmao|irma|"
    "avo|mari|femme|fils|fille|mere|pere|copain|copine|ami|amie|frere|soeur|conjoint|"
    "conjointe|mann|frau|sohn|tochter|mutter|vater|freund|freundin|bruder|schwester|"
    "marito|moglie|figlio|figlia|mamma|ragazzo|ragazza|amico|amica|fratello|sorella|nonna|"
    "nonno"
)
_FOR_SOMEONE = re.compile(
    r"\b(?:for my|para mi|para mis|pra minha|pra meu|pro meu|para a minha|para o meu|para minha|"
    r"para meu|pour mon|pour ma|fur meinen|fur meine|fur mein|per mio|per mia|per il mio|"
    r"per la mia)\s(?:(?:little|older|younger|pequeno|pequena|petit|petite|kleinen|kleine|"
    rf"piccolo|piccola)\s)?({_RELATIONS})\b"
)
# Their name, right after the relation or said outright ("his name is John", "se llama Juan").
_THEIR_NAME = re.compile(
    r"^[\s,]*(?:(?:his|her) name is|(?:el|ella) se llama|se llama|chama-se|se chama|"
    r"il s'appelle|elle s'appelle|er heisst|sie heisst|si chiama)?\s*([A-ZÀ-Ý][\w'-]{1,30})"
)


# "my mom wants a haircut", "mi hija quiere un corte", "minha filha quer", "ma fille
# voudrait", "meine Tochter möchte", "mia figlia vorrebbe": someone else's visit.
_SOMEONE_WANTS = re.compile(
    rf"\b(my|mi|minha|meu|mon|ma|mein|meine|mio|mia) ({_RELATIONS}) "
    r"(?:wants|would like|needs|is looking|quiere|quisiera|necesita|quer|queria|precisa|"
    r"veut|voudrait|a besoin|mochte|will|braucht|vuole|vorrebbe|ha bisogno)\b"
)
_FOR_WORD = {
    "my": "for", "mi": "para", "minha": "para", "meu": "para", "mon": "pour", "ma": "pour",
    "mein": "für", "meine": "für", "mio": "per", "mia": "per",
}  # fmt: skip
# "can i book my wife in", "get my son in": English says it without "for".
_BOOK_SOMEONE_IN = re.compile(rf"\b(?:book|get|fit|squeeze)(?: in)? (my ({_RELATIONS}))\b")


def for_someone(text: str) -> str | None:
    """Who the visit is for when the visitor books for someone else, in their words ("for my
    husband John", "para mi madre"); None when the message does not say so."""
    text = text[:400]
    folded = fold(text)
    found = _FOR_SOMEONE.search(folded)
    # The visitor's own spelling where folding kept the length (accents only), else folded.
    source = text if len(folded) == len(text) else folded
    if found is None:
        booked_in = _BOOK_SOMEONE_IN.search(folded)
        if booked_in is not None:
            said = "for " + source[booked_in.start(1) : booked_in.end(1)]
            return _with_name(source, said, booked_in)
        wants = _SOMEONE_WANTS.search(folded)
        if wants is None:
            return None
        # "my mom wants a haircut", "mi hija quiere...": for them, said as the visitor's
        # language says "for" ("para mi hija").
        lead = _FOR_WORD[wants.group(1)]
        said = f"{lead} {source[wants.start(1) : wants.end(2)]}"
        return _with_name(source, said, wants, after=wants.end())
    return _with_name(source, source[found.start() : found.end()], found)


def _with_name(source: str, said: str, found: re.Match[str], after: int | None = None) -> str:
    end = found.end() if after is None else after
    name = _THEIR_NAME.match(source[end : end + 60]) if after is None else None
    if name is None:  # "... for my husband tomorrow at 10? his name is john"
        name = _NAMED_LATER.search(source[end:])
    if name is not None and not _chat_word(name.group(1)):
        said += f" {name.group(1)[:1].upper()}{name.group(1)[1:]}"
    return said.strip()


_NAMED_LATER = re.compile(
    r"(?i:(?:his|her) name is|(?:el|ella) se llama|se chama|chama-se|il s'appelle|"
    r"elle s'appelle|er heisst|er heißt|sie heisst|sie heißt|si chiama)\s+([\w'-]{2,30})"
)
