"""Neutral details: the ordinary sentences of an ad (service, payment, delivery, company facts), free of
trigger words and of any claim a policy covers.

They pad ads so that length says nothing about the labels (``compose.draw``). A violation takes a
detail's place, so a compliant ad carries more of them than a violating one: with a few fixed
sentences, a model learns to recognise those sentences as "the compliant ones" and then scores every
real compliant ad, which has none of them, as violating (results/ads-expert/verdict-head/: P(violation)
fell from 0.45 to 0.14 with each of the 30 fixed details a generated compliant ad carried). So details
are compositional families like the violation forms, hundreds of phrasings, with a held-out pool of
cores that only dev and test ads draw from (:func:`~.forms.heldout_keys`): generated test scores then
show whether a model learned what a violation is rather than which sentences are neutral.

Each detail is a :class:`~.forms.Negative` that mimics no policy (category-free: ``{name}`` and
``{item}`` are filled with the ad's product).
"""

from __future__ import annotations

from .forms import Negative, Pool, negatives
from .products import ALL_CATEGORIES as EVERY

DETAILS: list[Negative] = [
    *negatives("det_contact", (), EVERY, "[who] [core] [channel][when].",
               who=("Our team", "The {name} team", "Our staff", "Someone at {name}"),
               core=("answers questions", "replies to messages", "helps with orders", "can talk you through the {item}",
                     "handles returns and exchanges", "takes bookings"),
               channel=("by email", "by phone", "on live chat", "in store"),
               when=("", " on weekdays", " within a working day", " from 9am to 5pm")),
    *negatives("det_payment", (), EVERY, "You can pay [core][extra].",
               core=("by card or bank transfer", "with Apple Pay or Google Pay", "in three instalments", "by invoice",
                     "in cash at the counter", "with PayPal"),
               extra=("", " at checkout", " when you order", "; receipts are sent by email")),
    *negatives("det_delivery", (), EVERY, "[what] [core][where].",
               what=("Orders", "Most orders", "Parcels"),
               core=("ship within two working days", "arrive in three to five working days", "are sent by tracked post",
                     "can be collected in store", "are packed in recycled cardboard", "travel by courier"),
               where=("", " across the country", " to most addresses", " from our warehouse")),
    *negatives("det_founded", (), EVERY, "{name} [core] [place].",
               core=("was founded in 2009 in", "started in 2015 in", "opened its first shop in 2012 in",
                     "has been based since 2004 in", "began as a market stall in", "moved its workshop in 2019 to"),
               place=("Leeds", "Portland", "Glasgow", "Austin", "Melbourne", "Dublin", "Toronto", "Bristol")),
    *negatives("det_comes_with", (), EVERY, "The {item} comes with [core][extra].",
               core=("a printed guide", "setup instructions", "a carry case", "a one-page quick start",
                     "a spare part kit", "a reusable pouch", "an online account"),
               extra=("", " in the box", " as standard")),
    *negatives("det_info", (), EVERY, "[core] [verb] [place].",
               core=("Opening hours", "Full terms", "Sizing charts", "Ingredient lists", "Accessibility details",
                     "Delivery times", "Care instructions", "Product specifications", "Our privacy policy"),
               verb=("are on", "are listed on", "are set out on", "can be found on"),
               place=("our website", "the {name} app", "our help pages", "the product page")),
    *negatives("det_returns", (), EVERY, "[core] within [days][cond].",
               core=("Returns are accepted", "Unused items can be sent back", "You can exchange the {item}",
                     "Refunds are processed"),
               days=("14 days", "28 days", "30 days", "60 days"),
               cond=("", " of delivery", " with proof of purchase", "; see our returns page")),
    *negatives("det_social", (), EVERY, "Follow {name} on [platform] for [core].",
               platform=("Instagram", "Facebook", "YouTube", "LinkedIn", "our newsletter"),
               core=("news and events", "behind-the-scenes updates", "tips on using the {item}", "new releases",
                     "stories from our customers' projects")),
    *negatives("det_locations", (), EVERY, "[lead] [core].",
               lead=("You'll find us at", "{name} runs", "There are"),
               core=("four locations in the city centre", "two sites near the station", "shops in six towns",
                     "a showroom open by appointment", "stockists in most regions", "a counter in the market hall")),
    *negatives("det_formats", (), EVERY, "[what] [core].",
               what=("Information about the {item} is available", "Our brochure comes", "Guides are available",
                     "Our terms are available"),
               core=("in large print", "in Spanish and French", "as an audio file", "in braille on request",
                     "as a PDF")),
    *negatives("det_team", (), EVERY, "{name} is [core] [tail].",
               core=("run by a small team", "a family business", "owned by its employees", "an independent company",
                     "a member of its local trade association"),
               tail=("based in the north", "with a workshop out of town", "that answers its own phone",
                     "working with local suppliers")),
    *negatives("det_account", (), EVERY, "[core] [tail].",
               core=("Create an account to", "Sign in to", "Use the {name} app to"),
               tail=("track your order", "save your preferences", "manage your bookings", "update your details",
                     "see past orders", "change your delivery address")),
]
"""Every neutral detail, both pools."""

DETAILS_BY_POOL: dict[Pool, list[str]] = {pool: [d.text for d in DETAILS if d.pool == pool]
                                         for pool in ("train", "heldout")}
"""Detail templates per pool: train ads draw from ``train``, dev and test ads from ``heldout``."""

assert not any(d.mimics for d in DETAILS)
