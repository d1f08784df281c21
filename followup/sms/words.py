"""Per-language word lists for reading SMS replies (pure data, no Django).

Words are written as patients type them; ``sms_parsing`` folds them (case,
accents, Turkish dotless i, Azerbaijani schwa) when it loads them, so a list
needs only one spelling per word. English is always accepted next to the
patient's language; the other languages are not, because look-alike words
across alphabets mean opposite things (Azerbaijani "he" is yes, Russian
"не" is no) and a wrong yes/no would be a finding (hazard H4).
"""

from __future__ import annotations

from typing import Final

LANGUAGES: Final = ("en", "tr", "de", "ru", "uk", "az")

YES_WORDS: Final[dict[str, frozenset[str]]] = {
    "en": frozenset({"yes", "y", "yeah", "yep", "yup", "yea"}),
    "tr": frozenset({"evet", "evt", "ewet", "e", "var"}),
    "de": frozenset({"ja", "j", "jo", "jap", "jawohl"}),
    "ru": frozenset({"да", "da"}),
    "uk": frozenset({"так", "tak"}),
    "az": frozenset({"bəli", "beli", "hə", "he", "var"}),
}

NO_WORDS: Final[dict[str, frozenset[str]]] = {
    "en": frozenset({"no", "n", "nope", "nah"}),
    "tr": frozenset({"hayır", "hayir", "hyr", "hayr", "yok"}),
    "de": frozenset({"nein", "nee", "n", "nö"}),
    "ru": frozenset({"нет", "net", "не", "нету"}),
    # "нi" with a Latin i is folded to "ні" by the mixed-alphabet rule.
    "uk": frozenset({"ні", "нi", "ni", "немає", "нема"}),
    "az": frozenset({"yox", "xeyr", "yoh", "yoxdur"}),
}

# Numerals for zero only. "none", "hiç", "keine" are deliberately absent: to
# "days since the last bowel movement" a patient who answers "none" means
# "I have not had one", and reading it as 0 would hide constipation (H4).
ZERO_WORDS: Final[dict[str, frozenset[str]]] = {
    "en": frozenset({"zero"}),
    "tr": frozenset({"sıfır"}),
    "de": frozenset({"null"}),
    "ru": frozenset({"ноль", "нуль"}),
    "uk": frozenset({"нуль"}),
    "az": frozenset({"sıfır"}),
}

# Words a patient may put around a measured value ("temp 38.6", "у меня 38",
# "kilom 72"). Anything else next to a number makes the reply not understood:
# "not 38", "less than 38", "about 38" must be asked again, not guessed.
NUMBER_FILLER_WORDS: Final[dict[str, frozenset[str]]] = {
    "en": frozenset(
        {
            "temp",
            "temperature",
            "t",
            "weight",
            "wt",
            "pulse",
            "hr",
            "heart",
            "rate",
            "drain",
            "output",
            "now",
            "today",
            "this",
            "morning",
            "is",
            "my",
            "it",
            "its",
            "s",
            "pain",
            "score",
        }
    ),
    "tr": frozenset(
        {
            "ateş",
            "ateşim",
            "sıcaklık",
            "sıcaklığım",
            "kilo",
            "kilom",
            "ağırlık",
            "ağırlığım",
            "nabız",
            "nabzım",
            "şimdi",
            "şu",
            "an",
            "bugün",
            "bu",
            "sabah",
            "ağrı",
            "ağrım",
            "dren",
        }
    ),
    "de": frozenset(
        {
            "temp",
            "temperatur",
            "fieber",
            "gewicht",
            "puls",
            "jetzt",
            "heute",
            "morgen",
            "ist",
            "mein",
            "meine",
            "ich",
            "habe",
            "schmerz",
            "schmerzen",
        }
    ),
    "ru": frozenset(
        {
            "температура",
            "темп",
            "т",
            "вес",
            "пульс",
            "сейчас",
            "сегодня",
            "утром",
            "у",
            "меня",
            "боль",
        }
    ),
    "uk": frozenset(
        {
            "температура",
            "темп",
            "т",
            "вага",
            "пульс",
            "зараз",
            "сьогодні",
            "вранці",
            "у",
            "в",
            "мене",
            "біль",
        }
    ),
    "az": frozenset(
        {
            "hərarət",
            "temperatur",
            "qızdırma",
            "çəki",
            "nəbz",
            "indi",
            "bu",
            "gün",
            "səhər",
            "mən",
            "mənim",
            "ağrı",
        }
    ),
}

# Units a number may carry, as regular-expression alternatives over folded
# text (lower case, no accents, ə → e, ı → i). Grouped by family so that a
# caller who knows the question's unit can refuse "38 C" to a pulse question.
# "gr" is absent on purpose: German "Grad" or grams?
UNIT_PATTERNS: Final[dict[str, tuple[str, ...]]] = {
    "celsius": (
        (
            r"(?:°|degrees?|deg|grad|градус(?:а|ов|и|ів)?|derece|dereceler)"
            r"(?:\s*(?:c|с|celsius|цельсия|цельсія))?"
        ),
        r"c",
        r"с",  # Cyrillic es, as typed on a Cyrillic keyboard
        r"celsius",
    ),
    "kg": (
        r"kgs?",
        r"kq",  # Azerbaijani
        r"кг",
        r"kilo(?:s|gram(?:s|m|me|mes)?)?",
        r"kiloqram",
        r"кило(?:грамм(?:а|ов)?)?",
        r"кілограм(?:а|ів|и)?",
    ),
    "ml": (
        r"mls?",
        r"cc",
        r"мл",
        r"millilit(?:er|re)s?",
        r"mililitre",
        r"millilitr",
        r"миллилитр(?:а|ов)?",
        r"мілілітр(?:а|ів|и)?",
    ),
    "bpm": (
        r"bpm",
        r"(?:уд\.?\s*)?/\s*(?:min|мин|хв|dk|dak|deq)",
        r"уд(?:аров|арів)?\.?",
        r"schlage",
        r"vurus",
        r"atim",
    ),
    "count": (
        r"x",
        r"times",
        r"kez",
        r"kere",
        r"defa",
        r"mal",
        r"раз(?:а)?",
        r"рази",
        r"разів",
        r"defe",
    ),
    "days": (
        r"days?",
        r"gun(?:dur|luk)?",
        r"tag(?:e|en)?",
        r"дн(?:я|ей|і|ів)",
        r"день",
    ),
}

# The caller's name for a question's unit (as written in the protocol) → family.
UNIT_ALIASES: Final[dict[str, str]] = {
    "°c": "celsius",
    "degc": "celsius",
    "c": "celsius",
    "celsius": "celsius",
    "kg": "kg",
    "ml": "ml",
    "bpm": "bpm",
    "/min": "bpm",
    "beats/min": "bpm",
    "beats per minute": "bpm",
    "count": "count",
    "times": "count",
    "episodes": "count",
    "days": "days",
    "day": "days",
}

# Carriers' keywords, always active in every language (API.md, SMS conversations).
CARRIER_KEYWORDS: Final[dict[str, frozenset[str]]] = {
    "stop": frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit"}),
    "start": frozenset({"start", "unstop"}),
    "help": frozenset({"help", "info"}),
}

# Words that make a number something other than the value ("more than 5",
# "less than 38", "almost 38", "38'den fazla"): a reply with one of them beside
# a number is asked again, whatever the vocabulary allows (H4).
NUMBER_QUALIFIER_WORDS: Final[dict[str, frozenset[str]]] = {
    "en": frozenset(
        {"more", "less", "than", "over", "under", "above", "below", "least", "most", "almost", "nearly", "between",
         "not", "no", "plus", "minus", "or", "to", "till", "until", "max", "min", "maximum", "minimum", "higher",
         "lower", "up", "from", "few", "several", "couple", "some", "many", "maybe"}
    ),
    "tr": frozenset(
        {"fazla", "az", "fazlası", "azı", "üstü", "üzeri", "üzerinde", "altı", "altında", "büyük", "küçük",
         "en", "değil", "veya", "yada", "ile", "arası", "arasında", "den", "dan", "ten", "tan", "küsur",
         "geçti", "geçiyor", "neredeyse", "hemen", "birkaç", "kaç", "birçok", "belki"}
    ),
    "de": frozenset(
        {"mehr", "weniger", "als", "über", "unter", "mindestens", "höchstens", "fast", "knapp", "bis", "oder",
         "zwischen", "nicht", "kein", "keine", "plus", "minus", "von", "ab", "paar", "einige", "mehrere",
         "vielleicht"}
    ),
    "ru": frozenset(
        {"больше", "меньше", "более", "менее", "выше", "ниже", "свыше", "до", "от", "почти", "не", "или",
         "между", "плюс", "минус", "максимум", "минимум", "чуть", "нет", "несколько", "пару", "пара",
         "может"}
    ),
    "uk": frozenset(
        {"більше", "менше", "понад", "вище", "нижче", "до", "від", "майже", "не", "або", "чи", "між", "плюс",
         "мінус", "максимум", "мінімум", "ледь", "ні", "кілька", "декілька", "пару", "може"}
    ),
    "az": frozenset(
        {"çox", "az", "artıq", "yuxarı", "aşağı", "üstü", "altı", "dan", "dən", "deyil",
         "və", "yaxud", "arası", "arasında", "azı", "çoxu", "plus", "minus", "neçə", "bəlkə", "yaxın"}
    ),
}  # fmt: skip
