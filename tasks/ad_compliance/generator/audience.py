"""Violation forms for prohibited_products, alcohol_minors, personal_attributes and
shocking_content (LABELLING.md).

Prohibited products here are extra items an allowed shop mentions (dropping the sentence fixes
the ad); an ad *for* a prohibited product is built in :mod:`.compose` and cannot be fixed.
"""

from __future__ import annotations

from .forms import RESTORE, Form, family

SHOPS = ("retail", "food", "home")
ALCOHOL = ("alcohol",)

_STOCK_LEAD = ("We now also stock", "Also in store:", "New in:", "Ask at the counter for",
               "Add to any order:", "Now selling", "Back on the shelves:")
_STOCK_TAIL = ("", " at great prices", " for delivery", " behind the counter", " in bulk",
               " for collection")

PROHIBITED_PRODUCTS: list[Form] = [
    *family("pp_stock", "prohibited_products", "body_end", SHOPS, "[lead] [core][tail].",
            lead=_STOCK_LEAD,
            core=("vape pens and e-liquids", "menthol cigarettes", "nicotine pouches",
                  "stun guns and pepper spray", "switchblades", "hunting rifles",
                  "9mm ammunition", "THC gummies", "cannabis edibles", "magic mushroom chocolates",
                  "butterfly knives", "e-cigarettes", "Cuban cigars", "brass knuckles"),
            tail=_STOCK_TAIL),
    # No trigger words: euphemisms for the same goods.
    *family("pp_euphemism", "prohibited_products", "body_end", SHOPS, "[lead] [core][tail].",
            lead=_STOCK_LEAD,
            core=("flavoured pods for your disposable", "hollow-point rounds",
                  "blades that spring open at the press of a button", "420-friendly edibles",
                  "mushroom chocolates with a trip-worthy dose", "dab pens and wax",
                  "pre-rolls in three strains", "Cuban smokes", "cloud-chasing mods and juice",
                  "12-gauge shells", "party pills for a weekend high",
                  "hemp flower that actually gets you high", "space cakes",
                  "pocket zappers that drop an attacker"),
            tail=_STOCK_TAIL),
]

_AM_LEAD = ("", "New: ", "This summer: ", "Weekend plans? ", "Psst: ")

ALCOHOL_MINORS: list[Form] = [
    *family("am_youth", "alcohol_minors", "body_end", ALCOHOL, "[lead][core][tail].",
            lead=_AM_LEAD,
            core=("the beer teens are talking about", "fruity vodka pops made for teens",
                  "the cider every high schooler wants", "sneak a can of our lager into prom",
                  "back-to-school cocktails", "wine for your high school graduation party",
                  "a cider for kids who want to feel grown up", "teen-friendly alcopops",
                  "rum punch for your prom after-party", "the beer for middle school dances",
                  "cocktails for students of every age", "a tequila for teenagers"),
            tail=("", " from {name}", " in candy colours")),
    *family("am_head", "alcohol_minors", "headline", ALCOHOL, "[core]", fixes=(RESTORE,),
            core=("The beer teens are talking about", "Prom night cocktails",
                  "Back-to-school booze bundle", "Teens love our fruity vodka",
                  "Alcopops for the high school crowd")),
    # No trigger words: youth appeal without the listed youth terms in the same sentence.
    *family("am_implied", "alcohol_minors", "body_end", ALCOHOL, "[lead][core][tail].",
            lead=_AM_LEAD,
            core=("sweet as the candy in your lunchbox",
                  "bubblegum flavour in cartoon cans, made for your next sleepover",
                  "the perfect drink for your Year 11 leavers' party",
                  "too young to buy it? Ask an older friend to grab you a bottle",
                  "rainbow unicorn cans your little sister will love",
                  "the drink your parents will never find in your schoolbag",
                  "pack a bottle for the sixth-form formal",
                  "gummy-bear flavoured shots for the playground crowd",
                  "homework done? Crack one open", "sixteen and ready to party? Grab a bottle",
                  "made for anyone still waiting on their first driving lesson",
                  "tastes like the lollies from the school tuck shop"),
            tail=("", " with {name}", ", only from {name}")),
]

_PA_TAIL = ("", " {name} can help.", " There's a better way with {name}.",
            " Talk to {name} today.", " Read on.")
PA_MONEY = ("finance",)
PA_HEALTH = ("app", "clinic", "supplement")
PA_BODY = ("fitness", "supplement", "beauty")
PA_DATING = ("dating",)
PA_AGE = ("insurance", "finance")

PERSONAL_ATTRIBUTES: list[Form] = [
    *family("pa_money", "personal_attributes", "body_start", PA_MONEY, "[core][tail]",
            core=("Are you drowning in debt?", "Do you have bad credit?", "Are you in debt?",
                  "Are you behind on your bills?", "Are you broke?", "Are you unemployed?",
                  "Do you have money problems?", "You're struggling financially.",
                  "Do you owe credit card debt?"),
            tail=_PA_TAIL),
    *family("pa_health", "personal_attributes", "body_start", PA_HEALTH, "[core][tail]",
            core=("Struggling with anxiety?", "Living with depression?", "Are you diabetic?",
                  "Do you suffer from insomnia?", "Suffering from chronic pain?",
                  "Are you depressed?", "Do you struggle with addiction?",
                  "You're anxious all the time."),
            tail=_PA_TAIL),
    *family("pa_body", "personal_attributes", "body_start", PA_BODY, "[core][tail]",
            core=("Tired of being overweight?", "Are you obese?", "Embarrassed by your acne?",
                  "Hate being fat?", "You're overweight and it's time for a change.",
                  "Are you going bald?", "Embarrassed about your belly fat?"),
            tail=_PA_TAIL),
    *family("pa_dating", "personal_attributes", "body_start", PA_DATING, "[core][tail]",
            core=("Are you single?", "Are you divorced?", "Are you lonely?",
                  "You're single and you hate it.", "Meet other Christian singles tonight.",
                  "Are you gay and tired of the apps?"),
            tail=_PA_TAIL),
    *family("pa_age", "personal_attributes", "body_start", PA_AGE, "[core][tail]",
            core=("Are you over 60?", "You're over 50, so listen up.", "Are you a senior?",
                  "Are you over 65 and worried about money?"),
            tail=_PA_TAIL),
    # No trigger words: the reader's attribute is implied or asserted in other words.
    *family("pa_money_implied", "personal_attributes", "body_start", PA_MONEY, "[core][tail]",
            core=("We know money has been tight for you lately.",
                  "Your credit score is holding you back.",
                  "Bills piling up on your kitchen table?",
                  "Can't sleep because of what you owe?",
                  "Still waking up at 3am worrying about your overdraft?",
                  "Payday can't come soon enough for you, can it?",
                  "Your bank balance is embarrassing, and you know it."),
            tail=_PA_TAIL),
    *family("pa_health_implied", "personal_attributes", "body_start", PA_HEALTH, "[core][tail]",
            core=("We can tell you've been feeling low.", "Your panic attacks don't define you.",
                  "Those sleepless nights of yours have gone on long enough.",
                  "Your blood sugar readings worry you, don't they?",
                  "Can't get through the day without a drink?",
                  "Your mood swings are hurting the people you love."),
            tail=_PA_TAIL),
    *family("pa_body_implied", "personal_attributes", "body_start", PA_BODY, "[core][tail]",
            core=("Sick of hiding your stomach at the beach?",
                  "Those extra kilos are holding you back.", "Your thinning hair is noticeable.",
                  "Still covering your spots with make-up every morning?",
                  "Can't fit into your favourite jeans any more?",
                  "Your wrinkles make you look older than you are."),
            tail=_PA_TAIL),
    *family("pa_dating_implied", "personal_attributes", "body_start", PA_DATING, "[core][tail]",
            core=("Your last relationship ended badly, we know.",
                  "Nobody has called you in weeks, have they?", "Still no partner at 40?",
                  "Feeling lonely tonight?", "Your marriage is over. Time to move on.",
                  "Another weekend on your own?"),
            tail=_PA_TAIL),
    *family("pa_age_implied", "personal_attributes", "body_start", PA_AGE, "[core][tail]",
            core=("Turning 60 soon with nothing saved?", "At your age, you can't afford to wait.",
                  "Now that you've retired, every penny counts.",
                  "Past 55 and no pension to speak of?"),
            tail=_PA_TAIL),
]

_SC_LEAD = ("", "Warning: ", "Be afraid. ")
_SC_TAIL = (".", "!", ". {name} can stop it.", ". Don't let it be you.")

SHOCKING_CONTENT: list[Form] = [
    *family("sc_body", "shocking_content", "body_start", ("supplement", "food", "clinic"),
            "[lead][core][tail]", lead=_SC_LEAD,
            core=("something is rotting inside your body right now",
                  "parasites are eating you alive from the inside",
                  "thousands die from this germ every year and you could be next",
                  "your gut is crawling with worms", "toxic sludge is clogging your colon",
                  "flesh-eating bacteria are breeding in your kitchen sponge",
                  "millions will die this winter"),
            tail=_SC_TAIL),
    *family("sc_home", "shocking_content", "body_start", ("insurance", "home"),
            "[lead][core][tail]", lead=_SC_LEAD,
            core=("your house could burn down tonight with your children inside",
                  "burglars could be watching your kids right now",
                  "black mould is slowly poisoning your family in their sleep",
                  "a burst pipe could drown your basement and everything in it",
                  "picture your family's charred belongings on the lawn"),
            tail=_SC_TAIL),
    *family("sc_road", "shocking_content", "body_start", ("travel", "insurance", "finance"),
            "[lead][core][tail]", lead=_SC_LEAD,
            core=("blood, guts and twisted metal: see the crash photos",
                  "one wrong turn and your family ends up in body bags",
                  "the gruesome footage from last year's pile-up",
                  "you could lose everything overnight and end up on the street"),
            tail=_SC_TAIL),
    *family("sc_head", "shocking_content", "headline", ("supplement", "food", "clinic", "home"),
            "[core]", fixes=(RESTORE,),
            core=("Horrifying: what is rotting inside your body",
                  "The germ that kills thousands", "Worms in your gut?",
                  "Your home is poisoning you", "Parasites are eating you alive")),
]
