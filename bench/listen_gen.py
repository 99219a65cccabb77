"""Deterministic benchmark inputs for transcript analysis (no personal data: generated text).

Writes bench/out/listen_60min.vtt (a 60-minute two-speaker session, ~400 turns) and
bench/out/listen_sentences.txt (512 sentences of mixed length, one per line), used by both the
Rust and the Python side of bench/listen_bench.sh.
"""
import os
import random

rng = random.Random(20261123)

CLIN = [
    "How has the week been since we last met?",
    "What was that like for you?",
    "It sounds like that was really hard.",
    "Would it be okay if we looked at that together?",
    "What do you think got in the way?",
    "You should try the breathing exercise every evening.",
    "I notice you went quiet when we talked about your father.",
    "Shall we check whether our goals still fit for you?",
    "Tell me more about what happened on Tuesday.",
    "Let's plan one small step you could try this week.",
]
CLIENT = [
    "I don't know.",
    "Fine.",
    "It was a hard week, I kept waking up at night and lying awake for hours.",
    "My manager asked about the report again and I felt my chest tighten.",
    "Honestly, this isn't working and I still feel the same.",
    "I tried the technique we practised and it helped a little on Monday.",
    "Anyway, did you see the match on Saturday?",
    "I feel like you really get me, it helps to talk here.",
    "My sister called and we ended up arguing about our mum again.",
    "I want to be able to go to the shop on my own without panicking.",
    "People in general find change hard, it's just human nature.",
    "Whatever you think is best.",
]
FILLER = [
    "and then", "which meant", "so I thought", "but at the same time", "because",
    "even though", "and honestly", "after that",
]


BACKCHANNEL = ["Mm.", "Yeah.", "Right.", "Okay.", "Mm-hm.", "I see."]


def sentence(pool):
    s = rng.choice(pool)
    n = rng.choice([0, 0, 0, 1, 1, 2, 4])
    for _ in range(n):
        nxt = rng.choice(pool)
        s = s.rstrip(".?") + ", " + rng.choice(FILLER) + " " + nxt[0].lower() + nxt[1:]
    return s


def clock(t):
    h, rem = divmod(t, 3600)
    m, s = divmod(rem, 60)
    return f"{int(h):02}:{int(m):02}:{s:06.3f}"


def main():
    os.makedirs("bench/out", exist_ok=True)
    t = 0.0
    lines = ["WEBVTT", ""]
    turn = 0
    while t < 3600.0:
        clinician = turn % 2 == 0
        # About one turn in five is a short backchannel ("Mm.", "Yeah."), as in real sessions.
        text = rng.choice(BACKCHANNEL) if rng.random() < 0.2 else sentence(CLIN if clinician else CLIENT)
        dur = 0.5 + 0.4 * len(text.split())  # about 150 words a minute
        lines += [f"{clock(t)} --> {clock(t + dur)}", f"<v {'Dr Lee' if clinician else 'Sam'}>{text}", ""]
        t += dur + rng.choice([0.2, 0.3, 0.5, 0.8, 1.2, 2.5, 6.0])
        turn += 1
    with open("bench/out/listen_60min.vtt", "w") as f:
        f.write("\n".join(lines))
    with open("bench/out/listen_sentences.txt", "w") as f:
        for i in range(512):
            f.write(sentence(CLIN if i % 2 else CLIENT) + "\n")
    print(f"{turn} turns over {t / 60:.1f} minutes; 512 sentences")


if __name__ == "__main__":
    main()
