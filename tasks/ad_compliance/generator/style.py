"""Violation forms for gimmicky_formatting, unverifiable_superlatives, fake_endorsements and
clickbait (LABELLING.md).

Gimmicky formatting is built as plain phrase x gimmick: the fix is the plain phrase ("MEGA
SALE!!!" -> "Mega sale."). Some gimmicks are ones the rules catch (capitals of listed words,
"!!!", "$$$", spaced letters, three emoji); others break the same rule of the guide in ways the
rules miss (one shouted word, letters split by hyphens or dots, digits for letters, arrows or
chevrons repeated).
"""

from __future__ import annotations

from collections.abc import Callable

from .forms import RESTORE, Form, family, heldout_keys
from .products import ALL_CATEGORIES as EVERY

# Plain phrases: compliant on their own; the fix of every gimmick built on them.
_PHRASES = ("save big", "mega sale", "new season styles", "shop the sale", "big savings",
            "new arrivals", "order today", "huge deals", "summer sale", "winter warmers",
            "great value", "top deals this week", "fresh stock", "a new look", "weekend sale",
            "this week's offers", "book your trip", "join the club", "treat yourself",
            "deals on everything", "massive discounts", "spring clearance")
_RULE_CAPS = frozenset("FREE NOW HURRY SALE LIMITED URGENT CASH GUARANTEED AMAZING CLICK BONUS "
                       "EXCLUSIVE INSTANTLY TODAY WIN WINNER BEST CHEAP SAVE OFF DEAL HOT NEVER "
                       "ONLY SECRET SHOCKING WOW HUGE MEGA INSANE".split())


def _cap(p: str) -> str:
    return p[0].upper() + p[1:]


def _shout_one(p: str) -> str | None:
    """Capitals on the longest word only, when that word is not one the rules list."""
    words = p.split()
    longest = max(words, key=len)
    if len(longest) < 4 or longest.upper() in _RULE_CAPS:
        return None
    return _cap(" ".join(w.upper() if w is longest else w for w in words)) + "."


def _spell(p: str, sep: str) -> str:
    return " ".join(sep.join(w.upper()) for w in p.split()) + "."


def _leet(p: str) -> str | None:
    out = p.translate(str.maketrans({"e": "3", "a": "4", "o": "0"}))
    return _cap(out) + "." if out != p else None


_GIMMICKS: dict[str, Callable[[str], str | None]] = {
    # Caught by the rules.
    "caps_bang": lambda p: p.upper() + "!!!",
    "bangs": lambda p: _cap(p) + "!!!",
    "dollars": lambda p: f"$$$ {_cap(p)} $$$",
    "spaced": lambda p: " ".join(p.upper().replace(" ", "")) + "." if len(p) <= 12 else None,
    "emoji": lambda p: _cap(p) + " 🔥🔥🔥",
    "interrobang": lambda p: _cap(p) + "?!",
    "stars": lambda p: f"*** {_cap(p)} ***",
    # Missed by the rules.
    "shout_one": _shout_one,
    "hyphens": lambda p: _spell(p, "-") if len(p) <= 14 else None,
    "dots": lambda p: _spell(p, ".") if len(p) <= 12 else None,
    "leet": _leet,
    "arrows": lambda p: f"→→→ {_cap(p)} ←←←",
    "chevrons": lambda p: f">>> {_cap(p)} <<<",
}


def _gimmicky_phrases() -> list[Form]:
    """Every phrase x gimmick; the held-out split is by phrase, like a family's cores."""
    held = heldout_keys([f"gf_phrase:{p}" for p in _PHRASES])
    forms = []
    for phrase in _PHRASES:
        fix = _cap(phrase) + "."
        key = f"gf_phrase:{phrase}"
        for gimmick in _GIMMICKS.values():
            text = gimmick(phrase)
            if text:
                forms.append(Form(("gimmicky_formatting",), text, fix, "body_end", EVERY,
                                  "gf_phrase", key, "heldout" if key in held else "train"))
    return forms


GIMMICKY_FORMATTING: list[Form] = [
    *_gimmicky_phrases(),
    *family("gf_cta", "gimmicky_formatting", "cta", EVERY, "[core]", fixes=(RESTORE,),
            core=("CLICK HERE NOW", "BUY NOW!!!", "SHOP NOW", "Click here >>>", "GET IT NOW",
                  "ORDER TODAY!!", "B-U-Y N-O-W", "Tap here 👉👉👉", "SIGN UP",
                  "DOWNLOAD NOW")),
    *family("gf_head", "gimmicky_formatting", "headline", EVERY, "[core]", fixes=(RESTORE,),
            core=("{headline_upper}!!!", "{headline}!!!", "{headline} 🔥🔥🔥", "{headline}?!",
                  ">>> {headline} <<<", "{headline_upper} 💥💥💥")),
    # Two labels: shouted pressure, shouted "free".
    *family("gf_urgent", ("gimmicky_formatting", "false_urgency"), "body_end", EVERY,
            "[core][tail]", fixes=("", "Available now."),
            core=("HURRY", "ACT NOW", "LAST CHANCE", "ENDS TONIGHT", "DON'T WAIT", "GO GO GO"),
            tail=("!!! Only 2 left!", "!!!", " 🔥🔥🔥", "!! Selling fast.")),
    *family("gf_free", ("gimmicky_formatting", "misleading_pricing"), "body_end", EVERY,
            "[core][tail]",
            core=("100% FREE", "TOTALLY FREE", "FREE FREE FREE", "ABSOLUTELY FREE"),
            tail=("!!!", " for everyone!", " $$$", ", NO CATCH!")),
]

_SUP_SUBJECT = ("{name}", "Our {item}", "This {item}")

UNVERIFIABLE_SUPERLATIVES: list[Form] = [
    *family("us_trigger", "unverifiable_superlatives", "body_end", EVERY,
            "[subject] [core][tail].", subject=_SUP_SUBJECT,
            core=("is the best {item} in the world", "is rated #1 by customers everywhere",
                  "offers unbeatable quality", "is the world's leading {item}",
                  "has the lowest prices online", "is the number one choice for families",
                  "is second to none", "is the most trusted name around",
                  "is the fastest {item} ever made", "is unmatched by anything else",
                  "is the best in the business"),
            tail=("", ", hands down", ", full stop", ", no question")),
    *family("us_head", "unverifiable_superlatives", "headline", EVERY, "[core]",
            fixes=(RESTORE,),
            core=("The best {item} in the world", "The #1 {item}", "The world's finest {item}",
                  "{name}: simply the best", "Unbeatable {item}", "America's favourite {item}",
                  "The only {item} you'll ever need", "No one beats {name}")),
    # No trigger words.
    *family("us_implied", "unverifiable_superlatives", "body_end", EVERY,
            "[subject] [core][tail].", subject=_SUP_SUBJECT,
            core=("beats every other {item} out there", "leaves every competitor in the dust",
                  "outperforms anything else you can buy",
                  "is better than anything else on the market", "is the only {item} worth buying",
                  "has no equal", "sets the standard everyone else follows",
                  "is America's favourite {item}", "is the nation's favourite {item}",
                  "is in a league of its own", "is the last {item} you'll ever need",
                  "is top of its class, no contest"),
            tail=("", ", hands down", ", and everyone knows it")),
    *family("us_nobody", "unverifiable_superlatives", "body_end", EVERY, "[core][tail].",
            core=("Nothing else on the market comes close", "No one makes a comfier {item}",
                  "You won't find a better {item} anywhere", "Nobody beats our prices",
                  "Everyone agrees there's nothing better", "No other brand even comes close",
                  "There is simply no better choice"),
            tail=("", ", hands down", ", and everyone knows it")),
]

_CELEBS = ("Elon Musk", "Oprah", "Taylor Swift", "Gordon Ramsay", "Tom Hanks", "Kim Kardashian",
           "Warren Buffett", "Jennifer Aniston")
_UNNAMED = ("A famous Hollywood actress", "A billionaire tech founder",
            "A world-famous talk-show host", "A Grammy-winning pop star",
            "The nation's favourite TV chef", "A member of the royal family",
            "A Premier League captain", "An Olympic gold medallist")

FAKE_ENDORSEMENTS: list[Form] = [
    *family("fe_celeb", "fake_endorsements", "body_end", EVERY, "[who] [core] {name}[tail].",
            who=_CELEBS, core=("uses", "swears by", "recommends", "has invested in", "loves"),
            tail=("", " every day", ", and so should you")),
    *family("fe_seen", "fake_endorsements", "body_end", EVERY, "[core][tail].",
            core=("As seen on Shark Tank", "Featured on Dragons' Den", "Backed by Elon Musk",
                  "9 out of 10 doctors recommend {name}", "Seven in ten dentists agree",
                  "8 out of 10 nutritionists recommend it", "Endorsed by Oprah"),
            tail=("", ", and now available to you", " (really)")),
    # No trigger words: an unnamed celebrity hint, invented experts, invented official backing.
    *family("fe_unnamed", "fake_endorsements", "body_end", EVERY,
            "[who] [core] {name}[tail].", who=_UNNAMED,
            core=("swears by", "can't live without", "has quietly invested in",
                  "never travels without", "credits their success to"),
            tail=("", " (we can't say who)", ", and told us so")),
    *family("fe_experts", "fake_endorsements", "body_end", EVERY, "[core][tail].",
            core=("Most dermatologists now recommend {name}",
                  "Doctors everywhere are prescribing {name}",
                  "Top nutritionists have approved {name}",
                  "Four in five GPs say they use {name}",
                  "97% of experts agree {name} works",
                  "Leading scientists call {name} a breakthrough"),
            tail=("", ", according to a recent survey", ". Find out why")),
    *family("fe_official", "fake_endorsements", "body_end", EVERY, "[core][tail].",
            core=("Officially endorsed by the World Health Organization",
                  "Approved by the government", "Backed by the Federal Reserve",
                  "Certified by NASA scientists", "Recommended by the Ministry of Health",
                  "As featured on prime-time TV's favourite investor show"),
            tail=("", ", which says it all", " since 2020")),
]

_CB_TAIL = ("", " (see why)", ": find out here", "!")
_CB_BODY_TAIL = (".", "!", ". Read on.", ". See for yourself.", ". The answer is inside.",
                 ". Click to find out.")

CLICKBAIT: list[Form] = [
    *family("cb_trigger", "clickbait", "headline", EVERY, "[core][tail]", fixes=(RESTORE,),
            tail=_CB_TAIL,
            core=("You won't believe what {name} can do", "You won't believe this {item}",
                  "One weird trick for a better morning", "This simple trick changes everything",
                  "Doctors hate this {item}", "Banks don't want you to know this",
                  "The shocking truth about {name}", "What happened next will shock you",
                  "This {item} will blow your mind", "Experts don't want you to know about {name}",
                  "You'll never guess what {name} does", "The shocking secret behind {name}",
                  "Trainers hate this simple trick", "This crazy trick cuts your bills",
                  "What happened next left us stunned")),
    *family("cb_body", "clickbait", "body_start", EVERY, "[core][tail]",
            core=("You won't believe what happened next", "This one weird trick changes everything",
                  "The results will shock you", "Dentists hate this",
                  "What happened next will amaze you", "You won't believe the price",
                  "Lawyers don't want you to know this"),
            tail=_CB_BODY_TAIL),
    # No trigger words: curiosity gaps that hide what the ad offers.
    *family("cb_implied", "clickbait", "headline", EVERY, "[core][tail]", fixes=(RESTORE,),
            tail=_CB_TAIL,
            core=("The secret the big brands are hiding from you",
                  "The one thing banks never tell you",
                  "She tried {name} for a week. Then this happened",
                  "Nobody expected this from {a_item}",
                  "Scientists were left speechless by {name}",
                  "Number 7 will make your jaw drop", "What your bank is hiding from you",
                  "The little-known secret of {item} owners", "Guess what {name} just did",
                  "Click to see what's inside", "Why everyone is suddenly talking about {name}",
                  "It started with one {item}. The ending is unreal",
                  "The real reason people switch to {name}", "Look what this {item} can do",
                  "Only a few people know this about {name}")),
    *family("cb_implied_body", "clickbait", "body_start", EVERY, "[core][tail]",
            core=("Find out what happened when she tried {name}",
                  "The reason will surprise you", "Nobody saw this coming",
                  "Wait until you see the final picture", "Insiders are furious about this",
                  "There's one thing they never tell you", "You have to see how this ends",
                  "Nobody believed it until they saw the photos"),
            tail=_CB_BODY_TAIL),
]
