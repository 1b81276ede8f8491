"""What a visitor means besides a time: yes, no, thanks, a person, cancel, move, a question
about the business, or a pick from the list they were shown.

No library has these for chat in six languages, so they are here: short word sets and emoji,
matched on folded words (linear, no backtracking patterns over visitor text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time
from functools import cache, lru_cache
from typing import Literal

from rapidfuzz import fuzz

from conversations.agent.words.text import NUMBER_WORDS, fold, words

_INTERJECTIONS = {"oh", "ohh", "ah", "ahh", "aah", "uh", "um", "umm", "hm", "hmm", "mm", "eh",
                  "ehm", "ahn", "aha", "ahja", "achso", "ach"}  # fmt: skip
_YES = {
    "yes", "yeah", "yep", "yup", "ya", "yh", "sure", "ok", "okay", "okey", "k", "kk", "perfect",
    "great", "confirm", "confirmed", "please", "absolutely", "definitely",
    "si", "claro", "vale", "dale", "perfecto", "genial", "confirmo", "bueno", "obvio", "sip",
    "sim", "pode", "isso", "perfeito", "combinado", "confirmado", "certo", "beleza", "fechado",
    "oui", "ouais", "parfait", "d'accord", "dacc", "exactement", "volontiers", "nickel", "impec",
    "impeccable", "top", "bet",
    "ja", "jo", "jap", "jawohl", "gerne", "genau", "passt", "perfekt", "klar", "einverstanden",
    "perfetto", "va", "bene", "esatto", "confermo", "certamente", "volentieri",
}  # fmt: skip
_YES_PHRASES = (
    "do it", "go ahead", "sounds good", "that works", "works for me", "book it", "de acuerdo",
    "me sirve", "me va bien", "pode ser", "pode marcar", "ca marche", "c'est bon",
    "in ordnung", "geht klar", "va bene", "mi va bene",
)  # fmt: skip
_NO = {
    "no",
    "nope",
    "nah",
    "nao",
    "non",
    "nein",
    "niente",
    "negative",
    "neither",
}
_NO_PHRASES = (
    "not really",
    "mejor no",
    "agora nao",
    "pas vraiment",
    "lieber nicht",
    "meglio di no",
)
# Dropping it: "no thanks, forget it", "déjalo", "laisse tomber", "lascia perdere".
_DROP = (
    "never mind",
    "nevermind",
    "nvm",
    "forget it",
    "dejalo",
    "olvidalo",
    "deixa pra la",
    "esquece",
    "laisse tomber",
    "laissez tomber",
    "vergiss es",
    "lass mal",
    "lascia perdere",
    "lascia stare",
)
_THANKS = {
    "thanks", "thank", "thx", "ty", "cheers", "gracias", "obrigado", "obrigada", "valeu",
    "merci", "danke", "dankeschon", "grazie",
}  # fmt: skip
_BYE = (
    "see you", "see ya", "bye", "hasta luego", "nos vemos", "hasta pronto", "adios", "chau",
    "ate logo", "ate mais", "tchau", "a bientot", "au revoir", "a plus", "bis dann", "bis bald",
    "tschuss", "ciao", "a presto", "arrivederci", "ci vediamo",
)  # fmt: skip
_ACK = {"cool", "nice", "awesome", "lovely", "brilliant", "noted", "alright", "great", "top",
        "genial", "guay", "chevere", "legal", "otimo", "show", "massa", "super", "entendido",
        "entendi", "compris", "verstanden", "capito", "prima", "toll", "ottimo",
        "perfecto", "perfeito", "parfait", "perfekt", "perfetto", "ok", "okay", "vale"}  # fmt: skip
_ACK_EMOJI = frozenset("👍👌🙏🙂😊😀😁😄☺✅💯🙌👏❤♥💪🤝✨🥰😍🤗")
_NO_EMOJI = frozenset("👎❌🚫")
_GREETING = {
    "hi", "hello", "hey", "hiya", "howdy", "yo", "hola", "buenas", "buenos", "ola", "oi",
    "bonjour", "salut", "bonsoir", "coucou", "hallo", "servus", "moin", "ciao", "buongiorno",
    "buonasera", "salve",
}  # fmt: skip

_MY = {"my", "mi", "mis", "meu", "minha", "mon", "ma", "mes", "mein", "meine", "meinen", "mio",
       "mia", "i'm", "soy", "sou", "je", "ich", "sono"}  # fmt: skip

# "anyone there?", "¿hay alguien?", "quelqu'un ?": checking that somebody reads.
_PRESENCE = {"anyone", "anybody", "there", "is", "are", "you", "alguien", "hay", "ahi",
             "alguem", "ai", "tem", "quelqu'un", "jemand", "da", "qualcuno", "c'e"}  # fmt: skip

# Asking for a person: a request ("talk to", "can I speak with") about a person, or a person
# named alone ("human please").
_PERSON = {
    "human", "person", "someone", "somebody", "operator", "representative", "agent", "staff",
    "manager", "owner", "receptionist", "people", "humano", "persona", "alguien", "encargado",
    "encargada", "dueno", "duena", "recepcion", "pessoa", "alguem", "atendente", "responsavel",
    "dono", "dona", "humain", "quelqu'un", "personne", "conseiller", "responsable",
    "proprietaire", "mensch", "jemand", "mitarbeiter", "mitarbeiterin", "inhaber", "chef",
    "umano", "qualcuno", "operatore", "titolare", "responsabile",
    # declined and plural: "mit einem Menschen", "mit jemandem", "hablar con personas"
    "menschen", "jemandem", "jemanden", "humans", "persons", "personas", "pessoas", "persone",
    "humana", "humanos",
}  # fmt: skip
# The one who does the work: asked to talk to ("quiero hablar con el dentista", "can I speak to
# the yoga teacher?"), a person; named alone ("dentist please"), likely a booking.
_ROLES = {
    "dentist", "doctor", "dr", "teacher", "instructor", "barber", "hairdresser", "stylist",
    "consultant", "therapist", "dentista", "doctora", "medico", "medica", "profesor",
    "profesora", "peluquero", "peluquera", "barbero", "consultor", "consultora",
    "professor", "professora", "instrutor", "instrutora", "barbeiro", "cabeleireiro",
    "cabeleireira", "dentiste", "docteur", "medecin", "professeur", "prof", "coiffeur",
    "coiffeuse", "consultante", "zahnarzt", "zahnarztin", "arzt", "arztin", "lehrer",
    "lehrerin", "trainer", "trainerin", "friseur", "friseurin", "berater", "beraterin",
    "dottore", "dottoressa", "insegnante", "maestro", "maestra", "parrucchiere", "barbiere",
    "consulente",
}  # fmt: skip
_TALK = {
    "talk", "speak", "chat", "call", "connect", "transfer", "reach", "contact", "hablar",
    "comunicarme", "llamar", "pasame", "pasar", "falar", "ligar", "passa", "transferir",
    "parler", "appeler", "passer", "sprechen", "reden", "verbinden", "anrufen", "parlare",
    "chiamare", "passare", "contattare", "put", "through", "get",
}  # fmt: skip
_REQUEST = {"need", "want", "quiero", "necesito", "quero", "preciso", "veux", "voudrais",
            "brauche", "mochte", "will", "voglio", "vorrei", "bisogno"}  # fmt: skip
_REAL = (
    "real person", "actual person", "a human", "persona real", "pessoa de verdade",
    "vraie personne", "echte person", "persona vera", "not a bot", "no eres un bot",
)  # fmt: skip

# Asking to be called back: only a person can ("can you call me back?", "me podéis llamar?",
# "bitte um Rückruf").
_CALL_ME = (
    "call me", "call back", "callback", "ring me", "give me a call", "llamadme", "llamame",
    "me llamen", "me llamais", "me llamas", "me podeis llamar", "me puedes llamar",
    "me pueden llamar", "me liga", "me ligar", "me ligue", "me ligam", "ligar pra mim",
    "ligar para mim", "me rappeler", "rappelez moi", "me rappelle", "me rappeliez",
    "ruckruf", "zuruckrufen", "rufen sie mich", "ruft mich", "mich anrufen",
    "mich zuruckrufen", "chiamatemi", "richiamatemi", "mi chiamate", "mi richiamate",
    "mi potete chiamare", "mi puoi chiamare", "mi chiami", "mi richiami",
)  # fmt: skip

_CANCEL = {"cancel", "cancelled", "canceled", "cancellation", "cancelar", "cancela", "cancele",
           "cancelen", "canceles",
           "anular", "anula", "anule", "anulen", "anulad", "desmarcar", "annuler", "annule",
           "annulez", "absagen", "stornieren",
           "storno", "annullare", "annulla", "disdire", "disdetta"}  # fmt: skip
# Cancelling said outright, beside a question about the policy ("please cancel it, do you
# charge for cancelling this late?"): a cancel as well as the question.
_CANCEL_IT = (
    "cancel it", "please cancel", "cancel my", "cancel the appointment", "cancel the booking",
    "cancelala", "cancelalo", "cancela mi", "cancelar mi", "quiero cancelar", "cancela la",
    "cancela o", "cancela a", "quero cancelar", "cancelar minha", "cancelar meu",
    "annulez", "annulez le", "je veux annuler", "annuler mon", "bitte stornieren",
    "bitte absagen", "stornieren sie", "sagen sie ab", "annulla", "voglio annullare",
    "voglio disdire", "disdici",
)  # fmt: skip
# "don't cancel", "no need to cancel", "não cancela", "ne pas annuler", "nicht absagen", "non
# annullare": a cancel word right after a negation, or with such small words between; "no,
# cancel it" has a comma and "no puedo ir cancela" a verb between: both are cancels.
_NEGATION = re.compile(
    r"\b(?:don't|dont|do not|not|never|no|nao|pas|nicht|kein|non|nunca|jamais|mai)"
    r"((?: (?:want|wanna|you|to|need|me|la|lo|le|les|te|a|o|it|please|quiero|quero|veux|"
    r"voglio|bitte|mi))* [a-z']{1,16})"
)
# Second thoughts that keep the booking: "cancel it... no wait, actually keep it".
# Written to the wrong business ("wrong number", "me equivoqué de número", "falsche Nummer").
_WRONG_NUMBER = (
    "wrong number", "wrong person", "wrong chat", "numero equivocado", "numero incorrecto",
    "equivoque de numero", "numero errado", "engano de numero", "mauvais numero", "faux numero",
    "trompe de numero", "falsche nummer", "verwahlt", "numero sbagliato", "sbagliato numero",
    # "that's not me", to a reminder or a booking named to them
    "that's not me", "thats not me", "it's not me", "its not me", "no soy yo", "nao sou eu",
    "ce n'est pas moi", "c'est pas moi", "das bin ich nicht", "das bin nicht ich",
    "non sono io",
)  # fmt: skip
_KEEP = (
    "keep it", "keep my", "keep the", "i'll keep", "la mantengo", "lo mantengo", "mantenla",
    "mantenerla", "prefiero mantener", "vou manter", "pode manter", "mantem", "je la garde",
    "je le garde", "je garde", "gardez", "behalte", "behalten", "lo tengo", "la tengo",
    "mantenere", "mantienilo", "mantienila",
)  # fmt: skip


def _negated_cancel(folded: str) -> bool:
    return any(_with_clitics(m.group(1).split()) & _CANCEL for m in _NEGATION.finditer(folded))


_MOVE = {"reschedule", "move", "change", "postpone", "rebook", "push", "cambiar", "cambia", "mover",
         "reprogramar", "remarcar", "mudar", "alterar", "trocar", "deplacer", "decaler",
         "changer", "reporter", "verschieben", "andern", "umbuchen", "spostare", "sposta",
         "cambiare", "rimandare"}  # fmt: skip
_BOOK = {"book", "booking", "appointment", "appt", "reserve", "reservation", "schedule", "slot",
         "available", "availability", "free", "reservar", "reserva", "cita", "turno", "hueco",
         "disponible", "marcar", "agendar", "agendamento", "horario", "vaga", "reserver",
         "rendez", "rdv", "creneau", "dispo", "termin", "buchen", "reservieren",
         "frei", "prenotare", "prenotazione", "appuntamento", "posto", "libero"}  # fmt: skip

_INJECTION = re.compile(
    r"(ignore (all |the |your |any )?(previous|prior|above|earlier)|system prompt|"
    r"your (instructions|rules|prompt)|instrucciones|instrucoes|reveal|developer mode|jailbreak|"
    r"other (visitors|customers|clients|users)|otros (clientes|visitantes)|"
    r"outros (clientes|visitantes)|autres clients|andere kunden|altri clienti|"
    r"workspace[_ -]?id|another (workspace|business)|otro negocio|outra empresa|act as|"
    r"you are now|pretend (to be|you)|oublie|vergiss (alle|deine|die|was)|dimentica)"
)

Topic = Literal[
    "price", "duration", "hours", "horizon", "address", "payment", "cancellation", "lateness",
    "deposit", "contact", "services", "about",
]  # fmt: skip
_TOPICS: dict[Topic, tuple[str, ...]] = {
    "price": ("how much", "price", "prices", "cost", "costs", "rate", "rates", "fee", "charge",
              "cuanto cuesta", "cuanto sale", "cuanto vale", "cuanto es", "precio", "precios",
              "cuesta", "tarifa", "quanto custa", "quanto e", "quanto fica", "preco", "precos",
              "valor", "custa", "combien", "prix", "tarif", "coute", "wie viel", "wieviel",
              "kostet", "preis", "preise", "kosten", "quanto costa", "quanto viene", "prezzo",
              "prezzi", "costa", "free of charge", "for free", "gratis", "gratuito",
              # which costs less: "which is cheaper, a haircut or haircut and beard?"
              "cheaper", "cheapest", "more expensive", "mas barato", "mas caro", "mais barato",
              "mais caro", "moins cher", "plus cher", "billiger", "teurer", "gunstiger",
              "meno caro", "piu caro", "piu economico",
              "gratuita", "gratuit", "gratuite", "kostenlos", "umsonst"),
    "duration": ("how long", "duration", "take long", "takes", "cuanto dura", "cuanto tiempo",
                 "duracion", "dura", "quanto tempo", "quanto dura", "duracao", "demora",
                 "combien de temps", "duree", "dure", "wie lange", "dauer", "dauert",
                 "durata"),
    "hours": ("open", "opening", "hours", "close", "closing", "closed", "horarios",
              "abren", "abris", "abre", "abierto", "abiertos", "cierran", "cerrais", "abrem",
              "atienden", "atendeis", "atendem",
              "aberto", "fecham",
              "funcionamento", "ouvert", "ouverts", "ouvrez", "horaires", "ferme", "fermez",
              "offnungszeiten", "geoffnet", "offen", "auf", "geschlossen", "aperto", "aperti",
              "orari", "orario", "chiuso", "chiudete", "aprite"),
    # How far ahead bookings open (read before "deposit", whose "in advance" it shares).
    "horizon": ("how far in advance", "how far ahead", "how many days ahead",
                "how far out", "con cuanta antelacion", "con cuanto tiempo de antelacion",
                "com quanta antecedencia", "com quanto tempo de antecedencia",
                "combien de temps a l'avance", "combien de jours a l'avance",
                "wie weit im voraus", "wie lange im voraus", "con quanto anticipo",
                "quanto tempo prima"),
    "address": ("where", "address", "location", "located", "find you", "directions", "map",
                "donde", "direccion", "ubicacion", "ubicados", "onde", "endereco",
                "localizacao", "perto do", "perto de", "near the", "near you", "pres de",
                "in der nahe", "vicino a", "vicino al", "ou etes", "etes ou", "c'est ou",
                "se trouve", "vous trouver", "adresse", "wo", "adresse",
                "anfahrt", "dove", "dov'e", "indirizzo", "trovate"),
    "payment": ("pay", "payment", "card", "cards", "cash", "credit", "visa", "apple pay",
                "pagar", "pago", "tarjeta", "efectivo", "pagamento", "cartao", "dinheiro",
                "pix", "payer", "paiement", "carte", "especes", "cb", "zahlen", "bezahlen",
                "karte", "bar", "ec", "pagare", "pagamento", "carta", "contanti", "bancomat"),
    "cancellation": ("cancellation policy", "cancel policy", "if i cancel", "politica de "
                     "cancelacion", "si cancelo", "politica de cancelamento", "se eu cancelar",
                     "politique d'annulation", "si j'annule", "stornobedingungen",
                     "wenn ich absage", "politica di cancellazione", "se disdico",
                     "cancel for free", "free cancellation", "cancelar gratis",
                     "cancelar de graca", "delai d'annulation", "annuler gratuitement",
                     "kostenlos stornieren", "kostenlos absagen", "disdire gratis",
                     # a fee for cancelling: "do you charge for cancelling this late?"
                     "charge for cancelling", "charge for canceling", "charge for late",
                     "charge for a late", "charge for cancellations", "cancellation fee",
                     "cancellation fees", "fee for cancelling", "late cancellation",
                     "late cancellations", "cancelling late", "cobran por cancelar",
                     "cobrais por cancelar", "cobram para cancelar", "cobram por cancelar",
                     "frais d'annulation", "stornogebuhr", "penale di cancellazione"),
    "lateness": ("late", "running late", "llego tarde", "retraso", "atraso", "atrasado",
                 "chegar atrasado", "en retard", "retard", "verspatung", "verspate",
                 "zu spat", "ritardo", "in ritardo"),
    "deposit": ("deposit", "upfront", "pay in advance", "paid in advance", "prepay", "sena",
                "senal",
                "deposito", "adelanto", "anticipo", "sinal", "adiantado", "acompte", "arrhes",
                "anzahlung", "vorauszahlung", "caparra", "acconto"),
    "contact": ("phone number", "your number", "ur number", "your phone", "ur phone",
                "call you", "email", "e-mail", "telefono", "telefone",
                "numero de telefono", "correo", "telephone", "courriel", "telefonnummer",
                "telefono", "mail"),
    "services": ("what services", "which services", "what do you offer", "menu", "que servicios",
                 "servicios", "quais servicos", "servicos", "quels services", "prestations",
                 "welche leistungen", "leistungen", "quali servizi", "servizi"),
    # What a service is or includes ("what does the strategy session include?"): its
    # description, when a service is named or in talk.
    "about": ("include", "includes", "included", "involve", "involves", "what happens in",
              "que incluye", "incluye", "en que consiste", "que lleva", "o que inclui", "inclui",
              "em que consiste", "inclus", "comprend", "en quoi consiste", "enthalten",
              "beinhaltet", "umfasst", "cosa include", "cosa comprende", "in cosa consiste",
              # what the service is like for the visitor, which its description may say
              "how many people", "suitable", "beginner", "beginners", "difference between",
              "cuantas personas", "principiante", "principiantes", "apto para", "adecuado",
              "diferencia entre", "quantas pessoas", "iniciante", "iniciantes",
              "diferenca entre", "combien de personnes", "debutant", "debutants", "adapte",
              "difference entre", "wie viele personen", "wie viele leute", "anfanger",
              "geeignet", "unterschied zwischen", "quante persone", "principianti", "adatto",
              "adatta", "differenza tra"),
}  # fmt: skip
# How long before: with a word for cancelling, the cancellation policy is asked.
_NOTICE = (
    "how far in advance", "how long before", "how much notice", "how early",
    "con cuanta antelacion", "cuanto tiempo antes", "con cuanto tiempo",
    "com quanto tempo de antecedencia", "quanto tempo antes", "com quanta antecedencia",
    "combien de temps avant", "combien de temps a l'avance", "wie lange vorher",
    "wie kurzfristig", "wie fruh", "quanto tempo prima", "con quanto anticipo",
)  # fmt: skip


def _cancels(tokens: set[str]) -> bool:
    return bool(tokens & _CANCEL) or any(
        t.startswith(("disdi", "annul", "absag", "stornier", "desmarc", "cancel")) for t in tokens
    )


# Price words other than "free": with them a cancellation question also asks a price.
_PAID_WORDS = tuple(
    p for p in _TOPICS["price"]
    if p not in ("free of charge", "for free", "gratis", "gratuito", "gratuita", "gratuit",
                 "gratuite", "kostenlos", "umsonst", "combien")  # "combien de temps avant"
)  # fmt: skip
# How "is the discovery call free?" opens (not "is tuesday free?").
_ASKS_FREE = {("is", "the"), ("is", "it"), ("is", "that"), ("is", "this"), ("is", "a"),
              ("is", "your"), ("are", "the"), ("are", "your"), ("are", "they")}  # fmt: skip
# A question asked without its mark: "quería saber si puedo ir con mi perro".
_WONDERING = (
    "i wanted to know", "i was wondering", "wanted to ask", "queria saber", "quisiera saber",
    "queria preguntar", "gostaria de saber", "queria perguntar", "je voulais savoir",
    "je voudrais savoir", "ich wollte fragen", "ich wollte wissen", "volevo sapere",
    "vorrei sapere", "volevo chiedere",
)  # fmt: skip
_QUESTION_WORDS = {
    "what", "when", "where", "how", "which", "do", "does", "is", "are", "can", "could",
    "que", "cuando", "donde", "como", "cual", "cuanto", "tienen", "hay", "se", "puedo",
    "quando", "onde", "qual", "quanto", "voces", "tem", "posso", "quoi", "quand", "ou",
    "comment", "quel", "quelle", "combien", "est-ce", "avez", "peut", "was", "wann", "wie",
    "welche", "habt", "haben", "kann", "cosa", "quale", "dove", "avete",
}  # fmt: skip


# Open or closed, said outright ("vous êtes ouverts le samedi ?"); "horario" may ask for a
# slot instead ("tem horário sexta?"), so it is not among them.
_OPENING = {"open", "opening", "close", "closed", "closing", "abren", "abris", "abierto",
            "abiertos", "cerrais", "atienden", "atendeis", "atendem",
            "cierran", "abrem", "aberto", "abertos", "fecham", "ouvert", "ouverts", "ouvrez",
            "ferme", "fermez", "geoffnet", "offen", "geschlossen", "aperto", "aperti", "chiuso",
            "chiudete", "aprite",
            # the opening hours named as such: "che orari fate il sabato?", "Öffnungszeiten
            # am Samstag?", "horaires du samedi ?" ("orario", "horário" ask for a free time)
            "orari", "offnungszeiten", "horaires"}  # fmt: skip

_ASKS_WHEN = (
    "what time", "when is", "when was", "when's", "a que hora", "que hora", "que horas",
    "a que horas", "quando e", "quando era", "quelle heure", "c'est quand", "c etait quand",
    "wann", "um wie viel uhr", "a che ora", "che ora", "quando e",
    # "cuándo tenía la cita?", "quand est mon rdv ?", "quand'è il mio appuntamento?"
    "cuando es", "cuando era", "cuando tenia", "cuando tengo", "que dia era", "que dia es mi",
    "quand est", "quand etait", "quando tinha", "quando tenho", "quand'e", "quando ho",
    "quando avevo",
)  # fmt: skip

# The soonest free time, whatever it is ("earliest possible", "lo antes posible").
_EARLIEST = (
    "earliest", "soonest", "asap", "as soon as possible", "first available", "next available",
    "lo antes posible", "lo mas pronto", "cuanto antes", "el primer hueco", "lo primero que",
    "o quanto antes", "o mais cedo", "o mais rapido", "primeiro horario", "le plus tot",
    "au plus tot", "des que possible", "le premier creneau", "so fruh wie moglich",
    "fruhestens", "nachstmoglich", "fruhester", "fruhesten", "il prima possibile",
    "prima possibile", "al piu presto", "il primo posto",
    # the first time of the day named ("mañana a primera hora", "first thing monday")
    "first thing", "a primera hora", "primerita hora", "a primeira hora", "logo cedo",
    "bem cedinho", "a la premiere heure", "premiere heure", "a la premiere heure",
    "gleich morgens", "als erstes", "als erster", "come prima cosa", "per prima cosa",
    "di prima mattina", "prima mattina",
)  # fmt: skip
# Not making it to a booking, or wanting another time rather than it: with their booking in
# the talk, a move ("I booked tomorrow but can't make it, monday instead?").
_CANT_MAKE_IT = (
    "can't make it", "cannot make it", "can not make it", "won't make it", "cant make it",
    "can't come", "cant come", "cannot come", "won't be able to", "wont be able to",
    "no puedo ir", "no voy a poder", "no podre ir", "nao vou conseguir", "nao posso ir",
    "nao vou poder", "je ne pourrai pas", "je ne peux pas venir", "ich kann nicht kommen",
    "nicht kommen", "nicht schaffen",
    "ich schaffe es nicht", "non riesco a venire", "non posso venire",
)  # fmt: skip
# Ways to pay, named: with them a deposit question asks the methods too ("deposit by card?").
_METHODS = ("card", "cards", "cash", "credit", "visa", "apple pay", "tarjeta", "efectivo",
            "cartao", "dinheiro", "pix", "carte", "especes", "karte", "bar", "carta",
            "contanti", "bizum", "paypal", "transfer", "transferencia")  # fmt: skip
_GIFT_CARDS = ("gift card", "gift cards", "gift voucher", "gift certificate", "tarjeta regalo",
               "vale regalo", "cheque regalo", "cartao presente", "vale presente",
               "carte cadeau", "cheque cadeau", "gutschein", "geschenkgutschein",
               "buono regalo", "carta regalo")  # fmt: skip
# "late" of a part of the day, not of a visitor running late.
_LATE_PART = re.compile(r"\blate (?:morning|afternoon|evening|night)s?\b")
# Getting ready for a visit: when to arrive, what to bring, in the six languages.
_PREPARING = (
    "how early", "what do i need to bring", "what should i bring", "do i need to bring",
    "should i bring", "what to bring", "need to bring", "arrive early", "get there early",
    "que tengo que llevar", "que debo llevar", "tengo que llevar", "hay que llevar",
    "tengo que llegar", "debo llegar", "llegar antes", "o que preciso levar", "preciso levar",
    "tenho que levar", "devo chegar", "tenho que chegar", "chegar antes", "dois-je apporter",
    "faut-il apporter", "je dois apporter", "dois-je arriver", "arriver en avance",
    "mitbringen", "fruher da sein", "fruher kommen", "wann soll ich da sein",
    "devo portare", "cosa portare", "devo arrivare", "arrivare prima", "arrivare in anticipo",
)  # fmt: skip
# Several people at once ("can you fit 2 of us in?", "para mi hermano y para mí", "on est
# deux"): the visits are booked one at a time, which is said.
_PARTY = (
    "2 of us", "two of us", "both of us", "me and my", "my wife and i", "my husband and i",
    "my friend and i", "for two people", "for 2 people", "for 2 persons", "para dos",
    "para 2 personas", "para dos personas", "somos dos", "nosotros dos", "y yo", "y para mi",
    "para nos dois", "nos dois", "somos dois", "eu e meu", "eu e minha", "pra duas pessoas",
    "para duas pessoas", "pour deux", "a deux", "nous deux", "on est deux", "pour 2 personnes",
    "moi et mon", "moi et ma", "zu zweit", "fur zwei personen", "fur 2 personen", "wir zwei",
    "wir beide", "ich und mein", "ich und meine", "in due", "per due persone",
    "per 2 persone", "siamo in due", "io e mio", "io e mia",
)  # fmt: skip
# Their personal data asked about or to be deleted (GDPR, LGPD): the owner's to answer.
# (A verb with it: "meine Daten: Jonas, 0151..." gives them.)
_PRIVACY = (
    "delete my data", "delete all my data", "delete my details", "delete my information",
    "remove my data", "erase my data", "gdpr", "rgpd", "dsgvo", "lgpd",
    "borrar mis datos", "borreis mis datos", "borren mis datos", "eliminar mis datos",
    "elimineis mis datos", "apagar meus dados", "excluir meus dados", "apaguem meus dados",
    "supprimer mes donnees", "effacer mes donnees", "meine daten loschen", "daten loschen",
    "cancellare i miei dati", "eliminare i miei dati",
)  # fmt: skip
# Something left behind at the business ("i think i left my scarf there", "me dejé el
# paraguas", "esqueci meu casaco aí", "j'ai oublié mon écharpe chez vous"): only the owner can
# look. Not a number or details left with them ("i left my number last time").
_LEFT_BEHIND = re.compile(
    r"\b(?:left|forgot|lost) my (?!number|phone|email|e-mail|details|name|message|appointment|"
    r"booking)[a-z]+|\bme (?:deje|olvide) (?:el|la|mi|los|las|mis) (?!cita|turno|numero)[a-z]+|"
    r"\b(?:esqueci|deixei) (?:o|a|meu|minha|os|as) (?!horario|numero|marcacao)[a-z]+|"
    r"\bj'ai (?:oublie|laisse|perdu) (?:mon|ma|mes) (?!rendez|rdv|numero)[a-z]+|"
    r"\b(?:meinen|meine|mein) (?!termin)[a-z]+ (?:[a-z]+ ){0,3}(?:vergessen|liegen ?lassen|"
    r"liegengelassen)\b|"
    r"\bho (?:dimenticato|lasciato|perso) (?:il|la|lo|i|le|mio|mia) (?!appuntamento|numero)[a-z]+"
)
# Praise for a visit ("the haircut was great!", "me encantó el corte"): thanks, not a booking.
_PRAISE = (
    "was great", "was amazing", "was perfect", "was awesome", "looks great", "love it",
    "loved it", "love my", "best haircut", "estuvo genial", "quedo genial", "quedo perfecto",
    "me encanto", "me encanta como", "ficou otimo", "ficou lindo", "ficou perfeito", "amei",
    "adorei", "c'etait super", "c'etait parfait", "j'adore", "war super", "war toll",
    "ist super geworden", "toll geworden", "era perfetto", "mi e piaciuto", "bellissimo",
)  # fmt: skip
_ANOTHER = (
    "another one", "one more", "another for", "the same for", "same for", "otra para",
    "otro para", "otra igual", "otro igual", "uno mas", "una mas", "outro para", "outra para",
    "mais um", "mais uma", "un autre", "une autre", "encore un", "encore une", "noch einen",
    "noch eine", "noch einmal", "un altro", "un'altra", "ancora uno", "ancora una",
)  # fmt: skip
# Coming without a booking, and how long one waits there ("do you take walk ins?", "se puede
# ir sin cita?", "how long is the wait right now?"): for the business's own answers, not a
# booking, nor the length of a service.
_NO_BOOKING = (
    "walk in", "walk-in", "walk ins", "walkins", "walk-ins", "without an appointment",
    "without appointment", "without booking", "without a booking", "sin cita", "sin reserva",
    "sin turno", "sem marcacao", "sem marcar", "sem agendamento", "sem horario",
    "sans rendez-vous", "sans rdv", "sans reservation", "ohne termin", "ohne anmeldung",
    "senza appuntamento", "senza prenotazione", "the wait", "wait time", "waiting time",
    "tiempo de espera", "hay espera", "tempo de espera", "temps d'attente", "wartezeit",
    "tempo di attesa", "tempo d'attesa",
)  # fmt: skip
# Straight after a booking: "right after", "justo después", "logo depois", "juste après",
# "direkt danach", "subito dopo" (folded).
_RIGHT_AFTER = re.compile(
    r"\b(?:right after|just after|straight after|after that|back to back|justo despues|"
    r"justo a continuacion|a continuacion|logo depois|logo em seguida|em seguida|juste apres|"
    r"juste derriere|tout de suite apres|direkt danach|gleich danach|direkt im anschluss|"
    r"im anschluss|subito dopo|appena dopo)\b"
)
# Adding a service to one's booking ("add a beard trim to my thursday appointment").
_ADDED = re.compile(
    r"\b(?:add|adding|anadir|agregar|sumar|adicionar|acrescentar|ajouter|hinzufugen|"
    r"aggiungere)\b"
)
# Asked of a service, not to book it: does it hurt, is it safe; is it online or in person
# ("la sesión es por zoom o presencial?"); may someone or something come along ("can i bring
# my daughter with me to my check-up?", "darf ich meinen Hund mitbringen?", "are kids allowed
# in the class?"). "can i bring my son in for a kids haircut?" names none of these: a booking.
_OF_THE_SERVICE = re.compile(
    r"\b(?:painful|hurt|hurts|pain|duele|doloroso|dolorosa|doi|dolorido|fait mal|douloureux|"
    r"douloureuse|weh|schmerzhaft|fa male|safe|seguro|segura|sicher|sicuro|sicura|"
    r"online|on line|in person|zoom|video ?call|videocall|remote|remotely|virtual|virtually|"
    r"en ligne|sur place|a distance|presencial|presencialmente|en persona|videollamada|"
    r"remoto|pessoalmente|videochamada|distancia|visio|visioconference|en presentiel|"
    r"presentiel|vor ort|personlich|per video|videoanruf|in presenza|da remoto|"
    r"videochiamata|with me|along|tag along|come with|accompany|accompanied|conmigo|"
    r"acompanada|acompanado|acompanante|comigo|acompanhada|acompanhado|acompanhante|"
    r"avec moi|accompagne|accompagnee|accompagner|mitbringen|mitnehmen|begleiten|begleitung|"
    r"con me|accompagnata|accompagnato|allowed|permitted|permitido|permitidos|permis|erlaubt|"
    r"consentito|consentiti|dog|dogs|pet|pets|perro|perros|mascota|mascotas|cachorro|cao|"
    r"caes|chien|chiens|hund|hunde|cane|cani|"
    # a discount or an offer, which no price held says
    r"discount|discounts|descuento|descuentos|desconto|descontos|reduction|remise|rabatt|"
    r"ermassigung|sconto|sconti|student|students|estudiante|estudiantes|estudante|etudiant|"
    r"etudiante|studenten|studente|studenti|promo|promotion|promocion|promocao|offerta)\b"
)
# Changing the name or contact on a booking, not its time ("can i change the name on my
# booking?"): a question for the owner.
_CHANGE_DETAILS = tuple(
    f"{verb} {the} {what}"
    for verb in ("change", "cambiar", "mudar", "trocar", "changer", "andern", "cambiare")
    for the in ("the", "my", "el", "mi", "o", "meu", "le", "mon", "den", "meinen", "il", "mio")
    for what in ("name", "number", "phone", "email", "nombre", "numero", "telefono", "nome",
                 "telefone", "nom", "namen", "nummer", "telefonnummer")
)  # fmt: skip
# Cancelling to book again ("cancel my friday appointment and book one on monday", "anular la
# del jueves y pedir otra para el viernes"): a move.
_REBOOK = (
    "book another", "book a new", "book one", "another one", "pedir otra", "reservar otra",
    "coger otra", "otra para", "una nueva", "marcar outra", "outra para", "uma nova",
    "un autre", "en prendre un", "einen neuen", "einen anderen", "un altro", "prenotarne",
)  # fmt: skip
# Another time than those offered: later or earlier that day, or none of them.
_LATER = ("later", "any later", "after that", "mas tarde", "mais tarde", "plus tard", "spater",
          "piu tardi", "push back", "push it back", "back an hour", "back by",
          # "una hora después", "mezz'ora dopo": an amount of time, then the word
          "hora despues", "horas despues", "hora depois", "heure apres", "ora dopo", "ore dopo",
          "minutos despues", "minutos depois", "minuti dopo")  # fmt: skip
_EARLIER = ("earlier", "any earlier", "sooner", "mas temprano", "mas pronto", "mais cedo",
            "plus tot", "fruher", "piu presto", "bring forward", "bring it forward",
            "hora antes", "horas antes", "heure avant", "ora prima", "ore prima",
            "minutos antes", "minuti prima")  # fmt: skip
# "it's me from earlier", "as i said earlier": earlier in the talk, not an earlier time.
_SAID_EARLIER = ("from earlier", "said earlier", "earlier today", "mentioned earlier",
                 "asked earlier")  # fmt: skip
_NONE = ("none of those", "none of them", "none work", "none of these", "neither", "ninguno",
         "ninguna", "nenhum", "nenhuma", "aucun", "aucune", "keiner", "keine davon", "keins",
         "nessuno", "nessuna")  # fmt: skip
# Holding back: "ok let me check with my wife", "vale, lo pienso", "ok ich überlege es mir":
# an "ok" that agrees to nothing yet.
_UNSURE = (
    "let me check", "let me think", "i'll think", "i will think", "think about it",
    "get back to you", "i'll let you know", "let you know", "not sure", "i'll check",
    "lo pienso", "lo pensare", "me lo pienso", "lo consulto", "te digo algo", "te aviso",
    "no estoy seguro", "no estoy segura", "vou ver", "vou pensar", "te falo",
    "nao tenho certeza", "je vais reflechir", "je reflechis", "je vous redis",
    "je vous dis", "pas sur", "pas sure", "ich uberlege", "ich denke daruber nach",
    "ich melde mich", "mal sehen", "ci penso", "ci devo pensare", "ti faccio sapere",
    "vi faccio sapere", "non sono sicuro", "non sono sicura",
)  # fmt: skip
# Asking something, not asking for something ("ok, do I need a mat?", "sure, but is it on
# zoom?"): the words that open such a question after a yes. "can you..." asks for a thing.
_ASKING = {"do", "does", "is", "are", "what", "where", "how", "which", "when", "que", "donde",
           "como", "cual", "cuando", "quando", "onde", "qual", "quoi", "ou", "comment", "quel",
           "quelle", "est-ce", "was", "wo", "wie", "welche", "wann", "cosa", "dove", "quale",
           "come"}  # fmt: skip
# Verbs that move a booking only when one is spoken of ("tengo cita el viernes, ¿la puedo
# pasar al lunes?", "posso passar minha consulta para segunda?"): alone, "puedo pasar
# mañana?" is coming by, "adelantar" or "avancer" anything at all.
_SHIFT = {"pasar", "pasarla", "pasarlo", "passar", "adelantar", "adelantarla", "atrasar",
          "atrasarla", "adiar", "antecipar", "repousser", "avancer", "decaler", "verlegen",
          "vorverlegen", "anticipare", "posticipare", "spostarlo", "spostarla", "adiantar",
          "retrasar", "anticipar", "posticipar"}  # fmt: skip
# A booking named without "my" ("anticipare l'appuntamento di giovedì"): shifting it is theirs.
_APPOINTMENT = {"appointment", "appt", "booking", "cita", "reserva", "turno", "horario",
                "marcacao", "consulta", "rdv", "rendez", "termin", "appuntamento",
                "prenotazione"}  # fmt: skip
_INSTEAD = {"instead", "rather", "mejor", "prefiero", "prefiro", "melhor", "plutot", "lieber",
            "invece", "preferisco", "meglio"}  # fmt: skip

# "my appointment" and the like, in the six languages (folded: no accents).
_MINE = (
    "my booking", "my appointment", "my reservation", "my appt", "my slot", "i booked",
    "what was it for", "what is it for", "what's it for", "para que era", "de que era",
    "era para que", "c'etait pour quoi", "wofur war", "per cosa era",
    "i have an appointment", "i have a booking", "i've got an appointment", "tengo una cita",
    "tengo una reserva", "tenho uma marcacao", "tenho um horario", "j'ai un rendez-vous",
    "j'ai un rdv", "ich habe einen termin", "ho un appuntamento",
    "mi cita", "mi reserva", "mi turno", "mi hora", "tengo cita", "tengo hora",
    "minha marcacao", "minha reserva", "minha consulta", "meu horario", "eu marquei",
    "tenho consulta", "tenho uma consulta", "tenho marcacao", "tenho horario",
    "mon rendez-vous", "mon rdv", "ma reservation", "j'ai reserve",
    "mein termin", "meinen termin", "meine buchung", "ich habe gebucht",
    "il mio appuntamento", "la mia prenotazione", "ho prenotato",
    # the booking they had made, in the past ("cuándo tenía la cita?")
    "tenia la cita", "tenia cita", "tenia hora", "tenia turno", "tenia la reserva",
    "era la cita", "tinha marcado", "tinha horario", "tinha consulta", "tinha a consulta",
    "j'avais rendez-vous", "j'avais rdv", "j'avais un rdv", "j'avais un rendez-vous",
    "hatte ich den termin", "hatte ich termin", "avevo l'appuntamento", "avevo appuntamento",
)  # fmt: skip


def cant_clause(text: str) -> str | None:
    """The part of a message that says which visit the visitor cannot make, from the words
    that say so to the end of their clause ("sorry she can't make it tomorrow, can we do
    friday?" -> "can't make it tomorrow"): its day is the booking's, not where it goes."""
    padded = f" {' '.join(words(text))} "
    for phrase in _as_words(_CANT_MAKE_IT):
        at = padded.find(f" {phrase} ")
        if at >= 0:
            rest = padded[at:]
            end = re.search(
                r"\b(?:can|could|what|how|but|instead|pero|mas|mais|aber|ma)\b",
                rest[len(phrase) + 2 :],
            )
            return rest[: len(phrase) + 2 + end.start()] if end else rest
    return None


# Where one clause of a message ends and the next begins.
_CLAUSE_END = re.compile(r"[,;.!?]+|\b(?:and|but|y|pero|e|mas|et|mais|und|aber|ma)\b")


def cancel_and_keep(text: str) -> tuple[str, str] | None:
    """The clause that cancels and the one that keeps, when a message says both apart
    ("cancel the beard trim pls, keep the haircut", "cancela la barba, el corte lo
    mantengo"): if each names a service, one booking goes and the other stays."""
    clauses = [c for c in _CLAUSE_END.split(fold(text)) if c.strip()]
    cancels = [c for c in clauses if set(words(c)) & _CANCEL]
    keeps = [c for c in clauses if _phrase_in(c, _KEEP)]
    if len(cancels) != 1 or len(keeps) != 1 or cancels[0] == keeps[0]:
        return None
    return cancels[0], keeps[0]


def _phrase_in(folded: str, phrases: tuple[str, ...]) -> bool:
    return _any_of(phrases).search(_padded(folded)) is not None


@lru_cache(maxsize=64)
def _padded(folded: str) -> str:
    """The message's words between single spaces, once per message (a reading asks about
    forty lists of phrases). A word behind an elided article or preposition is also there
    on its own: "qual è l'indirizzo?" names "indirizzo", "l'adresse svp" "adresse" (the
    phrases that hold the elision, "politique d'annulation", still match)."""
    spaced = []
    for word in words(folded):
        spaced.append(word)
        behind = _behind_elision(word)
        if behind != word:
            spaced.append(behind)
    return f" {' '.join(spaced)} "


def _behind_elision(word: str) -> str:
    head, _, rest = word.partition("'")
    return rest if head in _ELIDED and len(rest) >= 3 else word


# French and Italian articles and prepositions that drop their vowel before one.
_ELIDED = frozenset(["l", "d", "dell", "dall", "nell", "sull", "all", "un", "quest", "quell"])


@cache
def _any_of(phrases: tuple[str, ...]) -> re.Pattern[str]:
    """One pattern for a list of phrases, each a run of whole words, split as the message is
    ("mon rendez-vous" is "mon rendez vous")."""
    split = sorted({" ".join(words(p)) for p in phrases}, key=len, reverse=True)
    return re.compile(f" (?:{'|'.join(map(re.escape, split))}) ")


@cache
def _as_words(phrases: tuple[str, ...]) -> tuple[str, ...]:
    """The phrases split as the message is ("mon rendez-vous" is "mon rendez vous")."""
    return tuple(" ".join(words(p)) for p in phrases)


@dataclass(frozen=True, slots=True)
class Intent:
    """Everything the built-in brain wants to know about one message, read once."""

    yes: bool = False
    no: bool = False
    thanks: bool = False
    bye: bool = False
    ack: bool = False  # "ok", "cool, see you then", 👍: nothing asked
    greeting: bool = False
    person: bool = False
    urgent: bool = False  # pain or an emergency: for a person, not for a list of times
    hasty: bool = False  # "urgente", "dringend", "asap": soon, which the first times answer
    complaint: bool = False  # unhappy with a visit, or a refund asked: for the owner
    wrong_booking: bool = False  # "you booked me at the wrong time": their booking, moved
    dropped: bool = False  # "never mind", "nvm", "olvídalo": the visitor lets it go (a no)
    small_talk: bool = False  # "how r u", "qué tal", "ça va ?"
    who: bool = False  # "who is this?", "quién eres?": who is writing to them
    stop: bool = False  # "STOP", "no me escribáis más": no more messages unasked
    cancel: bool = False
    move: bool = False
    book: bool = False
    question: bool = False
    topics: tuple[Topic, ...] = ()
    injection: bool = False
    short: bool = False  # a few words at most
    mine: bool = False  # asks about their own booking ("what time is my appointment?")
    earliest: bool = False  # the soonest free time, whatever it is
    later: bool = False  # a time later than those offered ("anything later?")
    earlier: bool = False  # ...or earlier
    none: bool = False  # none of the times offered suits
    opening: bool = False  # "open"/"closed" words: about opening hours even with a day named
    asks_when: bool = False  # "what time was it again?", "¿a qué hora era?"
    keep: bool = False  # "please don't cancel", "no wait, keep it": the booking stays
    cant: bool = False  # "I can't make it (thursday)": their booking, to cancel or to move
    details_change: bool = False  # "can i change the name on my booking?": for the owner
    # Straight after their booking ("and a beard trim right after?", "add a beard trim to my
    # thursday appointment"): when that booking ends.
    right_after: bool = False
    privacy: bool = False  # "please delete my data": for the owner, who holds the records
    praise: bool = False  # "thanks, the haircut was great!": no booking asked
    left_behind: bool = False  # "i think i left my scarf there": for the owner to look
    party: bool = False  # "2 of us", "me and my brother", "somos dos": several visits at once
    another: bool = False  # "another one for my brother", "otra igual": the same service again
    of_the_service: bool = False  # "is the whitening painful?": asked of it, not to book it
    walk_in: bool = False  # "do you take walk ins?", "how long is the wait now?": no booking
    unsure: bool = False  # "ok, let me check and get back to you": agreeing to nothing yet
    asks_too: bool = False  # a question after the yes ("ok, how much is it?")
    wrong_number: bool = False  # "sorry, wrong number": written to the wrong business


# Spanish, Portuguese and Italian put the object on the verb ("cancélala", "cancelarla",
# "anulamela", "spostalo"): read such a verb as the verb itself.
_CLITICS = ("mela", "melo", "selo", "sela", "las", "los", "la", "lo", "le", "me", "-la", "-lo")
_VERBS = _CANCEL | _MOVE


def _with_clitics(tokens: list[str]) -> set[str]:
    found = set(tokens)
    for token in tokens:
        for suffix in _CLITICS:
            base = token.removesuffix(suffix)
            if base != token and len(base) > 3 and base in _VERBS:
                found.add(base)
    return found


# Asking for no more messages. "cancel" alone is not here: after a reminder it cancels it.
_STOP_WORDS = {"stop", "stopall", "unsubscribe", "optout", "opt out", "baja", "parar", "stopp"}
_STOP_PHRASES = (
    "stop messaging", "stop texting", "stop sending", "stop writing", "don't message me",
    "dont message me", "don't msg me", "dont msg me", "don't text me", "dont text me",
    "don't contact me", "dont contact me", "no more messages", "no more reminders",
    "unsubscribe", "stop the reminders", "no me escribas mas",
    "no me mandeis mas", "no quiero mas mensajes", "no quiero mas recordatorios",
    "nao quero mais mensagens", "nao quero mais lembretes", "plus de messages",
    "plus de rappels", "keine nachrichten mehr", "keine erinnerungen mehr",
    "niente piu messaggi", "basta messaggi", "no me escribais mas", "deja de escribirme",
    "dejad de escribirme", "no me mandes mas", "para de me mandar", "parem de me mandar",
    "nao me mande mais", "arretez de m'ecrire", "ne m'ecrivez plus", "schreiben sie mir nicht",
    "nicht mehr schreiben", "smettete di scrivermi", "non scrivetemi piu", "non scrivermi piu",
)  # fmt: skip
_WHO = (
    # ...or whether a machine answers ("are you a bot?"): the business's assistant says so
    "are you a bot", "r u a bot", "is this a bot", "are you a robot", "are you real",
    "are you human", "is this automated", "am i talking to a bot", "eres un bot",
    "eres un robot", "es un bot", "eres humano", "voce e um robo", "voce e um bot",
    "e um robo", "e um bot", "c'est un robot", "c'est un bot", "vous etes un robot",
    "tu es un robot", "bist du ein bot", "bist du ein roboter", "sind sie ein bot",
    "ist das ein bot", "sei un bot", "sei un robot", "e un bot",
    "who is this", "who's this", "whos this", "who are you", "who r u", "quien eres",
    "quien es", "quienes sois", "quien me escribe", "quem e", "quem fala", "quem e voce",
    "qui est-ce", "qui etes-vous", "qui es-tu", "wer ist da", "wer sind sie", "wer bist du",
    "chi sei", "chi e", "chi siete", "chi parla",
)  # fmt: skip
_SMALL_TALK = (
    "how are you", "how r u", "how are u", "how r you", "hows it going", "how's it going",
    "how is it going", "que tal", "como estas", "como esta usted", "como vai", "tudo bem",
    "tudo bom", "ca va", "comment allez-vous", "comment vas-tu", "wie geht's", "wie gehts",
    "wie geht es", "come stai", "come va", "tutto bene",
)  # fmt: skip
# Pain and emergencies, which no list of free times answers: "me duele muchísimo una muela",
# "i'm in a lot of pain", "estou com muita dor", "j'ai très mal aux dents", "Zahnschmerzen".
_URGENT = re.compile(
    r"\b(?:emergency|emergencia|emergencias|urgencia|urgence|notfall|emergenza|"
    r"(?:in|so much|a lot of|terrible|severe) pain|hurts? (?:so|really|a lot)|"
    r"me duele|(?:mucho|muchisimo) dolor|muita dor|estou com dor|doendo muito|doi muito|"
    r"toothache|dolor de (?:muelas?|dientes?)|dor de dentes?|mal aux dents|mal de dents|"
    r"mal di denti|"
    r"tres mal|tellement mal|\w*schmerzen|mi fa (?:molto )?male|dolore forte)\b"
)
# In a hurry, and no more: "necesito un corte urgente para hoy", "dringend einen Termin",
# "need a haircut asap". Said with nothing else ("es urgente!!") it is for a person too.
_HASTY = re.compile(
    r"\b(?:urgent|urgente|urgentes|urgently|urgentemente|dringend|dringende[nr]?|urgenza|"
    r"asap|cuanto antes|lo antes posible|o quanto antes|o mais rapido possivel|"
    r"au plus vite|des que possible|so schnell wie moglich|prima possibile)\b"
)
# Unhappy with a visit, or money back asked: "my last haircut was terrible, i want a refund",
# "me hicieron esperar 40 minutos, fatal", "quero o reembolso", "je veux être remboursé".
_COMPLAINT = re.compile(
    r"\b(?:refund|refunded|money back|complaint|complain|terrible|awful|horrible|"
    r"not happy|unhappy|disappointed|unacceptable|reembolso|reembolsar|devolucion|devuelvan|"
    r"devolvais|queja|quejarme|reclamacion|reclamar|fatal|pesimo|pesima|decepcionad[oa]|"
    r"inaceptable|estorno|reclamacao|pessimo|pessima|horrivel|rembourse[rz]?|remboursement|"
    r"reclamation|plainte|decu|decue|inadmissible|ruckerstattung|geld zuruck|beschwerde|"
    r"beschweren|schrecklich|furchtbar|enttauscht|unmoglich|rimborso|rimborsare|reclamo|"
    r"lamentela|pessimo|deluso|delusa|vergogna)\b"
)
# A booking made for the wrong time or day: "you booked me at the wrong time, i said 11".
_WRONG_BOOKING = re.compile(
    r"\b(?:wrong (?:time|day|date|hour)|(?:hora|fecha|dia) equivocad[ao]|"
    r"(?:hora|data|dia|horario) errad[ao]|mauvaise (?:heure|date)|mauvais (?:jour|horaire)|"
    r"falsche[nr]? (?:uhrzeit|zeit|tag|datum)|(?:orario|giorno|ora) sbagliat[ao]|"
    r"data sbagliata)\b"
)
# "llego 10 minutos tarde", "vou chegar uns 15 min atrasada", "je serai 10 min en retard",
# "running 5 mins late": late by some minutes, with the minutes between the words.
_LATE = re.compile(
    r"\b(?:llego|llegare|voy a llegar|chego|vou chegar|chegarei|serai|arrive|arriverai|"
    r"arrivo|arrivero|komme|bin|running|be|i'll be|ill be|gonna be)\b"
    r"[^.!?]{0,30}?\b(?:(?<!la )(?<!de )(?<!da )(?<!a )(?<!esta )(?<!pela )tarde|"
    r"atrasad[oa]s?|en retard|in ritardo|spater|spat|late)\b"
)
# "cuánto era?", "quanto sai?", "y cuánto?": how much, with no noun counted after it, asks a
# price; "cuánto tiempo", "quanto antes", "en cuanto pueda" do not.
_HOW_MUCH = {"cuanto", "quanto"}
_COUNTED = {"tiempo", "tempo", "dura", "demora", "tarda", "antes", "dias", "dia", "horas",
            "hora", "minutos", "personas", "gente", "pessoas", "semanas", "falta", "faltan",
            "faltam", "antelacion", "antecedencia", "giorni", "ore", "minuti"}  # fmt: skip


def _asks_how_much(tokens: list[str]) -> bool:
    for i, token in enumerate(tokens):
        if token in _HOW_MUCH and (i == 0 or tokens[i - 1] not in ("en", "em", "per")):
            following = tokens[i + 1 : i + 2]
            if not following or following[0] not in _COUNTED:
                return True
    return False


def read_intent(text: str) -> Intent:
    folded = fold(text)
    tokens = words(folded)
    token_set = _with_clitics(tokens)
    short = len(tokens) <= 4
    # "oh yes sorry", "ah sí": the interjection says nothing; the word after it answers.
    lead = next((t for t in tokens if t not in _INTERJECTIONS), "")
    yes = (
        bool(tokens) and (lead in _YES or _phrase_in(folded, _YES_PHRASES)) and tokens[0] not in _NO
    )
    dropped = _phrase_in(folded, _DROP)
    no = (bool(tokens) and (tokens[0] in _NO or _phrase_in(folded, _NO_PHRASES))) or dropped
    unsure = _phrase_in(folded, _UNSURE)
    # "y" alone is chat's yes ("y?" asks "and?", and Spanish "y" is never a message alone).
    yes = (yes or (tokens == ["y"] and "?" not in text)) and not unsure
    if not tokens:
        yes = any(ch in _ACK_EMOJI for ch in text)
        no = any(ch in _NO_EMOJI for ch in text)
    thanks = bool(token_set & _THANKS)
    # "ciao! taglio domani alle 10?": a leading "ciao" with more after it greets.
    bye = _phrase_in(" ".join(tokens[1:] if tokens[:1] == ["ciao"] else tokens), _BYE)
    topics = tuple(t for t, phrases in _TOPICS.items() if _phrase_in(folded, phrases))
    # "hi can i bring my dog": the first word after a greeting opens the question.
    opening_word = next((t for t in tokens if t not in _GREETING), "")
    question = "?" in text or opening_word in _QUESTION_WORDS
    question = question or _phrase_in(folded, _WONDERING)
    question = question and not (tokens and tokens[0] in _YES and len(tokens) <= 2)
    # "hello?", "hola??", "anyone there?": a greeting, asking for nothing yet.
    ping = bool(tokens) and set(tokens) <= _GREETING | _PRESENCE
    question = question and not ping
    if "contact" in topics and token_set & _MY:
        # "my email is ...": details given, not the business's asked for.
        topics = tuple(t for t in topics if t != "contact")
    # "is the discovery call free?" asks the price; "is tuesday free?" asks for a time.
    after_free = tokens[tokens.index("free") + 1 :] if "free" in tokens else ["?"]
    free_of_charge = (
        after_free[:1] in ([], ["or"], ["of"])
        and tuple([t for t in tokens if t not in _GREETING][:2]) in _ASKS_FREE
        and not token_set & _ROLES
    )
    if free_of_charge and "price" not in topics:
        topics = ("price", *topics)
    if "price" not in topics and "duration" not in topics and _asks_how_much(tokens):
        topics = ("price", *topics)
    if "lateness" not in topics and _LATE.search(folded):
        topics = (*topics, "lateness")
    if (
        {"deposit", "price"} & set(topics)
        and "payment" in topics
        and not _phrase_in(folded, _METHODS)
    ):
        # "do i need to pay a deposit?", "is it free or do i pay for it?": no way to pay asked
        topics = tuple(t for t in topics if t != "payment")
    if "payment" in topics and _phrase_in(folded, _GIFT_CARDS):
        topics = tuple(t for t in topics if t != "payment")  # a gift card is no way to pay
    if "lateness" in topics and _LATE_PART.search(folded) and not _LATE.search(folded):
        topics = tuple(t for t in topics if t != "lateness")  # "late afternoon on friday?"
    if "cancellation" not in topics and _phrase_in(folded, _NOTICE) and _cancels(token_set):
        topics = (*topics, "cancellation")  # "how far in advance do I need to cancel?"
    if "cancellation" in topics:
        # "how far in advance can I cancel?", "quanto tempo prima devo disdire?", "can I cancel
        # for free?": when, and at what cost, a booking may be cancelled, which the policy
        # says; not the services' durations, the booking horizon or their prices.
        # "is there a cancellation fee?" asks the policy, not the prices of the services.
        free_only = not _phrase_in(folded, _PAID_WORDS) or not _phrase_in(
            folded, tuple(p for p in _PAID_WORDS if p not in ("fee", "charge"))
        )
        # "cancelling this late" is no running late, unless the message says that too.
        late = _LATE.search(folded) or _phrase_in(folded, ("running late", "llego tarde"))
        dropped = {"duration", "horizon", *({"price"} if free_only else ())}
        dropped |= set() if late else {"lateness"}
        topics = tuple(t for t in topics if t not in dropped)
    book = bool((token_set - {"free"} if free_of_charge else token_set) & _BOOK)
    if _phrase_in(folded, _PREPARING):
        # "how early should I arrive?", "what do I need to bring to my appointment?": a
        # question for the business's own answers, not a booking or how far ahead it books.
        book, question = False, True
        topics = tuple(t for t in topics if t != "horizon")
    walk_in = not _phrase_in(folded, _PREPARING) and _phrase_in(folded, _NO_BOOKING)
    if walk_in:
        book, question = False, True
        topics = tuple(t for t in topics if t not in ("horizon", "duration"))
    asking = bool(token_set & _REQUEST) and not book
    person = bool(token_set & _PERSON) and (
        bool(token_set & _TALK) or asking or len(tokens) <= 3 or _phrase_in(folded, _REAL)
    )
    # "call me if anything changes" is no request to be called now.
    call_me = _phrase_in(folded, _CALL_ME) and not token_set & {"if", "falls", "wenn", "caso"}
    role = bool(token_set & _ROLES) and bool(token_set & _TALK)
    person = person or _phrase_in(folded, _REAL) or call_me or role
    # "I'd like to book with the owner tomorrow" is a booking, not a request for a person.
    if person and book and not (token_set & _TALK):
        person = False
    emoji_only = not tokens and any(ch in _ACK_EMOJI for ch in text)
    ack = (
        emoji_only
        or unsure
        or (
            len(tokens) <= 6
            and not question
            and (bool(token_set & _ACK) or thanks or bye or (bool(tokens) and tokens[0] in _YES))
        )
    )
    mine = _phrase_in(folded, _MINE)
    named_things = {_behind_elision(t) for t in tokens}  # "l'appuntamento" names one
    keep = _phrase_in(folded, _KEEP) or _negated_cancel(folded)
    return Intent(
        yes=yes,
        no=no,
        thanks=thanks,
        bye=bye,
        ack=ack,
        greeting=ping
        or (bool(tokens) and tokens[0] in _GREETING)
        or _phrase_in(
            folded,
            (
                "good morning",
                "good afternoon",
                "good evening",
                "buenos dias",
                "buenas tardes",
                "bom dia",
                "boa tarde",
                "boa noite",
                "guten tag",
                "guten morgen",
            ),
        ),
        person=person,
        urgent=bool(_URGENT.search(folded)),
        hasty=bool(_HASTY.search(folded)),
        complaint=bool(_COMPLAINT.search(folded)),
        wrong_booking=bool(_WRONG_BOOKING.search(folded)),
        dropped=dropped,
        cant=_phrase_in(folded, _CANT_MAKE_IT),
        details_change=_phrase_in(folded, _CHANGE_DETAILS),
        right_after=bool(_RIGHT_AFTER.search(folded))
        or (bool(_ADDED.search(folded)) and bool(token_set & _MY)),
        of_the_service=bool(_OF_THE_SERVICE.search(folded)),
        walk_in=walk_in,
        party=_phrase_in(folded, _PARTY),
        privacy=_phrase_in(folded, _PRIVACY),
        praise=_phrase_in(folded, _PRAISE),
        left_behind=bool(_LEFT_BEHIND.search(folded)),
        another=_phrase_in(folded, _ANOTHER),
        small_talk=_phrase_in(folded, _SMALL_TALK),
        who=_phrase_in(folded, _WHO),
        stop=" ".join(tokens) in _STOP_WORDS or _phrase_in(folded, _STOP_PHRASES),
        cancel=bool(token_set & _CANCEL)
        and ("cancellation" not in topics or _phrase_in(folded, _CANCEL_IT))
        and not keep,
        move=(bool(token_set & _MOVE) and not _phrase_in(folded, _CHANGE_DETAILS))
        or (bool(token_set & _CANCEL) and _phrase_in(folded, _REBOOK))
        or ((mine or _phrase_in(folded, _CANT_MAKE_IT)) and bool(token_set & _INSTEAD))
        or ((mine or bool(named_things & _APPOINTMENT)) and bool(token_set & _SHIFT)),
        book=book,
        question=question,
        topics=topics,
        injection=bool(_INJECTION.search(folded)),
        short=short,
        mine=mine,
        earliest=_phrase_in(folded, _EARLIEST),
        later=_phrase_in(folded, _LATER),
        earlier=_phrase_in(folded, _EARLIER) and not _phrase_in(folded, _SAID_EARLIER),
        none=_phrase_in(folded, _NONE),
        opening=bool(token_set & _OPENING),
        asks_when=_phrase_in(folded, _ASKS_WHEN),
        keep=keep,
        unsure=unsure,
        wrong_number=_phrase_in(folded, _WRONG_NUMBER),
        asks_too=bool(topics) or (question and not book and bool(set(tokens[1:]) & _ASKING)),
    )


# -- picking from a list -----------------------------------------------------------------

_ORDINALS: dict[int, set[str]] = {
    1: {"first", "1st", "primero", "primera", "primer", "primeiro", "primeira", "premier",
        "premiere", "erste", "ersten", "erster", "erstes", "primo", "prima"},
    2: {"second", "2nd", "segundo", "segunda", "deuxieme", "seconde", "zweite",
        "zweiten", "zweiter", "secondo", "seconda"},
    3: {"third", "3rd", "tercero", "tercera", "tercer", "terceiro", "terceira", "troisieme",
        "dritte", "dritten", "dritter", "terzo", "terza"},
    4: {"fourth", "4th", "cuarto", "cuarta", "quarto", "quarta", "quatrieme", "vierte",
        "vierten"},
    5: {"fifth", "5th", "quinto", "quinta", "cinquieme", "funfte", "funften"},
}  # fmt: skip
_LAST = {"last", "latest", "ultimo", "ultima", "dernier", "derniere", "letzte", "letzten"}
# A number picked first, the rest of the message after a comma: "la 2, mañana a las 10".
_LEADING_PICK = re.compile(r"^(?:the|la|el|o|a|le|il|die|der|das|#)?\s?(\d)\s?,")
_MIDDLE = {"middle", "medio", "meio", "milieu", "mittlere", "mittleren", "mezzo"}
# Leaving the choice to the business: "either is fine", "cualquiera me vale", "tanto faz",
# "peu importe", "egal", "uno qualsiasi": the first time offered.
_ANY = (
    "either", "any of them", "any of those", "any is fine", "any one", "anyone is fine",
    "whichever", "doesn't matter", "doesnt matter", "don't mind", "dont mind", "cualquiera",
    "me da igual", "da igual", "qualquer", "tanto faz", "n'importe", "peu importe",
    "egal", "qualsiasi", "fa lo stesso", "e indifferente",
)  # fmt: skip
# ...unless the message asks for another time than those ("any later?").
_NOT_ANY = {"later", "earlier", "sooner", "before", "after", "other", "else", "different",
            "more", "tarde", "temprano", "antes", "despues", "otro", "otra", "outro", "outra",
            "depois", "cedo", "tard", "tot", "autre", "spater", "fruher", "andere", "anderen",
            "dopo", "prima", "altro", "altra", "none", "neither"}  # fmt: skip
_OPTION = {"option", "opcion", "opcao", "number", "numero", "num", "no", "nr", "n", "opzione",
           "opcoes", "opciones", "options"}  # fmt: skip


# Portuguese weekdays that are also ordinals ("segunda" is Monday and "second").
_PT_WEEKDAY_ORDINALS = {"segunda", "terca", "quarta", "quinta", "sexta"}
_ARTICLES_BEFORE_ORDINAL = {"a", "o", "la", "el", "le"}


def choice_number(
    text: str, options: int, lang: str | None = None, *, any_is_first: bool = False
) -> int | None:
    """The option a visitor picks: "2", "#2", "option 2", "the second one", "la segunda",
    "die zweite". None when the message names no single option in range. `any_is_first`: of
    times offered, "either is fine" takes the first (never of bookings: one to cancel)."""
    # "l'ultimo", "l'autre": the word behind an elided article
    tokens = [_behind_elision(t) for t in words(text)[:12]]
    if not tokens or options < 1:
        return None
    # "segunda-feira" / "quarta feira" are weekdays, not ordinals; in Portuguese so are "e
    # segunda?", "na quinta" (an ordinal has its article, "a segunda", or "opção" after it).
    tokens = [
        t
        for i, t in enumerate(tokens)
        if not (i + 1 < len(tokens) and tokens[i + 1] == "feira")
        and not (
            lang == "pt"
            and t in _PT_WEEKDAY_ORDINALS
            and not (i and tokens[i - 1] in _ARTICLES_BEFORE_ORDINAL)
            and not (i + 1 < len(tokens) and tokens[i + 1] in _OPTION)
        )
    ]
    found: set[int] = set()
    for n, names in _ORDINALS.items():
        if n <= options and any(t in names for t in tokens):
            found.add(n)
    if not found and len(tokens) <= 4:
        # "the frist one", "la segnda": an ordinal with a typo (rapidfuzz's ratio >= 80, on
        # words of five letters or more).
        for n, names in _ORDINALS.items():
            if n <= options and any(
                fuzz.ratio(t, name) >= 80 for t in tokens if len(t) >= 5 for name in names
                if len(name) >= 5
            ):  # fmt: skip
                found.add(n)
    if any(t in _LAST for t in tokens):
        found.add(options)
    if options == 3 and any(t in _MIDDLE for t in tokens):
        found.add(2)
    if "one" in tokens and ({"later", "earlier"} & set(tokens)):  # "the later one"
        found.add(options if "later" in tokens else 1)
    left_to_us = any_is_first and not found and not set(tokens) & _NOT_ANY
    if left_to_us and not any(t.isdigit() for t in tokens) and _phrase_in(" ".join(tokens), _ANY):
        found.add(1)
    digits = [t for t in tokens if t.isdigit()]
    stripped = text.strip()
    has_clock = ":" in stripped or any(t in ("am", "pm", "h", "uhr", "hs") for t in tokens)
    leading = _LEADING_PICK.match(fold(stripped))  # "la 2, mañana a las 10": the 2
    others = [d for d in digits[1:] if int(d) <= options]  # "2, 3": which of them?
    if leading and 1 <= int(leading.group(1)) <= options and not others:
        found.add(int(leading.group(1)))
    elif len(digits) == 1 and not has_clock:
        value = int(digits[0])
        rest = [t for t in tokens if not t.isdigit()]
        if (len(rest) <= 3 or any(t in _OPTION for t in rest)) and 1 <= value <= options:
            found.add(value)
    pointing = {"that", "this", "esa", "ese", "essa", "esse", "celui", "celle", "den", "quello"}
    if not found and len(tokens) <= 3 and not set(tokens) & pointing:
        # "one" after a word that is not "option" stands for a thing: "the thursday one".
        spelled = {
            NUMBER_WORDS[t]
            for i, t in enumerate(tokens)
            if t in NUMBER_WORDS
            and len(t) > 2
            and not (t == "one" and i > 0 and tokens[i - 1] not in _OPTION)
        }
        found |= {n for n in spelled if 1 <= n <= options}
    return found.pop() if len(found) == 1 else None


def pick_by_time(clock: time | None, offered: list[time]) -> int | None:
    """ "the 10:30 one": the offered time with that clock, if exactly one."""
    if clock is None:
        return None
    hits = [i for i, t in enumerate(offered, 1) if t == clock]
    return hits[0] if len(hits) == 1 else None


# Words of chat that are never a person's name ("sí", "ok", "gracias"), for the contact reader.
CHAT_WORDS = frozenset(_YES | _NO | _THANKS | _ACK | _GREETING)
