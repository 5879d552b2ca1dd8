"""The rule patterns, one finder per policy: ``FINDERS[policy_id](ad) -> list[Evidence]``.

Rules aim at high precision: they fire on stereotyped wording ("act now", "lose 20 lbs",
"100% free", "#1") and leave paraphrases and judgement calls to the model. Spans returned here
may overlap; :func:`tasks.ad_compliance.detectors.detect` merges and sorts them. Patterns accept
straight and curly apostrophes and are case-insensitive unless capitals are the point.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from .datatypes import Ad, Evidence

Finder = Callable[[Ad], list[Evidence]]

_I = re.IGNORECASE
A = r"['’]"  # straight or curly apostrophe


def _rx(pattern: str, flags: int = _I) -> re.Pattern[str]:
    return re.compile(pattern, flags)


def _find(ad: Ad, patterns: Sequence[re.Pattern[str]],
          keep: Callable[[str, re.Match[str]], bool] | None = None) -> list[Evidence]:
    """Evidence for every match of ``patterns`` in every present field (``keep`` filters)."""
    found = []
    for field, text in ad.fields():
        for pattern in patterns:
            for m in pattern.finditer(text):
                if m.end() > m.start() and (keep is None or keep(text, m)):
                    found.append(Evidence.at(ad, field, m.start(), m.end()))
    return found


def _any(ad: Ad, pattern: re.Pattern[str]) -> bool:
    return any(pattern.search(text) for _, text in ad.fields())


# --- health_claims -----------------------------------------------------------------------------
_DISEASE = (rf"(?:cancer|tumou?rs?|(?:type\s+[12]\s+)?diabetes|arthritis|alzheimer{A}?s|dementia"
            rf"|covid(?:-19)?|coronavirus|the\s+flu|influenza|hiv|aids|heart\s+disease|depression"
            rf"|anxiety|autism|asthma|hypertension|high\s+blood\s+pressure|acne|psoriasis|eczema"
            rf"|insomnia|tinnitus|infections?|diseases?|illness(?:es)?|chronic\s+pain|migraines?"
            rf"|parkinson{A}?s|erectile\s+dysfunction|hair\s+loss|baldness|herpes|allergies)")
_CURE_VERB = (r"(?:cure[sd]?|curing|heal(?:s|ed)?|reverse[sd]?|reversing|eliminate[sd]?"
              r"|eradicate[sd]?|gets?\s+rid\s+of|wipes?\s+out|destroys?|kills?|beats?)")
_HEALTH = (
    _rx(rf"\b{_CURE_VERB}\s+(?:(?:your|the|all|any|most)\s+)?(?:[\w-]+\s+){{0,2}}?{_DISEASE}\b"),
    _rx(rf"\b(?:miracle|permanent|guaranteed)\s+(?:cure|remedy|treatment)\b"),
    _rx(rf"\b(?:cure|remedy)\s+for\s+(?:[\w-]+\s+){{0,2}}?{_DISEASE}\b"),
    _rx(r"\b(?:no\s+more|stop\s+taking|throw\s+away|ditch|replaces?)\s+(?:your\s+|all\s+)?"
        r"(?:[\w-]+\s+)?(?:medications?|meds|pills|insulin|prescriptions?|chemo(?:therapy)?"
        r"|inhalers?)\b"),
)


def _health_claims(ad: Ad) -> list[Evidence]:
    return _find(ad, _HEALTH)


# --- guaranteed_returns ------------------------------------------------------------------------
_FIN = (r"(?:returns?|profits?|income|earnings|gains|yields?|payouts?|roi|dividends?"
        r"|money(?!\s*-?\s*back)|cash|wealth|\d+(?:\.\d+)?\s*%)")
_RETURNS = (
    _rx(rf"\bguarantee[ds]?\s+(?:(?:[\w$,-]|\.(?=\d))+\s+){{0,3}}?{_FIN}(?!\w)"),
    _rx(r"\b(?:returns?|profits?|income|earnings|gains|payouts?)\s+(?:(?:are|is)\s+)?"
        r"(?:\w+\s+){0,2}?guaranteed\b"),
    _rx(r"\b(?:double|triple|10x|multiply)\s+your\s+(?:money|investments?|savings|cash|income"
        r"|bitcoin|crypto)\b"),
    _rx(r"\b(?:risk[- ]free|zero[- ]risk|no[- ]risk)\s+(?:\w+\s+)?(?:investments?|investing"
        r"|returns?|profits?|trading|income|gains)\b"),
    _rx(rf"\b(?:can{A}?t|cannot|never|won{A}?t)\s+lose\s+(?:money|a\s+(?:penny|dime|cent))\b"),
    _rx(r"\b(?:earn|make)\s+(?:up\s+to\s+|over\s+|at\s+least\s+)?[$£€]\s?\d[\d,]*(?:\.\d+)?k?\+?"
        r"\s*(?:(?:a|per|each|every)\s+|/\s*)(?:day|week)\b"),
)


def _guaranteed_returns(ad: Ad) -> list[Evidence]:
    return _find(ad, _RETURNS)


# --- misleading_pricing ------------------------------------------------------------------------
_PRICING = (
    _rx(r"(?:\b100\s?%|\b(?:totally|absolutely|completely|entirely|truly))\s+free\b"),
    _rx(r"\bfree\s+(?:brand[- ]new\s+)?(?:i?phones?(?:\s+\d+)?|ipads?|laptops?|tvs?|cash|money"
        r"|cars?|ps5|playstation|xbox)\b"),
    _rx(rf"\bno\s+strings\s+attached\b|\bno\s+catch\b|\bwon{A}?t\s+cost\s+(?:you\s+)?a\s+"
        r"(?:penny|dime|cent|thing)\b"),
    _rx(r"\b(?:just|only)\s+pay\s+(?:for\s+)?(?:shipping|postage|s&h|handling)\b"),
)


def _misleading_pricing(ad: Ad) -> list[Evidence]:
    return _find(ad, _PRICING)


# --- false_urgency -----------------------------------------------------------------------------
_URGENCY = (
    _rx(r"\bact\s+(?:now|fast|quickly|immediately|today)\b"),
    _rx(r"(?<!no )\bhurry(?:\s+up)?\b"),
    _rx(r"\b(?:only|just)\s+\d+\s+(?:\w+\s+)?(?:left|remaining|spots?|seats?|places?|units?"
        r"|items?|available)\b"),
    _rx(rf"\blast\s+chance\b|\bnow\s+or\s+never\b|\bbefore\s+it{A}?s\s+(?:too\s+late|gone)\b"),
    _rx(r"\b(?:expires?|ends?)\s+in\s+(?:just\s+|only\s+)?\d+\s+(?:minutes?|mins?|hours?|hrs?)\b"),
    _rx(rf"\b(?:selling|going|running)\s+out\s+fast\b|\bselling\s+fast\b"
        rf"|\bdon{A}?t\s+wait\b(?!\s+(?:in\s+line|on\s+hold|around))"),
    _rx(r"\btime\s+is\s+running\s+out\b|\bclock\s+is\s+ticking\b|\bwhile\s+you\s+still\s+can\b"),
)


def _false_urgency(ad: Ad) -> list[Evidence]:
    return _find(ad, _URGENCY)


# --- weight_loss_claims ------------------------------------------------------------------------
_WEIGHT_CONTEXT = _rx(r"\b(?:weight|fat|slim(?:mer|ming)?|pounds|lbs|kg|kilos|diet|belly|waist"
                      r"|dress\s+sizes?|keto|calories)\b")
_WEIGHT = (
    _rx(r"\b(?:lose|lost|losing|drop(?:ped)?|shed|melt(?:ed)?\s+off|burn(?:ed)?\s+off)\s+"
        r"(?:up\s+to\s+|over\s+|an?\s+(?:extra\s+)?)?\d+\+?\s*(?:lbs?|pounds|kgs?|kilos?"
        r"|kilograms|stone|dress\s+sizes|sizes|inches)\b"),
    _rx(r"\b(?:lose|losing)\s+weight\s+(?:fast|quickly|rapidly|overnight|instantly)\b"
        r"|\brapid\s+weight\s+loss\b|\bmiracle\s+(?:diet|pill|weight[- ]loss)\b"),
    _rx(r"\b(?:melts?|blasts?|torch(?:es)?|dissolves?|zaps?)\s+(?:away\s+)?(?:\w+\s+)?fat\b"),
    _rx(r"\bburns?\s+(?:\w+\s+)?fat\s+(?:fast|while\s+you\s+sleep|overnight|instantly)\b"),
)
_WEIGHT_IN_CONTEXT = (
    _rx(r"\bwithout\s+(?:any\s+)?(?:diet(?:ing|s)?|exercise|exercising|(?:going\s+to\s+)?the\s+gym)"
        r"\b"),
    _rx(r"\bbefore\s*(?:and|&|/|-|\+)\s*after\b"),
)


def _weight_loss_claims(ad: Ad) -> list[Evidence]:
    found = _find(ad, _WEIGHT)
    if found or _any(ad, _WEIGHT_CONTEXT):
        found += _find(ad, _WEIGHT_IN_CONTEXT)
    return found


# --- prohibited_products -----------------------------------------------------------------------
_TOBACCO = _rx(r"\b(?:cigarettes?|cigars?|cigarillos?|vapes?|vaping|e-?cigs?|e-?cigarettes?"
               r"|e-?liquids?|e-?juice|nicotine(?:\s+pouches)?|chewing\s+tobacco|tobacco|snus"
               r"|hookah|shisha|juul)\b")
_CESSATION = _rx(r"\b(?:quit(?:ting)?|stop(?:ping)?|give\s+up|giving\s+up|kick)\s+(?:\w+\s+)?"
                 r"(?:smoking|vaping|cigarettes|nicotine|tobacco|the\s+habit)\b|\bnicotine\s+"
                 r"(?:patch(?:es)?|gum|replacement|lozenges?)\b|\bsmok(?:e|ing)[- ]free\b"
                 r"|\bsmoking\s+cessation\b")
_WEAPONS = _rx(r"\b(?:guns?|firearms?|rifles?|shotguns?|pistols?|handguns?|revolvers?|ammo"
               r"|ammunition|ar-?15s?|ak-?47s?|glocks?|silencers?|suppressors?|switchblades?"
               r"|butterfly\s+knives|brass\s+knuckles|explosives|grenades?|tasers?|crossbows?)\b")
_NOT_WEAPON_BEFORE = re.compile(r"(?:water|glue|nerf|massage|heat|staple|nail|spray|paint|squirt"
                                r"|toy|bubble|caulk(?:ing)?|grease|foam|soldering|top|airbrush"
                                r"|tattoo|label|price|riding)[\s-]*$", _I)
_NOT_WEAPON_AFTER = re.compile(r"^[\s-]*(?:metal|grey|gray|squats?|start)\b", _I)
_DRUGS = _rx(r"\b(?:cannabis|marijuana|weed|thc|cocaine|mdma|magic\s+mushrooms?|shrooms"
             r"|psilocybin|lsd|ketamine|heroin|meth(?:amphetamine)?|poppers|kratom|delta-?8|dmt)\b")
_NOT_DRUG_BEFORE = re.compile(r"(?:garden|lawn|kill|pull|sea)[\s-]*$", _I)
_NOT_DRUG_AFTER = re.compile(r"^[\s-]*(?:killers?|control|whackers?|eaters?|barriers?|free"
                             r"|pullers?|membranes?|block)\b", _I)


def _context_ok(before: re.Pattern[str], after: re.Pattern[str]) -> Callable[[str, re.Match[str]],
                                                                            bool]:
    def keep(text: str, m: re.Match[str]) -> bool:
        return not before.search(text[max(0, m.start() - 20):m.start()]) \
            and not after.search(text[m.end():m.end() + 20])
    return keep


def _prohibited_products(ad: Ad) -> list[Evidence]:
    found = [] if _any(ad, _CESSATION) else _find(ad, [_TOBACCO])
    found += _find(ad, [_WEAPONS], _context_ok(_NOT_WEAPON_BEFORE, _NOT_WEAPON_AFTER))
    found += _find(ad, [_DRUGS], _context_ok(_NOT_DRUG_BEFORE, _NOT_DRUG_AFTER))
    return found


# --- alcohol_minors ----------------------------------------------------------------------------
_ALCOHOL = _rx(r"(?<!non-)(?<!non )\b(?:beers?|lagers?|ales|ale|ipas?|ciders?|wines?|vodka"
               r"|whiske?y|rum|gin|tequila|liquor|booze|alcohol(?:ic)?|cocktails?|hard\s+seltzers?"
               r"|alcopops?|jell-?o\s+shots|prosecco|champagne|brandy|bourbon|schnapps)\b"
               r"(?![\s-]*(?:free|vinegar|gums?)\b)")
_YOUTH = _rx(r"\b(?:teens?|teenagers?|teenage|kids|children|minors?|underage|under-age"
             r"|high[\s-]*school(?:ers?)?|middle\s+school|schoolkids|under\s+(?:18|21)"
             r"|1[0-7][- ]year[- ]olds?|back[- ]to[- ]school|prom|tweens?|junior\s+high)\b")
_ADULT_DISCLAIMER = _rx(r"\bnot\s+(?:intended\s+)?for\s+(?:sale\s+to\s+)?(?:anyone|persons|people"
                        r"|those|individuals)\s+under\s+(?:\d+|the\s+(?:legal\s+)?(?:drinking\s+)?"
                        r"age)|\bno\s*one\s+under\s+\d+|\bkeep\s+out\s+of\s+(?:the\s+)?reach\s+of"
                        r"\s+children|\badults?\b|\bgrown-?ups\b|\bparents\b")
_SENTENCE = re.compile(r"[^.!?\n]+")


def _alcohol_minors(ad: Ad) -> list[Evidence]:
    """Alcohol and youth terms in the same sentence, unless the sentence addresses adults."""
    found = []
    for field, text in ad.fields():
        for sent in _SENTENCE.finditer(text):
            s = sent.group()
            if _ADULT_DISCLAIMER.search(s):
                continue
            drinks = list(_ALCOHOL.finditer(s))
            youth = list(_YOUTH.finditer(s))
            if drinks and youth:
                found += [Evidence.at(ad, field, sent.start() + m.start(), sent.start() + m.end())
                          for m in drinks + youth]
    return found


# --- personal_attributes -----------------------------------------------------------------------
_STATE = (r"(?:in\s+debt|drowning\s+in\s+debt|broke|bankrupt|unemployed|jobless|out\s+of\s+work"
          r"|poor|overweight|obese|fat|depressed|lonely|single|divorced|pregnant|infertile"
          r"|diabetic|disabled|addicted|an\s+addict|an\s+alcoholic|balding|going\s+bald|bald|gay"
          r"|lesbian|bisexual|transgender|christian|muslim|jewish|catholic|hindu|atheist"
          r"|over\s+\d\d|a\s+senior|impotent|a\s+smoker|anxious|struggling\s+financially"
          r"|behind\s+on\s+(?:your\s+)?(?:bills|rent|mortgage|payments))")
_COND = (r"(?:(?:credit\s+card\s+)?debt|bad\s+credit|poor\s+credit|depression|anxiety|diabetes"
         r"|hair\s+loss|erectile\s+dysfunction|impotence|infertility|an\s+std|stds|herpes|hiv"
         r"|cancer|addiction|alcoholism|acne|insomnia|adhd|ptsd|bipolar(?:\s+disorder)?|menopause"
         r"|ibs|arthritis|obesity|excess\s+weight|belly\s+fat|loneliness|money\s+problems"
         r"|financial\s+problems|chronic\s+pain|back\s+pain|a\s+disability)")
_ATTRIBUTES = (
    _rx(rf"\bare\s+you\s+(?:still\s+|currently\s+|really\s+|secretly\s+)?{_STATE}\b"),
    _rx(rf"\b(?:do|did)\s+you\s+(?:have|suffer\s+from|struggle\s+with|live\s+with|battle|owe)\s+"
        rf"(?:\w+\s+)?{_COND}\b"),
    _rx(rf"\b(?:struggling|suffering|dealing|living|battling|coping)\s+(?:with|from)\s+"
        rf"(?:\w+\s+)?{_COND}\b(?=[^.!?\n]{{0,40}}\?)"),
    _rx(rf"\byou(?:{A}re|\s+are)\s+(?:\w+\s+)?{_STATE}\b"),
    _rx(rf"\b(?:tired\s+of\s+being|hate\s+being|embarrassed\s+(?:by|about)\s+your)\s+(?:\w+\s+)?"
        rf"(?:{_STATE}|{_COND})\b"),
    _rx(r"\bother\s+(?:christian|muslim|jewish|catholic|hindu|gay|lesbian|divorced|single)\s+"
        r"(?:singles|men|women|people|parents)\b"),
)


def _personal_attributes(ad: Ad) -> list[Evidence]:
    return _find(ad, _ATTRIBUTES)


# --- gimmicky_formatting -----------------------------------------------------------------------
_EMOJI = "[\U0001F300-\U0001FAFF\u2600-\u27BF]\ufe0f?"
_GIMMICK = (
    _rx(r"[!?]{2,}"),
    _rx(r"([$*#@%&~^+=€£•✓✔❗])\1{2,}"),
    _rx(r"\b(?:[A-Za-z] ){3,}[A-Za-z]\b", 0),
    _rx(r"(?<![\w$€£])(?:[A-Za-z]+[$€£][A-Za-z]+|[$€£][A-Za-z]{2,})\b"),
    _rx(rf"{_EMOJI}(?:\s*{_EMOJI}){{2,}}"),
    _rx(r"\b(?:FREE|NOW|HURRY|SALE|LIMITED|URGENT|CASH|GUARANTEED|AMAZING|CLICK|BONUS|EXCLUSIVE"
        r"|INSTANTLY|TODAY|WIN|WINNER|BEST|CHEAP|SAVE|OFF|DEAL|HOT|NEVER|ONLY|SECRET|SHOCKING"
        r"|WOW|HUGE|MEGA|INSANE)\b", 0),
)
_CAPS_RUN = re.compile(r"\b[A-Z]{2,}\b(?:[\s:/-]+\b[A-Z]{2,}\b)+")
ACRONYMS = frozenset(
    "USA UK EU US UAE FDA NASA FAQ USB HD TV PC AI SUV BBQ ATM APR AER ISA VAT SMS GPS LED DIY CEO "
    "MBA IELTS TOEFL SAT GMAT NHS CBD VPN API PDF IOS NYC LA IT HR PR TM UV SPF ID PIN OK AM PM "
    "BMW IKEA HSBC NFL NBA CPA MD PHD RSVP ETA FYI HTML CSS SQL AWS PHP JSON XML HTTP URL SEO CRM "
    "GDPR ASAP DJ MP3 4K USD GBP EUR ML NYSE SEC IRS DMV".split())


def _caps_runs(text: str, m: re.Match[str]) -> bool:
    words = [w for w in re.findall(r"[A-Z]{2,}", m.group()) if w not in ACRONYMS]
    return len(words) >= 2 and sum(map(len, words)) >= 6


def _gimmicky_formatting(ad: Ad) -> list[Evidence]:
    return _find(ad, _GIMMICK) + _find(ad, [_CAPS_RUN], _caps_runs)


# --- unverifiable_superlatives -----------------------------------------------------------------
_PLACE = r"(?:world|planet|earth|market|country|nation|town|city|industry|business|universe)"
_SUPERLATIVE = (
    _rx(r"(?<![\w&])#\s?1\b(?!\s*(?:new\s+york\s+times|nyt)\b)"),
    _rx(r"\b(?:number\s+(?:one|1)|no\.\s?1)\s+(?:choice|brand|app|rated|selling|seller|product"
        r"|provider|platform|site|service|solution|in|for)\b"),
    _rx(rf"(?<!for )(?<!all )\b(?:the|(?:world|america|britain|uk|europe|canada|australia|town|city"
        rf"|earth|planet|nation|country){A}s)\s+(?:very\s+)?best\b(?!\s+(?:of|regards|wishes"
        rf"|part|way\s+to\s+(?:reach|contact))\b)"),
    _rx(rf"\bbest[- ]in[- ](?:class|town|the\s+{_PLACE})\b"
        rf"|\bbest\s+(?:\w+\s+){{0,2}}?(?:in|on)\s+(?:the\s+)?{_PLACE}\b"),
    _rx(rf"\bworld{A}?s\s+(?:leading|greatest|finest|fastest|cheapest|first|strongest|smartest"
        rf"|largest|biggest|top|most\s+\w+)\b"),
    _rx(r"\bthe\s+(?:greatest|finest|fastest|cheapest|smartest|lowest\s+prices?|highest[- ]rated"
        r"|top[- ]rated|leading|most\s+(?:trusted|effective|popular|advanced|powerful|reliable"
        r"|comfortable|accurate|affordable))\b"),
    _rx(r"\b(?:unbeatable|unmatched|unrivall?ed|unparalleled|second\s+to\s+none)\b"
        r"|\blowest\s+prices?\s+(?:guaranteed|anywhere|in\s+town|online)\b"),
)


def _unverifiable_superlatives(ad: Ad) -> list[Evidence]:
    return _find(ad, _SUPERLATIVE)


# --- fake_endorsements -------------------------------------------------------------------------
_CELEB = (r"(?:elon\s+musk|oprah(?:\s+winfrey)?|jeff\s+bezos|bill\s+gates|warren\s+buffett"
          r"|mark\s+zuckerberg|martin\s+lewis|dr\.?\s+oz|tom\s+hanks|keanu\s+reeves|taylor\s+swift"
          r"|kim\s+kardashian|jennifer\s+aniston|cristiano\s+ronaldo|beyonc[eé]|gordon\s+ramsay"
          r"|prince\s+harry|king\s+charles|shark\s+tank|dragons?['’]?\s+den)")
_ENDORSE = (r"(?:recommends?|endorses?|uses?|used|backs?|backed|invest(?:s|ed)?|swears?\s+by"
            r"|approves?|approved|loves?|reveals?|revealed|trusts?|praises?)")
_ENDORSEMENTS = (
    _rx(rf"\b{_CELEB}(?:{A}s?)?\s+(?:\w+\s+)?{_ENDORSE}\b"),
    _rx(rf"\b(?:as\s+seen\s+on|featured\s+on|backed\s+by|endorsed\s+by|recommended\s+by"
        rf"|approved\s+by|loved\s+by|invested\s+in\s+by)\s+{_CELEB}\b"),
    _rx(r"\b(?:\d|nine|eight|seven)\s+(?:out\s+of|in)\s+(?:10|ten)\s+(?:doctors|dentists"
        r"|dermatologists|experts|nutritionists|physicians)\s+(?:recommend|agree|approve)\b"),
)


def _fake_endorsements(ad: Ad) -> list[Evidence]:
    return _find(ad, _ENDORSEMENTS)


# --- clickbait ---------------------------------------------------------------------------------
_CLICKBAIT = (
    _rx(rf"\byou\s+(?:won{A}?t|will\s+not|wouldn{A}?t)\s+believe\b|\byou{A}ll\s+never\s+guess\b"),
    _rx(r"\bwhat\s+happen(?:s|ed)\s+next\b"),
    _rx(r"\b(?:this|one|1)\s+(?:weird|simple|strange|odd|crazy|bizarre|little)\s+trick\b"),
    _rx(rf"\b(?:doctors|dentists|banks|experts|dermatologists|lawyers|trainers|realtors)\s+"
        rf"(?:hate|don{A}?t\s+want\s+you\s+to\s+know)\b|\bdon{A}?t\s+want\s+you\s+to\s+know\b"),
    _rx(r"\b(?:will|would)\s+(?:shock|amaze|stun|blow\s+your\s+mind|leave\s+you\s+speechless)\b"),
    _rx(r"\b(?:shocking|jaw-dropping|mind-blowing)\s+(?:secret|truth|reason|discovery|results?)\b"),
)


def _clickbait(ad: Ad) -> list[Evidence]:
    return _find(ad, _CLICKBAIT)


FINDERS: dict[str, Finder] = {
    "health_claims": _health_claims,
    "guaranteed_returns": _guaranteed_returns,
    "misleading_pricing": _misleading_pricing,
    "false_urgency": _false_urgency,
    "weight_loss_claims": _weight_loss_claims,
    "prohibited_products": _prohibited_products,
    "alcohol_minors": _alcohol_minors,
    "personal_attributes": _personal_attributes,
    "gimmicky_formatting": _gimmicky_formatting,
    "unverifiable_superlatives": _unverifiable_superlatives,
    "fake_endorsements": _fake_endorsements,
    "clickbait": _clickbait,
}
