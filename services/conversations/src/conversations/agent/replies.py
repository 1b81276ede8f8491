# ruff: noqa: E501  (a phrasebook reads best one phrase per line)
"""What the built-in agent says, in English, Spanish and Portuguese, in four tones; and the
rules every reply obeys whoever wrote it: local times with day name and date, and per-channel
length caps."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

_DAYS = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
    "pt": (
        "segunda-feira",
        "terça-feira",
        "quarta-feira",
        "quinta-feira",
        "sexta-feira",
        "sábado",
        "domingo",
    ),
}
_MONTHS = {
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    "es": (
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ),
    "pt": (
        "janeiro",
        "fevereiro",
        "março",
        "abril",
        "maio",
        "junho",
        "julho",
        "agosto",
        "setembro",
        "outubro",
        "novembro",
        "dezembro",
    ),
}


def format_slot(start: datetime, zone: ZoneInfo, lang: str = "en") -> str:
    """ "Wednesday 2 December 2026, 10:00" in the workspace's timezone, never UTC digits."""
    local = start.astimezone(zone)
    lang = lang if lang in _DAYS else "en"
    day = _DAYS[lang][local.weekday()]
    month = _MONTHS[lang][local.month - 1]
    clock = f"{local.hour:02d}:{local.minute:02d}"
    if lang == "en":
        return f"{day} {local.day} {month} {local.year}, {clock}"
    return f"{day} {local.day} de {month} de {local.year}, {clock}"


def format_now(now: datetime, lang: str = "en") -> str:
    return format_slot(
        now, now.tzinfo if isinstance(now.tzinfo, ZoneInfo) else ZoneInfo("UTC"), lang
    )


# Characters per message a channel takes (provider limits, SMS kept to two segments).
CHANNEL_LIMITS = {
    "sms": 320,
    "whatsapp": 1600,
    "instagram": 1000,
    "messenger": 2000,
    "phone": 600,
    "chatgpt": 4000,
    "web": 4000,
}


def cap(text: str, channel: str) -> str:
    """Cut at the channel's limit on a line or word boundary, marking the cut."""
    limit = CHANNEL_LIMITS.get(channel, 1000)
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    boundary = max(cut.rfind("\n"), cut.rfind(" "))
    return (cut[:boundary] if boundary > limit // 2 else cut).rstrip() + "…"


_GREETINGS = {
    "en": {
        "friendly": "Hi there! 👋 Welcome to {name}.",
        "professional": "Hello, and thank you for contacting {name}.",
        "casual": "Hey! This is {name}.",
        "formal": "Good day. You have reached {name}.",
    },
    "es": {
        "friendly": "¡Hola! 👋 Bienvenido a {name}.",
        "professional": "Hola, gracias por contactar con {name}.",
        "casual": "¡Hey! Aquí {name}.",
        "formal": "Buenos días. Le atiende {name}.",
    },
    "pt": {
        "friendly": "Olá! 👋 Bem-vindo a {name}.",
        "professional": "Olá, obrigado por contatar {name}.",
        "casual": "Oi! Aqui é {name}.",
        "formal": "Bom dia. O senhor contatou {name}.",
    },
}

_PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "pick_service": "Which service would you like? Reply with the number or the name:",
        "pick_slot": "Free times for {service} (times in {tz}):",
        "pick_slot_hint": "Reply with the number, or tell me another day or time.",
        "full": "Sorry, {days} is fully booked for {service}. The nearest free times (in {tz}):",
        "none": "Sorry, I found no free time for {service} in the next weeks.",
        "exact": "{slot} is free for {service}. Shall I book it? Reply yes, or pick another:",
        "booked": "Done! ✅ You're booked for {service} on {slot} ({tz}).",
        "moved": "Done! ✅ Your {service} is moved to {slot} ({tz}).",
        "taken": "Sorry, {slot} was just taken. Other free times for {service}:",
        "cancelled": "Your {service} on {slot} is cancelled.",
        "no_booking": "I don't see a booking of yours in this conversation.",
        "already": "You're already booked for {service} on {slot} ({tz}). Want to move or cancel it?",
        "which_new": "Sure, let's move it. Free times for {service} (in {tz}):",
        "not_understood": "Sorry, I didn't get that.",
        "handoff": "I'm passing you to a person from {name}; they will answer here as soon as they can.",
        "trouble": "Sorry, I can't check the calendar right now. A person from {name} will answer you here shortly.",
        "no_connector": "Online booking isn't available right now. A person from {name} will answer you here shortly.",
        "scope": "I can only help with appointments at {name}: services, free times, booking, moving or cancelling your own booking.",
        "thanks": "You're welcome! Anything else I can do for you?",
        "no_services": "I can't find any bookable service right now. A person from {name} will answer you here shortly.",
        "ask_which": "Which one? Reply with its number.",
        "no_more": "No problem. Pick another time from the list, or tell me a day:",
    },
    "es": {
        "pick_service": "¿Qué servicio te interesa? Responde con el número o el nombre:",
        "pick_slot": "Horarios libres para {service} (hora de {tz}):",
        "pick_slot_hint": "Responde con el número, o dime otro día u hora.",
        "full": "Lo siento, {days} está completo para {service}. Los horarios libres más cercanos ({tz}):",
        "none": "Lo siento, no encontré horarios libres para {service} en las próximas semanas.",
        "exact": "{slot} está libre para {service}. ¿Lo reservo? Responde sí, o elige otro:",
        "booked": "¡Listo! ✅ Tienes reservado {service} el {slot} ({tz}).",
        "moved": "¡Listo! ✅ Tu {service} queda cambiado al {slot} ({tz}).",
        "taken": "Lo siento, {slot} se acaba de ocupar. Otros horarios libres para {service}:",
        "cancelled": "Tu {service} del {slot} está cancelado.",
        "no_booking": "No veo ninguna reserva tuya en esta conversación.",
        "already": "Ya tienes {service} el {slot} ({tz}). ¿Quieres cambiarlo o cancelarlo?",
        "which_new": "Claro, cambiémoslo. Horarios libres para {service} ({tz}):",
        "not_understood": "Perdona, no te he entendido.",
        "handoff": "Te paso con una persona de {name}; te responderá aquí lo antes posible.",
        "trouble": "Lo siento, ahora no puedo consultar la agenda. Una persona de {name} te responderá aquí en breve.",
        "no_connector": "La reserva en línea no está disponible ahora. Una persona de {name} te responderá aquí en breve.",
        "scope": "Solo puedo ayudarte con citas en {name}: servicios, horarios libres, reservar, cambiar o cancelar tu propia reserva.",
        "thanks": "¡De nada! ¿Te ayudo con algo más?",
        "no_services": "Ahora no encuentro servicios reservables. Una persona de {name} te responderá aquí en breve.",
        "ask_which": "¿Cuál? Responde con su número.",
        "no_more": "Sin problema. Elige otro horario de la lista, o dime un día:",
    },
    "pt": {
        "pick_service": "Qual serviço você deseja? Responda com o número ou o nome:",
        "pick_slot": "Horários livres para {service} (horário de {tz}):",
        "pick_slot_hint": "Responda com o número, ou me diga outro dia ou horário.",
        "full": "Desculpe, {days} está lotado para {service}. Os horários livres mais próximos ({tz}):",
        "none": "Desculpe, não encontrei horários livres para {service} nas próximas semanas.",
        "exact": "{slot} está livre para {service}. Posso reservar? Responda sim, ou escolha outro:",
        "booked": "Pronto! ✅ Seu {service} está marcado para {slot} ({tz}).",
        "moved": "Pronto! ✅ Seu {service} foi remarcado para {slot} ({tz}).",
        "taken": "Desculpe, {slot} acabou de ser ocupado. Outros horários livres para {service}:",
        "cancelled": "Seu {service} de {slot} foi cancelado.",
        "no_booking": "Não vejo nenhuma reserva sua nesta conversa.",
        "already": "Você já tem {service} em {slot} ({tz}). Quer remarcar ou cancelar?",
        "which_new": "Claro, vamos remarcar. Horários livres para {service} ({tz}):",
        "not_understood": "Desculpe, não entendi.",
        "handoff": "Vou passar você para uma pessoa de {name}; ela responderá aqui assim que puder.",
        "trouble": "Desculpe, não consigo consultar a agenda agora. Uma pessoa de {name} responderá aqui em breve.",
        "no_connector": "O agendamento online não está disponível agora. Uma pessoa de {name} responderá aqui em breve.",
        "scope": "Só posso ajudar com agendamentos em {name}: serviços, horários livres, marcar, remarcar ou cancelar a sua própria reserva.",
        "thanks": "De nada! Posso ajudar em algo mais?",
        "no_services": "Não encontro serviços disponíveis agora. Uma pessoa de {name} responderá aqui em breve.",
        "ask_which": "Qual? Responda com o número.",
        "no_more": "Sem problema. Escolha outro horário da lista, ou me diga um dia:",
    },
}

# Formal and professional tones drop the emoji; casual shortens the sign-off.
_TONE_SUFFIX = {
    "en": {"friendly": " 😊", "professional": "", "casual": " 🙌", "formal": ""},
    "es": {"friendly": " 😊", "professional": "", "casual": " 🙌", "formal": ""},
    "pt": {"friendly": " 😊", "professional": "", "casual": " 🙌", "formal": ""},
}


def greeting(lang: str, tone: str, name: str, custom: str | None = None) -> str:
    if custom:
        return custom.replace("{name}", name)
    table = _GREETINGS.get(lang, _GREETINGS["en"])
    return table.get(tone, table["friendly"]).format(name=name)


def say(lang: str, key: str, tone: str = "friendly", **values: str) -> str:
    table = _PHRASES.get(lang, _PHRASES["en"])
    text = table[key].format(**values)
    if key in ("booked", "moved", "thanks"):
        text += _TONE_SUFFIX.get(lang, _TONE_SUFFIX["en"]).get(tone, "")
    if tone in ("formal", "professional"):
        text = text.replace("✅ ", "").replace("👋 ", "")
    return text


def numbered(lines: list[str]) -> str:
    return "\n".join(f"{i}. {line}" for i, line in enumerate(lines, 1))


def handoff_notice(lang: str, name: str) -> str:
    return say(lang, "handoff", name=name)
