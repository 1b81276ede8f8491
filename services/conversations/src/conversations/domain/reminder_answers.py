"""Reading a visitor's answer to a reminder: confirm, cancel, change, or none of those.

A reminder tells the visitor how to answer: WhatsApp quick-reply buttons (payload
`reminder:<answer>:<booking id>`), "C" / "X" on SMS (the word CANCEL would opt the number
out at Twilio), and the words in the visitor's language elsewhere. Anything longer or mixed
is not an answer here: the agent reads it as it reads any message.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

Answer = Literal["confirm", "cancel", "change"]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_PAYLOAD = re.compile(r"^reminder:(confirm|cancel|change):(\S+)$")
_LETTERS: dict[str, Answer] = {"c": "confirm", "x": "cancel"}
_WORDS: dict[Answer, frozenset[str]] = {
    "confirm": _words(
        # en es pt fr de it
        "yes yep yeah ok okay sure confirm confirmed confirming "
        "si confirmo confirmar confirmado confirmada claro vale "
        "sim confirma certo "
        "oui confirme confirmer confirmee d'accord "
        "ja bestatigen bestatige bestatigt jawohl "
        "confermo confermare confermato confermata certo va bene"
    ),
    "cancel": _words(
        "cancel cancelled canceled cancelling "
        "cancelar cancela cancelo anular anula "
        "cancelo desmarcar "
        "annuler annule annulez "
        "absagen absage stornieren storniere storno "
        "annulla annullare annullo disdire disdico"
    ),
    "change": _words(
        "change reschedule move rebook "
        "cambiar cambio cambia mover reprogramar "
        "mudar muda alterar remarcar "
        "changer change deplacer reporter "
        "andern anderung verschieben umbuchen "
        "cambiare cambia spostare sposta"
    ),
}
# Whole phrases that say "I will not come".
_CANNOT_COME = (
    "can't make it",
    "cant make it",
    "cannot make it",
    "can't come",
    "cannot come",
    "won't make it",
    "wont make it",
    "won't be able to make it",
    "no puedo ir",
    "no podre ir",
    "no voy a poder ir",
    "no voy a poder asistir",
    "nao posso ir",
    "nao vou poder ir",
    "je ne peux pas venir",
    "je ne pourrai pas venir",
    "ich kann nicht kommen",
    "ich schaffe es nicht",
    "non posso venire",
    "non riesco a venire",
)
_NEGATIONS = _words("not don't dont no nao ne pas nicht kein keine non")
_FILLER = _words(
    "i i'd id want to would like please pls the my it a an appointment booking "
    "quiero quisiera por favor la el mi cita reserva "
    "quero gostaria de o a minha marcacao "
    "je voudrais veux s'il vous plait svp le la mon rendez-vous rdv "
    "ich mochte will bitte den termin meinen "
    "voglio vorrei per favore il mio la appuntamento prenotazione "
    "thanks thank you gracias obrigado obrigada merci danke grazie"
)
MAX_WORDS = 8


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return plain.replace("\u2019", "'").strip()


def payload_booking(text: str) -> str | None:
    """The booking a tapped reminder button names (`reminder:<answer>:<booking id>`)."""
    payload = _PAYLOAD.match(text.strip())
    return payload[2] if payload else None


def reminder_answer(text_or_payload: str) -> Answer | None:
    """confirm / cancel / change for a short, unambiguous answer (six languages, the SMS
    letters, the WhatsApp button payloads); None for anything else."""
    raw = text_or_payload.strip()
    payload = _PAYLOAD.match(raw)
    if payload:
        return payload[1]  # type: ignore[return-value]
    text = _plain(raw)
    if not text:
        return None
    if text.strip(" .!") in _LETTERS:
        return _LETTERS[text.strip(" .!")]
    if any(phrase in text for phrase in _CANNOT_COME):
        return "cancel"
    words = [w.strip(".,!?;:()\"'") for w in re.split(r"[\s,]+", text)]
    words = [w for w in words if w]
    if not words or len(words) > MAX_WORDS:
        return None
    found = {answer for answer, vocabulary in _WORDS.items() if vocabulary & set(words)}
    if len(found) != 1 or _NEGATIONS & set(words):
        return None
    (answer,) = found
    leftover = [
        w for w in words if w not in _WORDS[answer] and w not in _FILLER and w not in _NEGATIONS
    ]
    # "yes but tomorrow at 5" is a change of plan, not a bare confirmation: the agent reads it.
    return answer if len(leftover) <= 1 else None
