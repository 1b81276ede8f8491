"""ISO 4217 currencies a service can be priced in.

The circulating currencies of the ISO 4217 list (2024-2025 amendments included). Fund codes,
precious metals, bond units and the testing/no-currency codes (XAU, XDR, XTS, XXX, ...) are
left out on purpose: nothing is sold for them.
"""

_CODES = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN
    BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR
    FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD
    JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT
    MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG
    QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB
    TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF
    XPF YER ZAR ZMW ZWG ZWL
"""
CURRENCIES = frozenset(_CODES.split())


def currency_problem(code: str) -> str | None:
    if len(code) != 3 or not code.isascii() or not code.isalpha() or not code.isupper():
        return "Currency must be an ISO 4217 code: three uppercase letters such as 'USD'"
    if code not in CURRENCIES:
        return f"Unknown currency '{code}': use an ISO 4217 code such as 'USD' or 'EUR'"
    return None
