"""Hard negatives: compliant sentences full of the words the rules look for (LABELLING.md's "do
not label" column): negated claims, quoted regulations, a sourced superlative, free shipping over
a threshold, a trial with its price stated, "act" / "free" / "best" in harmless senses,
third-person health services. Rules misfire on many of them; that is their purpose.

``mimics`` lists the policies a sentence looks like: the generator never adds it to an ad that
truly breaks one of those, so gold revisions stay clean for the rules.
"""

from __future__ import annotations

from .forms import Negative, negatives
from .products import ALL_CATEGORIES as EVERY

HEALTHY = ("supplement", "beauty", "food", "fitness", "clinic", "app")
FOODISH = ("food", "supplement", "beauty")
FIT = ("fitness", "food", "supplement", "app")
FIN = ("finance",)
SHOP = ("retail", "home")

NEGATIVES: list[Negative] = [
    # health_claims: negated cures, regulation notes, third-person services, wellness wording.
    *negatives("neg_notcure", "health_claims", HEALTHY, "[subject] [core].[extra]",
               subject=("{name}", "This product", "Our {item}"),
               core=("is not a cure for any disease", "does not cure, treat or prevent any illness",
                     "is not a replacement for your medication",
                     "does not replace medicines your doctor prescribes",
                     "will not cure arthritis, diabetes or any other condition",
                     "is no substitute for prescribed medication"),
               extra=("", " Talk to your doctor before you stop taking any medication.",
                      " Always follow your doctor's advice.")),
    *negatives("neg_regulation", ("health_claims", "weight_loss_claims"), HEALTHY, "[core]",
               core=("These statements have not been evaluated by the FDA. This product is not "
                     "intended to diagnose, treat, cure or prevent any disease.",
                     "Food supplements should not replace a varied diet. Do not stop your "
                     "medication without medical advice.",
                     "Under advertising rules we cannot claim it cures anything, and we don't.",
                     "Regulators do not allow us to say it heals eczema, so we won't.")),
    *negatives("neg_services", ("health_claims", "personal_attributes"), ("clinic",),
               "[core][tail]",
               core=("Support for people living with diabetes",
                     "Our clinic treats arthritis, back pain and sports injuries",
                     "Flu jabs now available", "Counselling for adults living with anxiety or "
                     "depression", "Our pharmacists advise on hay fever and allergies",
                     "Regular asthma reviews with our practice nurses",
                     "Physiotherapy for people recovering from chronic pain"),
               tail=(".", ", by appointment.", "; ask in store.")),
    *negatives("neg_wellness", (), HEALTHY, "[core]",
               core=("Vitamin D supports normal immune function.",
                     "Zinc contributes to normal skin health.",
                     "Helps brighten the look of dull skin.",
                     "Magnesium contributes to a reduction of tiredness.",
                     "Part of a balanced diet and an active lifestyle.")),
    # misleading_pricing: free with its conditions stated, or "free" meaning "without".
    *negatives("neg_free_threshold", "misleading_pricing", EVERY,
               "Free [what] on orders over $[n].", what=("shipping", "delivery", "gift wrapping"),
               n=("30", "50", "75")),
    *negatives("neg_free_trial", "misleading_pricing", ("app", "software", "fitness"),
               "[core] free trial, then [price]; cancel anytime.",
               core=("Start a 7-day", "Start a 14-day", "Enjoy a 30-day"),
               price=("$9.99 a month", "$4.99 a month", "$59 a year")),
    *negatives("neg_free_of", "misleading_pricing", FOODISH,
               "[adv] free of [what].", adv=("Totally", "100%", "Completely", "Absolutely"),
               what=("parabens", "added sugar", "artificial colours", "palm oil")),
    *negatives("neg_feel_free", (), EVERY, "Feel free to [core].",
               core=("ask our team anything", "call us with questions", "bring a friend",
                     "compare us with anyone")),
    *negatives("neg_upfront", "misleading_pricing", ("finance", "home", "retail"),
               "$0 upfront: [core].",
               core=("24 monthly payments of $20, $480 in total",
                     "12 monthly payments of $25, $300 in total, 0% APR")),
    # false_urgency: "act", "hurry", "only N" in harmless senses; plain end dates.
    *negatives("neg_act", "false_urgency", EVERY, "[core] [act] on [what].",
               core=("Our support team will", "Our advisers", "We always", "Our engineers"),
               act=("act quickly", "act fast"),
               what=("every request", "every fault you report", "every question")),
    *negatives("neg_no_hurry", "false_urgency", EVERY, "[core] [what] until [date].",
               core=("No need to hurry:", "There's no hurry;", "Take your time:"),
               what=("the offer runs", "prices are fixed", "this price holds"),
               date=("30 June", "31 December", "the end of March")),
    *negatives("neg_queue", "false_urgency", ("retail", "food", "home"), "[core]",
               core=("Don't wait in line: order online and collect in store.",
                     "Don't wait on hold: book online in two minutes.")),
    *negatives("neg_capacity", "false_urgency", ("education", "travel", "fitness", "food"),
               "Just [n] [unit] per [what], so [why].", n=("6", "8", "12"),
               unit=("places available", "seats"), what=("class", "session", "tour"),
               why=("everyone gets attention", "it never feels crowded")),
    *negatives("neg_dates", (), EVERY, "[core]",
               core=("Sale ends Sunday 30 June.", "Offer runs Friday 9am to Sunday 9am.",
                     "Prices valid until 31 March.", "Today only: 10% off in store.")),
    # weight_loss_claims: fitness words next to "before and after", negated promises.
    *negatives("neg_warm_up", "weight_loss_claims", FIT,
               "Warm up before and after [what]; a balanced diet helps too.",
               what=("training", "every run", "each class", "a long walk")),
    *negatives("neg_weight", "weight_loss_claims", FIT, "[core]",
               core=("Stretch before and after training; a balanced diet helps too.",
                     "We won't promise you'll lose weight without diet or exercise: nobody "
                     "can.", "Our meals are sensibly portioned, not miracle diet food.",
                     "Results depend on a balanced diet and regular exercise.",
                     "No crash diets and no before-and-after photos, just steady habits.")),
    # guaranteed_returns: risk warnings, money-back and price-match guarantees, product returns.
    *negatives("neg_risk", "guaranteed_returns", FIN, "[core]",
               core=("Capital at risk. The value of investments can go down as well as up.",
                     "No one can guarantee returns, so we show every fee up front.",
                     "We can't promise you'll never lose money; nobody honest can.",
                     "Past performance is not a guide to future returns.",
                     "As the regulator requires: you may get back less than you invest.")),
    *negatives("neg_returns", "guaranteed_returns", ("retail", "beauty", "fitness", "home"),
               "[core] returns guaranteed [when].", core=("Hassle-free", "Easy", "Free"),
               when=("within 30 days", "for 60 days", "on every order")),
    *negatives("neg_guarantee", "guaranteed_returns", EVERY, "[core]",
               core=("30-day money-back guarantee.",
                     "Satisfaction guaranteed or your money back.",
                     "Price-match guarantee: found it cheaper? We refund the difference.")),
    # unverifiable_superlatives: sourced and dated, idioms, comparisons with one's own range.
    *negatives("neg_sourced", "unverifiable_superlatives", EVERY,
               "[source] named {name} the best new [thing] of [year].",
               source=("Consumer Reports", "The Chicago Reader readers' poll", "Wired magazine",
                       "The Good Food Guide"),
               thing=("brand", "product", "launch"), year=("2023", "2024")),
    *negatives("neg_idiom", "unverifiable_superlatives", EVERY, "[core]",
               core=("Bring out the best in your weekends.", "Do your best work with {name}.",
                     "Our biggest sale of the year.", "Best wishes from the {name} team.",
                     "Rated 4.6 out of 5 by 2,300 verified buyers on Trustpilot (May 2024).")),
    *negatives("neg_award", "unverifiable_superlatives", ("travel",), "[core]",
               core=("Voted the #1 campsite in the 2024 Cool Camping awards.",
                     "Named the best city break of 2024 by Conde Nast Traveller readers.")),
    # fake_endorsements: verifiable reviews, denied endorsements.
    *negatives("neg_review", "fake_endorsements", EVERY, "'[core]' - [who], [site], [date].",
               core=("Great service", "Arrived in two days", "Exactly as described",
                     "Friendly and helpful staff", "Would buy again"),
               who=("verified customer", "Priya R."), site=("Trustpilot", "Google"),
               date=("March 2024",)),
    *negatives("neg_no_celebrity", "fake_endorsements", EVERY, "[core]",
               core=("Unlike ads claiming Elon Musk backs them, we have no celebrity "
                     "endorsements.", "Unlike ads claiming Oprah uses them, we pay no one to "
                     "praise us.", "No celebrity has ever endorsed {name}, and we like it that "
                     "way.", "Never featured on Dragons' Den, and never needed to be.",
                     "Taylor Swift has never heard of us, and that's fine.")),
    # clickbait: process descriptions, negated tricks.
    *negatives("neg_next", "clickbait", EVERY, "[lead] [core].",
               lead=("Here's what happens next:", "What happens next?"),
               core=("we call you within a day", "you get a welcome email",
                     "a specialist reviews your application", "we send your login details",
                     "your first order ships within two days")),
    *negatives("neg_no_trick", "clickbait", EVERY, "[core], just [what].",
               core=("Not one weird trick", "No weird tricks", "No secrets"),
               what=("steady daily practice", "good ingredients", "honest advice",
                     "clear prices on our website")),
    # alcohol_minors: age notices, family venues with drinks clearly for adults.
    *negatives("neg_alcohol", "alcohol_minors", ("alcohol",), "[core]",
               core=("Not for sale to persons under 21.", "Please enjoy responsibly.",
                     "Alcohol-free beer on tap for designated drivers.",
                     "ID checked at delivery; no one under 21.",
                     "Please drink responsibly. Not for anyone under the legal drinking age.")),
    *negatives("neg_taproom", "alcohol_minors", ("alcohol",),
               "At our [place], kids eat free on [day] and the [drink] list changes weekly.",
               place=("taproom", "tasting room", "cellar door"), day=("Sundays", "weekdays"),
               drink=("beer", "wine", "cocktail")),
    # prohibited_products: quit aids, toys, "rifle" and "shotgun" in other senses.
    *negatives("neg_prohibited_app", "prohibited_products", ("app",), "[core]",
               core=("Quit smoking with daily coaching.",
                     "Track how many cigarettes you didn't smoke this week.")),
    *negatives("neg_prohibited_shop", "prohibited_products", SHOP, "[core]",
               core=("Rifle through our bargain bins for last season's styles.",
                     "A shotgun microphone that picks up every word.",
                     "Pistol-grip hose nozzle included.", "Water guns for the whole family.",
                     "Kitchen knives forged from a single piece of steel.")),
    *negatives("neg_prohibited_travel", "prohibited_products", ("travel",), "[core]",
               core=("No vapes, no cigarettes: just fresh air on our hiking tours.",
                     "All our hotels are smoke-free.")),
    # personal_attributes: third-person audiences, harmless questions.
    *negatives("neg_audience", "personal_attributes", ("finance", "dating", "insurance"),
               "[core]",
               core=("Debt advice from qualified counsellors.", "Meet singles in your city.",
                     "Retirement planning for people over 50.",
                     "Cover for drivers of every age.",
                     "Couples counselling for partners going through a rough patch.")),
    *negatives("neg_question", (), ("travel", "education", "food", "retail"), "[core]",
               core=("Are you ready for your next adventure?", "Got a question? Just ask.",
                     "Hungry? Dinner is ready in 20 minutes.")),
    # gimmicky_formatting: acronyms, promo codes, one exclamation mark.
    *negatives("neg_code", "gimmicky_formatting", EVERY, "Use code [code] at checkout[end]",
               code=("AUTUMN40", "SPRING15", "WELCOME10", "SAVE20"), end=(".", "!")),
    *negatives("neg_format", "gimmicky_formatting", EVERY, "[core]",
               core=("Made in the USA.", "Pay by card, PayPal or ATM transfer.",
                     "Order online today!", "Sizes XS to XXL.")),
    # shocking_content: sober safety information.
    *negatives("neg_safety", "shocking_content", ("travel", "insurance", "home", "clinic"),
               "[core]",
               core=("Drive safely this holiday weekend.",
                     "Regular check-ups help catch problems early.",
                     "Test your smoke alarm once a month.",
                     "Check your tyre pressure before a long drive.")),
]

BY_CATEGORY: dict[str, list[Negative]] = {}
for _neg in NEGATIVES:
    for _cat in _neg.categories:
        BY_CATEGORY.setdefault(_cat, []).append(_neg)
