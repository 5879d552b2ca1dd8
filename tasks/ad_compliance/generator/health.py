"""Violation forms for health_claims and weight_loss_claims (see LABELLING.md).

Each policy has families with the stereotyped trigger words the rules catch ("cures arthritis",
"lose 20 lbs") and families without them (an implied cure, a veiled before/after) that a careful
reviewer still labels.
"""

from __future__ import annotations

from .forms import RESTORE, Form, family

HEALTH = ("supplement", "beauty", "food", "fitness", "clinic", "app")
BODY = ("supplement", "fitness", "food", "app")

_SUBJECT = ("{name}", "Our formula", "This blend", "One daily dose", "The {item}")

HEALTH_CLAIMS: list[Form] = [
    # Trigger words: a cure verb next to a named condition.
    *family("hc_cure", "health_claims", "body_end", HEALTH, "[subject] [core][tail].",
            fixes=("", "[subject] fits easily into your daily routine."),
            subject=_SUBJECT,
            core=("cures arthritis", "reverses type 2 diabetes", "heals eczema",
                  "eliminates migraines", "wipes out infections", "gets rid of psoriasis",
                  "kills cancer cells", "beats insomnia", "cures anxiety", "destroys the flu",
                  "reverses hair loss", "eradicates acne", "heals asthma", "reverses heart disease",
                  "cures tinnitus"),
            tail=("", " naturally", " in weeks", " for good", " without side effects",
                  " in 30 days")),
    *family("hc_meds", "health_claims", "body_end", HEALTH, "[lead][core] [tail].",
            lead=("", "Good news: ", "Finally: ", "It's time. "),
            core=("Stop taking your blood pressure pills", "Throw away your inhalers",
                  "Ditch your insulin", "No more pain medications", "Stop taking your meds",
                  "Throw away your allergy pills", "Replace your prescriptions",
                  "Ditch the sleeping pills"),
            tail=("and take {name} instead", "and switch to {name}", "because {name} does the job",
                  "with {name}")),
    *family("hc_head", "health_claims", "headline", HEALTH, "[adj] [core]", fixes=(RESTORE,),
            adj=("The natural", "A proven", "Finally, a", "The herbal", "The drug-free"),
            core=("cure for arthritis", "remedy for migraines", "cure for insomnia",
                  "cure for anxiety", "remedy for eczema", "cure for hair loss",
                  "remedy for high blood pressure")),
    # No trigger words: the medical result is promised without a cure verb or a listed disease.
    *family("hc_implied", "health_claims", "body_end", HEALTH, "[subject] [core][tail].",
            fixes=("", "[subject] fits easily into your daily routine."),
            subject=_SUBJECT,
            core=("means you'll never catch a cold again", "puts your doctor out of a job",
                  "brings your blood sugar back to normal", "clears blocked arteries",
                  "resets your immune system so colds can't touch you",
                  "regrows hair on bald patches", "makes joint pain a thing of the past",
                  "banishes cold sores", "keeps the flu away all winter",
                  "brings blood pressure down without a prescription", "shrinks tumours",
                  "repairs nerve damage", "fixes an underactive thyroid",
                  "sends cholesterol plummeting", "undoes years of smoking damage to your lungs"),
            tail=("", " naturally", " in weeks", " for good", " with no side effects")),
    *family("hc_goodbye", "health_claims", "headline", HEALTH, "[core][tail]", fixes=(RESTORE,),
            core=("Goodbye joint pain", "Goodbye migraines", "Goodbye eczema",
                  "Goodbye high cholesterol", "Farewell, back pain", "No more cold sores",
                  "Your last ever cold", "Never get a headache again"),
            tail=("", ", hello {name}", " for good", ", thanks to {name}")),
    *family("hc_instead", "health_claims", "body_start", HEALTH, "[core] [tail].",
            core=("No need for a doctor:", "Skip the specialist:", "Forget the pharmacy:",
                  "Don't bother with a prescription:", "Cancel your GP appointment:"),
            tail=("{name} sorts it out at home", "{name} handles it naturally",
                  "{name} fixes the problem in days")),
]

_WL_LEAD = ("", "With {name}, ", "Use {name} daily and ", "Our plan helps you ")

WEIGHT_LOSS_CLAIMS: list[Form] = [
    # Trigger words: a number and a unit, fat "melting", "without diet or exercise".
    *family("wl_specific", "weight_loss_claims", "body_end", BODY, "[lead][core][tail].",
            lead=_WL_LEAD,
            core=("lose 20 lbs", "drop 2 dress sizes", "shed 10 kg", "lose 15 pounds",
                  "drop 3 sizes", "lose 30 pounds", "lose 12 kilos", "melt off 8 inches"),
            tail=("", " in 30 days", " by summer", " without trying", " in 3 weeks")),
    *family("wl_fat", "weight_loss_claims", "body_end", BODY, "[subject] [core][tail].",
            fixes=("", "[subject] fits alongside a balanced diet and regular exercise."),
            subject=("{name}", "This formula", "Our programme", "The {item}"),
            core=("melts belly fat", "blasts stubborn fat", "burns fat while you sleep",
                  "dissolves thigh fat", "torches fat", "zaps fat"),
            tail=("", " in days", " for good", " with no effort")),
    *family("wl_effortless", "weight_loss_claims", "body_end", BODY, "[core] [tail].",
            core=("Slim down", "Get a slimmer waist", "Lose the belly", "Drop the weight",
                  "Lose weight"),
            tail=("without diet or exercise", "without going to the gym", "without dieting",
                  "in a week", "overnight")),
    *family("wl_head", "weight_loss_claims", "headline", BODY, "[core][tail]", fixes=(RESTORE,),
            core=("Lose 20 lbs", "Drop 2 dress sizes", "Shed 5 kg", "Lose 10 pounds"),
            tail=(" by summer", " in 3 weeks", " with {name}", " fast")),
    # No trigger words: veiled before/after and rapid results without numbers and units.
    *family("wl_implied", "weight_loss_claims", "body_end", BODY, "[subject] [core][tail].",
            subject=("{name}", "This formula", "Our programme", "The {item}"),
            core=("has customers zipping up jeans they haven't worn in years",
                  "takes you from a size 16 to a size 10", "makes your waistline shrink week "
                  "after week", "means your old clothes will hang off you",
                  "turns a muffin top into a flat stomach", "makes the scale drop every morning",
                  "makes the kilos fall away on their own", "gets you into a wedding dress two "
                  "sizes smaller", "lets you eat what you like and still get thinner",
                  "gives you a new body by the end of the month", "shrinks your stomach in a week",
                  "makes your friends ask how you got so thin"),
            tail=("", " in weeks", " with no effort", " without changing what you eat")),
    *family("wl_mirror", "weight_loss_claims", "body_end", BODY, "[core] [tail]",
            core=("January photo: size 18. June photo: size 10.",
                  "Same woman, three months apart, half the waist.",
                  "Her old jeans now fit around one leg.",
                  "He couldn't see his feet in March; now he runs marathons.",
                  "Left: day one. Right: day sixty."),
            tail=("", "All with {name}.", "The difference is {name}.")),
    *family("wl_head_implied", "weight_loss_claims", "headline", BODY, "[core]", fixes=(RESTORE,),
            core=("Your smaller jeans are waiting", "Be the thinnest you've ever been",
                  "A flat stomach by Friday", "Two sizes smaller by the weekend",
                  "Watch the kilos vanish", "Fit into your old clothes again by summer",
                  "The body you had at twenty, back in a month")),
]
