"""Building blocks of the synthetic labelled ads (see :mod:`tasks.ad_compliance.data`).

Products give compliant copy; snippets inject one policy violation each (some also carry a
second label, e.g. shouting capitals plus false urgency); hard negatives are compliant sentences
that look like violations (free shipping, money-back guarantee, drink-responsibly notices).
About half of each policy's snippets use the stereotyped wording the rule detectors catch and
half are paraphrases they miss, so the model has something to learn beyond the rules.

Placeholders: ``{name}`` (brand), ``{item}`` (product noun phrase), ``{headline_upper}`` (the
product's plain headline in capitals).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Slot = Literal["headline", "body_start", "body_end", "cta"]

ANY = ("app", "supplement", "fitness", "finance", "retail", "travel", "education", "beauty",
       "food", "software", "alcohol")
PROHIBITED_CATEGORIES = ("tobacco", "weapons", "drugs")


@dataclass(frozen=True)
class Product:
    category: str
    name: str
    item: str
    benefit: str
    offer: str
    cta: str


@dataclass(frozen=True)
class Snippet:
    slot: Slot
    text: str
    labels: tuple[str, ...]
    categories: tuple[str, ...] = ANY


P = Product
PRODUCTS: tuple[Product, ...] = (
    P("app", "Tempo", "budget planner app", "See where your money goes each month.",
      "Free 14-day trial, then $4.99 a month.", "Download"),
    P("app", "Lingo Leap", "language learning app", "Learn Spanish in short daily lessons.",
      "First month $1, cancel anytime.", "Get the app"),
    P("app", "SleepWell", "sleep tracking app", "Track your sleep and build a calmer bedtime "
      "routine.", "Free to download; premium plans from $3.99 a month.", "Download"),
    P("app", "BreatheEasy", "quit-smoking app", "Daily coaching to help you quit smoking for "
      "good.", "Free to download.", "Download"),
    P("supplement", "VitaDaily", "multivitamin", "A daily multivitamin with vitamin D and zinc.",
      "60 tablets for $12.99.", "Shop now"),
    P("supplement", "OmegaPure", "fish oil capsules", "Omega-3 capsules from sustainably caught "
      "fish.", "Subscribe and save 10% on every order.", "Shop now"),
    P("supplement", "GreenBoost", "greens powder", "A greens powder with spinach, kale and "
      "spirulina.", "Free shipping on orders over $40.", "Buy now"),
    P("fitness", "PulseFit", "home workout programme", "Twenty-minute workouts you can do in "
      "your living room.", "Join for $9.99 a month.", "Join today"),
    P("fitness", "TrailRun", "trail running shoes", "Lightweight shoes with extra grip for wet "
      "paths.", "Now $89, down from $110.", "Shop now"),
    P("finance", "Northstar Savings", "savings account", "An easy-access savings account with "
      "no monthly fees.", "3.9% AER variable on balances up to $50,000.", "Open an account"),
    P("finance", "Ledgerly", "investing app", "Build a diversified portfolio of index funds.",
      "No account fees for the first year. Capital at risk.", "Start investing"),
    P("finance", "ClearPath", "cashback credit card", "Earn cashback on groceries and fuel.",
      "1% cashback; 24.9% APR representative.", "Apply now"),
    P("retail", "Oak & Thread", "linen bedding", "Soft washed-linen sheets in twelve colours.",
      "20% off bedding this week.", "Shop the sale"),
    P("retail", "Brightside", "LED desk lamp", "A dimmable desk lamp with a USB charging port.",
      "$39 with free delivery.", "Buy now"),
    P("retail", "SplashZone", "water blasters", "Water guns and splash toys for summer in the "
      "garden.", "From $8.", "Shop toys"),
    P("travel", "Bluewave Travel", "Greek island holiday", "Seven nights in Crete with flights "
      "and hotel included.", "From $899 per person.", "Book now"),
    P("travel", "RailPass Europe", "rail pass", "Travel across 33 countries with one flexible "
      "pass.", "Passes from $250.", "See passes"),
    P("education", "CodeCamp Online", "web development course", "A 12-week course in HTML, CSS "
      "and JavaScript with mentor support.", "Next cohort starts 3 March; payment plans "
      "available.", "Apply now"),
    P("education", "MathMentor", "online maths tutoring", "One-to-one tutoring for students "
      "aged 11 to 16.", "First lesson free.", "Book a lesson"),
    P("beauty", "Glow Lab", "vitamin C serum", "A lightweight serum with vitamin C and "
      "hyaluronic acid.", "$24 for 30 ml.", "Shop now"),
    P("food", "Harvest Box", "meal kit", "Fresh ingredients and simple recipes delivered "
      "weekly.", "Get 50% off your first box.", "Order now"),
    P("food", "Bean There", "coffee subscription", "Freshly roasted beans delivered every two "
      "weeks.", "Your first bag is $5.", "Subscribe"),
    P("software", "TaskHive", "project management tool", "Plan projects, assign tasks and track "
      "deadlines in one place.", "Free for teams of up to 5.", "Start free"),
    P("alcohol", "Copper Hill Brewery", "pale ale", "A crisp pale ale brewed with local hops.",
      "Six-pack $11.99. Enjoy responsibly.", "Find a stockist"),
    P("alcohol", "Vina Sol", "dry rosé", "A dry rosé from southern Spain for summer evenings.",
      "$14 a bottle. For adults 21+ only.", "Shop wine"),
    P("alcohol", "Northern Lights", "small-batch vodka", "Small-batch vodka distilled five "
      "times.", "Please drink responsibly.", "Learn more"),
    # Prohibited products: an ad for any of these is labelled prohibited_products.
    P("tobacco", "CloudNine", "disposable vapes", "Disposable vapes in 20 fruit flavours.",
      "Packs of 5 from $25.", "Shop vapes"),
    P("tobacco", "Havana Reserve", "hand-rolled cigars", "Hand-rolled cigars aged for three "
      "years.", "Sampler box $49.", "Shop cigars"),
    P("weapons", "Ridgeline Arms", "hunting rifles", "Bolt-action hunting rifles and "
      "ammunition.", "Free scope with every rifle this month.", "Visit store"),
    P("drugs", "GreenLeaf", "THC gummies", "THC gummies in mango and berry.",
      "Discreet delivery nationwide.", "Order now"),
    P("drugs", "Mystic Caps", "microdose capsules", "Microdose magic mushroom capsules for "
      "creative days.", "Ships in plain packaging.", "Order now"),
)

HEADLINES = ("{name}", "Meet {name}", "{name}: {item}", "New from {name}: {item}",
             "Try the {item} from {name}")
BODIES = ("{benefit} {offer}", "{benefit} {name} makes it simple. {offer}",
          "Introducing {name}, a {item}. {benefit} {offer}", "{name}: {benefit} {offer}")

S = Snippet
_HEALTH = ("supplement", "beauty", "food", "fitness")
_PERSONAL_HEALTH = ("app", "supplement")
_BODY = ("supplement", "fitness", "food")
SNIPPETS: dict[str, tuple[Snippet, ...]] = {
    "health_claims": (
        S("body_end", "{name} cures arthritis naturally.", ("health_claims",), _HEALTH),
        S("body_end", "Doctors are stunned: {name} reverses type 2 diabetes in weeks.",
          ("health_claims",), _HEALTH),
        S("headline", "The natural cure for anxiety", ("health_claims",), _HEALTH),
        S("body_end", "Shown to wipe out infections in 24 hours.", ("health_claims",), _HEALTH),
        S("body_end", "Say goodbye to joint pain forever with {name}.", ("health_claims",),
          _HEALTH),
        S("body_end", "Stop taking your blood pressure tablets and switch to {name}.",
          ("health_claims",), _HEALTH),
        S("body_end", "Boosts your immunity so you never catch a cold again.",
          ("health_claims",), _HEALTH),
    ),
    "guaranteed_returns": (
        S("body_end", "Guaranteed returns of 12% a year.", ("guaranteed_returns",), ("finance",)),
        S("headline", "Double your money in 30 days", ("guaranteed_returns",), ("finance",)),
        S("body_end", "Our members earn $300 a day with {name}.", ("guaranteed_returns",),
          ("finance",)),
        S("body_end", "Risk-free investing with fixed 15% monthly profits.",
          ("guaranteed_returns",), ("finance",)),
        S("body_end", "You simply cannot lose: profits land every single month.",
          ("guaranteed_returns",), ("finance",)),
        S("body_end", "Your balance will grow every month, whatever the markets do.",
          ("guaranteed_returns",), ("finance",)),
    ),
    "misleading_pricing": (
        S("headline", "Get {name} totally free", ("misleading_pricing",)),
        S("body_end", "Claim your free iPhone with every order.", ("misleading_pricing",)),
        S("body_end", "It's yours free, no strings attached.", ("misleading_pricing",)),
        S("body_end", "Try it for $0 today, just pay shipping.", ("misleading_pricing",)),
        S("body_end", "Everything is 90% off, prices slashed below cost for good.",
          ("misleading_pricing",)),
        S("body_end", "Costs nothing at all (small monthly fee applies after signup).",
          ("misleading_pricing",)),
    ),
    "false_urgency": (
        S("body_end", "Hurry, only 3 left in stock!", ("false_urgency",)),
        S("body_end", "Act now, this offer disappears forever tonight.", ("false_urgency",)),
        S("headline", "Last chance to get {name}", ("false_urgency",)),
        S("body_end", "This price expires in 10 minutes.", ("false_urgency",)),
        S("body_end", "Thousands are grabbing this deal right now, so decide quickly.",
          ("false_urgency",)),
        S("body_end", "Your reserved spot will be released to someone else within the hour.",
          ("false_urgency",)),
    ),
    "weight_loss_claims": (
        S("headline", "Lose 20 lbs in 3 weeks", ("weight_loss_claims",), _BODY),
        S("body_end", "Melt belly fat while you sleep.", ("weight_loss_claims",), _BODY),
        S("body_end", "See the before and after photos: one customer dropped 4 dress sizes.",
          ("weight_loss_claims",), _BODY),
        S("body_end", "Slim down without diet or exercise.", ("weight_loss_claims",), _BODY),
        S("body_end", "Our customers shrink their waistlines in days.", ("weight_loss_claims",),
          _BODY),
    ),
    "prohibited_products": (
        S("body_end", "We now also stock vape pens and e-liquids.", ("prohibited_products",),
          ("retail",)),
        S("body_end", "Also in store: stun guns and pepper spray.", ("prohibited_products",),
          ("retail",)),
    ),
    "alcohol_minors": (
        S("headline", "The beer teens are talking about", ("alcohol_minors",), ("alcohol",)),
        S("body_end", "Sneak a can of our lager into prom.", ("alcohol_minors",), ("alcohol",)),
        S("body_end", "Back-to-school special: cocktails for students of every age.",
          ("alcohol_minors",), ("alcohol",)),
        S("body_end", "Perfect for your high school graduation party!", ("alcohol_minors",),
          ("alcohol",)),
        S("body_end", "Fun fruity flavours that even the youngest drinkers enjoy.",
          ("alcohol_minors",), ("alcohol",)),
    ),
    "personal_attributes": (
        S("headline", "Are you drowning in debt?", ("personal_attributes",), ("finance",)),
        S("body_start", "Do you have bad credit?", ("personal_attributes",), ("finance",)),
        S("body_start", "We know money is tight for you right now.", ("personal_attributes",),
          ("finance",)),
        S("body_start", "Struggling with anxiety?", ("personal_attributes",), _PERSONAL_HEALTH),
        S("body_start", "You're depressed and you deserve help.", ("personal_attributes",),
          _PERSONAL_HEALTH),
        S("headline", "Tired of being overweight?", ("personal_attributes",), _BODY),
        S("body_start", "Embarrassed by your acne?", ("personal_attributes",), ("beauty",)),
    ),
    "shocking_content": (
        S("headline", "Horrifying: what is rotting inside your body", ("shocking_content",),
          _HEALTH),
        S("body_start", "Millions will die this winter and you could be next.",
          ("shocking_content",)),
        S("body_start", "Graphic warning: blood, guts and twisted metal after a crash.",
          ("shocking_content",), ("travel", "finance")),
        S("body_end", "Disgusting parasites could be living in you right now.",
          ("shocking_content",), ("supplement", "food")),
    ),
    "gimmicky_formatting": (
        S("headline", "{headline_upper}!!!", ("gimmicky_formatting",)),
        S("body_end", "$$$ Save big $$$", ("gimmicky_formatting",)),
        S("cta", "CLICK HERE NOW", ("gimmicky_formatting",)),
        S("body_end", "F R E E delivery.", ("gimmicky_formatting",)),
        S("body_end", "Don't miss it 🔥🔥🔥", ("gimmicky_formatting",)),
        S("body_end", "HURRY!!! Only 2 left!", ("gimmicky_formatting", "false_urgency")),
    ),
    "unverifiable_superlatives": (
        S("headline", "The best {item} in the world", ("unverifiable_superlatives",)),
        S("body_end", "Rated #1 by customers everywhere.", ("unverifiable_superlatives",)),
        S("body_end", "Simply unbeatable quality.", ("unverifiable_superlatives",)),
        S("body_end", "Nothing else on the market comes close.", ("unverifiable_superlatives",)),
        S("headline", "America's favourite {item}", ("unverifiable_superlatives",)),
    ),
    "fake_endorsements": (
        S("body_end", "Elon Musk uses {name} every day.", ("fake_endorsements",)),
        S("body_end", "As seen on Shark Tank.", ("fake_endorsements",)),
        S("body_end", "9 out of 10 doctors recommend {name}.", ("fake_endorsements",)),
        S("body_end", "\"It changed my life\" - a famous Hollywood actress.",
          ("fake_endorsements",)),
        S("body_end", "Officially endorsed by the World Health Organization.",
          ("fake_endorsements",)),
    ),
    "clickbait": (
        S("headline", "You won't believe what {name} can do", ("clickbait",)),
        S("headline", "This one weird trick changes everything", ("clickbait",)),
        S("headline", "What happened next shocked everyone", ("clickbait",)),
        S("body_start", "The secret the big brands are hiding from you.", ("clickbait",)),
    ),
}

HARD_NEGATIVES: dict[str, tuple[str, ...]] = {
    "any": ("Free shipping on orders over $50.", "30-day money-back guarantee.",
            "Sale ends Sunday at midnight.", "Free returns within 30 days.",
            "Rated 4.6 out of 5 by 2,300 verified buyers (2024).",
            "Satisfaction guaranteed or your money back.", "Terms and conditions apply.",
            "No hurry: cancel anytime."),
    "alcohol": ("Not for sale to persons under 21.", "Please enjoy responsibly."),
    "finance": ("Capital at risk. Past performance is not a guide to future returns.",),
    "fitness": ("Results depend on regular exercise and a balanced diet.",),
}
