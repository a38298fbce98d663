"""A labelled FAQ set built in code: documents and paraphrased questions with their answer id.

Each document answers "how do I <verb> the <object> of my <brand> <product>?"; each question
asks the same with a synonym of the verb, another word order and filler, so neither exact
keywords nor a lexical vector alone find every answer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

BRANDS = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Stark",
    "Wayne",
    "Wonka",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Vandelay",
    "Oscorp",
    "Gringotts",
    "Dunder",
    "Pied",
]
PRODUCTS = [
    "kettle",
    "router",
    "laptop",
    "printer",
    "thermostat",
    "camera",
    "headphones",
    "scooter",
    "blender",
    "doorbell",
    "speaker",
    "monitor",
    "dishwasher",
    "drone",
    "tablet",
    "fridge",
    "watch",
    "projector",
    "vacuum",
    "console",
]
# Six tasks share each object, so the verb decides among more than five documents; questions
# use a variant of the verb (same stem: both rankings can match it) or a synonym (neither can).
TASKS = [
    ("cancel", ["cancelling", "cancellation of", "terminate"], "subscription"),
    ("renew", ["renewing", "renewal of", "extend"], "subscription"),
    ("pause", ["pausing", "paused", "suspend"], "subscription"),
    ("upgrade", ["upgrading", "upgraded", "improve"], "subscription"),
    ("downgrade", ["downgrading", "downgraded", "reduce"], "subscription"),
    ("transfer", ["transferring", "transfers of", "hand over"], "subscription"),
    ("return", ["returning", "returns of", "send back"], "order"),
    ("track", ["tracking", "tracked", "trace"], "order"),
    ("modify", ["modifying", "modification of", "edit"], "order"),
    ("split", ["splitting", "splits of", "divide"], "order"),
    ("expedite", ["expediting", "expedited", "hurry"], "order"),
    ("refund", ["refunding", "refunds for", "reimburse"], "order"),
]
EXTRAS = [
    "It takes about two minutes.",
    "You need your receipt and the serial number.",
    "Support answers within a day if anything goes wrong.",
    "The change shows in your account history.",
]
TEMPLATES = [
    "is there a way to do the {syn} {obj} on a {brand} {product}",
    "{brand} {product}: help with {syn} the {obj}?",
    "question about {syn} my {obj}, it's for the {product} from {brand}",
    "{syn} {obj} on my {brand} {product}",
]


@dataclass(frozen=True)
class Question:
    """A paraphrased question and the id of the document answering it."""

    text: str
    answer: str


def faq_documents(brands: int = len(BRANDS)) -> list[dict[str, object]]:
    """Every (brand, product, task) document of the first ``brands`` brands."""
    documents: list[dict[str, object]] = []
    for brand in BRANDS[:brands]:
        for product in PRODUCTS:
            for n, (verb, _, obj) in enumerate(TASKS):
                extra = EXTRAS[(len(documents) + n) % len(EXTRAS)]
                documents.append(
                    {
                        "id": f"{brand}-{product}-{verb}-{obj}".lower(),
                        "text": (
                            f"How do I {verb} the {obj} of my {brand} {product}? "
                            f"Open the {brand} app, pick your {product}, choose {obj.title()} "
                            f"and press {verb.title()}. {extra}"
                        ),
                        "metadata": {"brand": brand, "task": verb},
                    }
                )
    return documents


def faq_questions(count: int, seed: int = 7, brands: int = len(BRANDS)) -> list[Question]:
    """``count`` paraphrased questions about the first ``brands`` brands, with their answers."""
    rng = random.Random(seed)
    questions = []
    for _ in range(count):
        brand, product = rng.choice(BRANDS[:brands]), rng.choice(PRODUCTS)
        verb, synonyms, obj = rng.choice(TASKS)
        text = rng.choice(TEMPLATES).format(
            syn=rng.choice(synonyms), obj=obj, brand=brand, product=product
        )
        questions.append(Question(text, f"{brand}-{product}-{verb}-{obj}".lower()))
    return questions
