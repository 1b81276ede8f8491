"""Reading a visitor's words: pure functions over bounded text, no tools, storage or transport.

The field libraries do what they do best (dateparser's and babel's vocabularies for days,
months and relative dates, lingua for the language, rapidfuzz for service names,
phonenumbers and email-validator for contact details); what none of them has (parts of the
day, "after 5", "the 10:30 one", yes/no/acknowledgement words and emoji) is small and
tested here. Every function runs in time linear in its input, which `bound` caps first.
"""
