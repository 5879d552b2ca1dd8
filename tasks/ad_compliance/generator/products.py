"""Compliant product copy: categories, items, brands, offers, headlines and bodies.

A product is drawn as category -> item -> brand -> offer -> call to action, so the plain copy
varies in every part. All of it is written to be compliant and free of the trigger words the
rules look for (a test checks that rules find nothing in plain copy). Prohibited items make an
ad non-compliant whatever its wording: no rewording fixes them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Item:
    item: str
    benefit: str
    offers: tuple[str, ...]
    ctas: tuple[str, ...] = ("Shop now", "Learn more")


@dataclass(frozen=True)
class Product:
    """One drawn product: what the ad sells and its genuine offer."""

    category: str
    name: str
    item: str
    benefit: str
    offer: str
    cta: str

    @property
    def prohibited(self) -> bool:
        return self.category in PROHIBITED_CATEGORIES


I = Item
ITEMS: dict[str, tuple[Item, ...]] = {
    "app": (
        I("budget planner app", "See where your money goes each month.",
          ("Free 14-day trial, then $4.99 a month.", "Plans from $2.99 a month.",
           "$29.99 a year after a 7-day trial."), ("Download", "Get the app")),
        I("language learning app", "Learn Spanish in short daily lessons.",
          ("First month $1, cancel anytime.", "$7.99 a month or $59.99 a year."),
          ("Get the app", "Start learning")),
        I("sleep tracking app", "Track your sleep and build a calmer bedtime routine.",
          ("Premium plans from $3.99 a month.", "$19.99 a year."), ("Download",)),
        I("meditation app", "Guided sessions from five to thirty minutes.",
          ("7-day trial, then $12.99 a month.", "$69.99 a year."), ("Download", "Try it")),
        I("habit tracker", "Set small daily goals and see your streaks grow.",
          ("One-off purchase of $6.99.", "$2.49 a month."), ("Get the app",)),
        I("photo editing app", "Retouch, crop and share your photos in seconds.",
          ("Pro features $3.99 a month.", "$24.99 a year."), ("Download",)),
    ),
    "supplement": (
        I("multivitamin", "A daily multivitamin with vitamin D and zinc.",
          ("60 tablets for $12.99.", "90 tablets for $17.50.", "Two packs for $22."),
          ("Shop now", "Buy now")),
        I("fish oil capsules", "Omega-3 capsules from sustainably caught fish.",
          ("Subscribe and save 10% on every order.", "$18 for 120 capsules."), ("Shop now",)),
        I("greens powder", "A greens powder with spinach, kale and spirulina.",
          ("$34 for a 30-day tub.", "Sample sachets $6."), ("Buy now",)),
        I("magnesium tablets", "Magnesium glycinate in easy-to-swallow tablets.",
          ("$14.99 for 60 tablets.", "Save 15% on a three-month supply."), ("Shop now",)),
        I("protein powder", "Whey protein in chocolate, vanilla and coffee.",
          ("1 kg tub for $29.", "$49 for 2 kg."), ("Shop now", "Order now")),
    ),
    "fitness": (
        I("home workout programme", "Twenty-minute workouts you can do in your living room.",
          ("Join for $9.99 a month.", "$79 a year."), ("Join today", "Sign up")),
        I("trail running shoes", "Lightweight shoes with extra grip for wet paths.",
          ("Now $89, down from $110.", "$95 a pair."), ("Shop now",)),
        I("yoga mat", "A non-slip mat with alignment lines.", ("$45.", "Two for $80."),
          ("Shop now",)),
        I("gym membership", "Classes, weights and a pool in one membership.",
          ("$29 a month, no joining fee.", "Students $19 a month."), ("Join today",)),
        I("smart jump rope", "A jump rope that counts your skips and calories.",
          ("$39 with a carry bag.", "$35 this month."), ("Buy now",)),
    ),
    "finance": (
        I("savings account", "An easy-access savings account with no monthly fees.",
          ("3.9% AER variable on balances up to $50,000.", "4.1% AER variable, paid monthly."),
          ("Open an account",)),
        I("investing app", "Build a diversified portfolio of index funds.",
          ("No account fees for the first year. Capital at risk.",
           "Fees from 0.25% a year. Capital at risk."), ("Start investing",)),
        I("cashback credit card", "Earn cashback on groceries and fuel.",
          ("1% cashback; 24.9% APR representative.", "No annual fee; 22.9% APR representative."),
          ("Apply now",)),
        I("pension plan", "Bring your old workplace pensions together in one place.",
          ("Annual fee 0.45%. Capital at risk.",), ("Find out more",)),
        I("small-business loan", "Loans for businesses trading for two years or more.",
          ("Rates from 6.9% APR; subject to status.",), ("Check eligibility",)),
        I("tax filing service", "File your return online with help from certified preparers.",
          ("Simple returns $49; others from $89.",), ("Start your return",)),
    ),
    "retail": (
        I("linen bedding", "Soft washed-linen sheets in twelve colours.",
          ("20% off bedding this week.", "Sheet sets from $120."), ("Shop the sale", "Shop now")),
        I("LED desk lamp", "A dimmable desk lamp with a USB charging port.",
          ("$39 with delivery included.", "$42."), ("Buy now",)),
        I("water blasters", "Water guns and splash toys for summer in the garden.",
          ("From $8.", "Three for $20."), ("Shop toys",)),
        I("wool jumper", "A merino jumper in six colours.", ("$65.", "Now $52, was $65."),
          ("Shop now",)),
        I("kitchen knife set", "A five-piece set of stainless steel kitchen knives.",
          ("$119 with a wooden block.", "$99 this month."), ("Shop kitchen",)),
        I("backpack", "A 20-litre backpack with a padded laptop sleeve.", ("$74.", "$69 online."),
          ("Shop bags",)),
    ),
    "travel": (
        I("Greek island holiday", "Seven nights in Crete with flights and hotel included.",
          ("From $899 per person.", "From $1,049 per person in June."), ("Book now",)),
        I("rail pass", "Travel across 33 countries with one flexible pass.",
          ("Passes from $250.", "Youth passes from $190."), ("See passes",)),
        I("city break", "Three nights in Lisbon, with a walking tour.",
          ("From $420 per person.",), ("Book now", "See dates")),
        I("campervan hire", "Campervans with a kitchen and bedding for two.",
          ("From $95 a day.", "Weekly hire from $590."), ("Check availability",)),
    ),
    "education": (
        I("web development course", "A 12-week course in HTML, CSS and JavaScript with mentor "
          "support.", ("Next cohort starts 3 March; payment plans available.", "$2,400 or $200 a "
          "month."), ("Apply now",)),
        I("online maths tutoring", "One-to-one tutoring for students aged 11 to 16.",
          ("First lesson free, then $30 an hour.", "$28 an hour."), ("Book a lesson",)),
        I("IELTS preparation course", "Practice tests and feedback from qualified teachers.",
          ("$149 for eight weeks.",), ("Enrol",)),
        I("photography workshop", "A one-day workshop on light and composition.",
          ("$85 per place.", "$160 for two."), ("Book a place",)),
        I("bookkeeping course", "Learn bookkeeping for small businesses in six weeks.",
          ("$320, payable in two instalments.",), ("Enrol",)),
    ),
    "beauty": (
        I("vitamin C serum", "A lightweight serum with vitamin C and hyaluronic acid.",
          ("$24 for 30 ml.", "Two for $40."), ("Shop now",)),
        I("moisturiser", "A fragrance-light daily moisturiser for dry skin.",
          ("$19 for 50 ml.",), ("Shop now",)),
        I("shampoo bar", "A solid shampoo bar that lasts about 80 washes.",
          ("$12.", "Three for $30."),
          ("Shop now",)),
        I("mineral sunscreen", "SPF 50 mineral sunscreen that rubs in clear.",
          ("$22 for 100 ml.",), ("Buy now",)),
    ),
    "food": (
        I("meal kit", "Fresh ingredients and simple recipes delivered weekly.",
          ("Get 50% off your first box.", "Boxes from $45 a week."), ("Order now",)),
        I("coffee subscription", "Freshly roasted beans delivered every two weeks.",
          ("Your first bag is $5.", "$14 a bag."), ("Subscribe",)),
        I("sourdough bread", "Slow-fermented sourdough baked every morning.", ("$6.50 a loaf.",),
          ("Order now",)),
        I("granola", "Oat granola with almonds and a little honey.",
          ("$8 a bag.", "Four bags for $28."),
          ("Shop now",)),
        I("herbal tea", "Loose-leaf herbal teas blended in small batches.", ("$11 a tin.",),
          ("Shop teas",)),
    ),
    "software": (
        I("project management tool", "Plan projects, assign tasks and track deadlines in one "
          "place.", ("Teams of up to 5 at no charge; $8 per user after that.",
                     "$10 per user a month."), ("Start a trial", "See plans")),
        I("password manager", "Store and share passwords across all your devices.",
          ("$2.99 a month, billed yearly.",), ("Get started",)),
        I("accounting software", "Send invoices and track expenses for your business.",
          ("$15 a month for the first 3 months, then $30.",), ("See plans",)),
        I("website builder", "Build a website from a template in an afternoon.",
          ("Plans from $12 a month.",), ("Get started",)),
    ),
    "alcohol": (
        I("pale ale", "A crisp pale ale brewed with local hops.",
          ("Six-pack $11.99. Enjoy responsibly.", "$2.50 a can."), ("Find a stockist",)),
        I("dry rosé", "A dry rosé from southern Spain for summer evenings.",
          ("$14 a bottle. For adults 21+ only.", "$75 for six."), ("Shop wine",)),
        I("small-batch vodka", "Small-batch vodka distilled five times.",
          ("$32 a bottle. Please drink responsibly.",), ("Learn more",)),
        I("hard cider", "A dry cider pressed from local apples.", ("$9 a four-pack.",),
          ("Find a stockist",)),
        I("single malt whisky", "A single malt aged twelve years in sherry casks.",
          ("$58 a bottle.",), ("Shop whisky",)),
    ),
    "dating": (
        I("dating app", "Meet people who share your interests.",
          ("Basic membership at no cost; premium from $14.99 a month.",),
          ("Join", "Download")),
        I("speed dating events", "Speed dating evenings in city-centre bars.", ("$25 a ticket.",),
          ("Book a place",)),
    ),
    "insurance": (
        I("home insurance", "Buildings and contents cover with 24-hour claims support.",
          ("Quotes in five minutes; policies from $12 a month.",), ("Get a quote",)),
        I("travel insurance", "Annual multi-trip cover for Europe and worldwide.",
          ("From $59 a year.",), ("Get a quote",)),
        I("pet insurance", "Vet-fee cover for dogs and cats.", ("Policies from $9 a month.",),
          ("Get a quote",)),
    ),
    "home": (
        I("boiler service", "An annual boiler service by certified engineers.", ("$89 per visit.",),
          ("Book a visit",)),
        I("window cleaning", "Window cleaning every four weeks.", ("From $20 a visit.",),
          ("Book now",)),
        I("robot vacuum", "A robot vacuum that maps your rooms.", ("$299.", "Now $259, was $299."),
          ("Buy now",)),
        I("garden design", "Garden designs drawn up after a site visit.",
          ("Consultations $150.",), ("Book a consultation",)),
    ),
    "clinic": (
        I("physiotherapy clinic", "Physiotherapy for sports injuries and back pain.",
          ("First assessment $60.",), ("Book an appointment",)),
        I("dental practice", "Check-ups, hygiene visits and fillings.", ("Check-ups from $45.",),
          ("Book now",)),
        I("pharmacy", "Prescriptions, travel jabs and health checks.",
          ("Flu jabs $15.",), ("Find a branch",)),
        I("opticians", "Eye tests and glasses for the whole family.", ("Eye tests $25.",),
          ("Book an eye test",)),
    ),
    # Prohibited: an ad for any of these breaks prohibited_products whatever its wording.
    "tobacco": (
        I("disposable vapes", "Disposable vapes in 20 fruit flavours.", ("Packs of 5 from $25.",),
          ("Shop vapes",)),
        I("hand-rolled cigars", "Hand-rolled cigars aged for three years.", ("Sampler box $49.",),
          ("Shop cigars",)),
        I("nicotine pouches", "Nicotine pouches in mint and citrus.", ("Cans from $5.",),
          ("Order now",)),
        I("e-liquids", "E-liquids in 40 flavours and four strengths.", ("10 ml for $4.",),
          ("Shop now",)),
    ),
    "weapons": (
        I("hunting rifles", "Bolt-action hunting rifles and ammunition.",
          ("Scope included with every rifle this month.",), ("Visit store",)),
        I("handguns", "Compact pistols for concealed carry.", ("From $399.",), ("Visit store",)),
        I("switchblades", "Switchblades and butterfly knives from European makers.",
          ("From $45.",), ("Shop now",)),
        I("stun guns", "Rechargeable stun guns that fit in a handbag.", ("$59.",), ("Buy now",)),
    ),
    "drugs": (
        I("THC gummies", "THC gummies in mango and berry.", ("Discreet delivery nationwide.",),
          ("Order now",)),
        I("microdose capsules", "Microdose magic mushroom capsules for creative days.",
          ("Ships in plain packaging.",), ("Order now",)),
        I("cannabis pre-rolls", "Cannabis pre-rolls in three strains.", ("Packs from $18.",),
          ("Order now",)),
    ),
}

PROHIBITED_CATEGORIES = ("tobacco", "weapons", "drugs")
ALLOWED_CATEGORIES = tuple(c for c in ITEMS if c not in PROHIBITED_CATEGORIES)
ALL_CATEGORIES = tuple(ITEMS)
MASS_NOUNS = frozenset(("linen bedding", "sourdough bread", "granola", "herbal tea",
                        "home insurance", "travel insurance", "pet insurance", "window cleaning",
                        "garden design", "greens powder", "protein powder",
                        "accounting software", "single malt whisky", "small-batch vodka",
                        "online maths tutoring", "dry rosé", "hard cider", "pale ale"))

BRANDS: dict[str, tuple[str, ...]] = {
    "app": ("Tempo", "Leapwise", "Nook", "Brightly", "Pocketwise", "Stillpoint", "Tandem"),
    "supplement": ("VitaDaily", "OmegaPure", "GreenBoost", "Nordic Roots", "Kinfolk Health",
                   "Sunward", "Meridian Labs"),
    "fitness": ("PulseFit", "Ironwood", "Stride & Co", "FlexHouse", "Peak Motion"),
    "finance": ("Northstar", "Ledgerly", "ClearPath", "Harbour Bank", "Fernleaf Money",
                "Quarry Capital", "Beacon Mutual"),
    "retail": ("Oak & Thread", "Brightside", "Kettle & Co", "Wren Outfitters", "Marlow Home",
               "Fieldcraft"),
    "travel": ("Bluewave Travel", "Wayfarer Europe", "Northbound Trips", "Sandpiper Holidays",
               "Atlas Escapes"),
    "education": ("Lumen Academy", "Northgate Online", "Brightpath Learning",
                  "Oakridge Courses"),
    "beauty": ("Glow Lab", "Petal & Pine", "Skinwise", "Luma Botanics", "Clearwater Skin"),
    "food": ("Harvest Box", "Bean There", "Crumb & Co", "Wild Oats Kitchen", "Little Orchard"),
    "software": ("TaskHive", "Vaultly", "Tally Works", "Sitecraft", "Orbit Desk"),
    "alcohol": ("Copper Hill", "Vina Sol", "Northern Lights", "Old Mill Drinks",
                "Glen Aran"),
    "dating": ("Kindred", "Spark & Co", "Tablefor2"),
    "insurance": ("Shieldwell", "Homestead Cover", "Pawsure"),
    "home": ("Hearth Services", "Clearview Cleaning", "Tidyhome", "Greenhand Gardens"),
    "clinic": ("Riverside Health", "Elm Street Clinic", "Parkway Care", "Focus Health"),
    "tobacco": ("CloudNine", "Harbour Leaf", "Frostline", "Old Dock & Co"),
    "weapons": ("Ridgeline Arms", "Falcon Defence", "Edgeworks"),
    "drugs": ("GreenLeaf", "Mystic Caps", "High Meadow"),
}

HEADLINES = ("{name}", "Meet {name}", "{name}: {item}", "New from {name}: {item}",
             "Try the {item} from {name}", "{name} {item}", "Discover {name}",
             "Your new {item}", "{item} by {name}", "Say hello to {name}",
             "{name}, {a_item} done well", "Introducing {name}")
BODIES = ("From {name}: {benefit} {offer}", "{benefit} {name} makes it simple. {offer}",
          "Introducing {name}, {a_item}. {benefit} {offer}", "{name}: {benefit} {offer}",
          "{benefit} Made by {name}. {offer}",
          "Looking for {a_item}? Try {name}. {benefit} {offer}",
          "{name} {item}. {benefit} {offer}", "{benefit} Ask us anything about {name}. {offer}",
          "{benefit} {offer} Find details on the {name} website.")
"""Bodies always carry ``{name}`` (so a revision keeps the brand whatever it drops) and
``{benefit}`` (for a prohibited product it names what is sold)."""

LANDING = ("{name}: {item}. {benefit} {offer} Terms apply.",
           "About {name}. {benefit} {offer} Questions? Contact our team.",
           "{benefit} {offer} Delivery and returns details at checkout.")
