//! Prototype statements for alliance evidence, written for Bordin (the Working Alliance
//! Inventory's wording is licence-gated and is not used). Bordin's (1979) three parts of the
//! working alliance: the bond between client and clinician, agreement on the goals of the work,
//! and agreement on its tasks. Each subscale has several paraphrased statements per side, as the
//! plain method of embedding turns against alliance statements (Lin, Cecchi & Bouneffouf,
//! "Deep annotation of therapeutic working alliance in psychotherapy", 2023) improves with
//! more than one wording.
//!
//! `NEUTRAL` holds everyday turns with no alliance content: a turn's similarity is reported in
//! standard deviations above these, so that "similar to everything" talk does not read as
//! evidence.

/// Client-side statements: `[bond, goal, task]`.
pub(crate) const CLIENT: [&[&str]; 3] = [
    &[
        "I feel you really understand me.",
        "I trust you and feel safe talking to you.",
        "I feel comfortable being honest with you here.",
        "It helps to know that you care about what happens to me.",
        "I feel respected and listened to in these sessions.",
        "I appreciate you, talking with you makes a difference.",
    ],
    &[
        "We agree on what I want to change in my life.",
        "I know what we are working towards together.",
        "The things we focus on here are what matter most to me.",
        "We both want the same outcome from this work.",
        "I want to get better at handling this, and that is our aim.",
        "Working on this goal is exactly why I came here.",
    ],
    &[
        "The exercises we do here make sense to me.",
        "I can see how doing this homework will help me.",
        "I tried the technique we practised and it helped.",
        "The way we work in these sessions suits me.",
        "I understand what I need to do between sessions.",
        "Practising this skill each day is useful for me.",
    ],
];

/// Clinician-side statements: `[bond, goal, task]`.
pub(crate) const CLINICIAN: [&[&str]; 3] = [
    &[
        "I really appreciate you sharing that with me.",
        "I can hear how painful this has been for you.",
        "I'm glad you trusted me enough to tell me.",
        "It makes sense that you would feel that way.",
        "I'm here with you, and we can take this at your pace.",
        "Thank you for being so open with me today.",
    ],
    &[
        "What would you most like to be different by the end of our work?",
        "So the goal we agreed on is to help you feel more in control.",
        "Let's make sure we are working on what matters most to you.",
        "How would you know that things are getting better for you?",
        "It sounds like what you want is to feel confident again.",
        "Shall we check whether our goals still fit for you?",
    ],
    &[
        "Would it be helpful to try a breathing exercise together?",
        "How did the practice between sessions go for you?",
        "Let's plan one small step you could try this week.",
        "Does this way of working make sense to you?",
        "Shall we go through the thought record together?",
        "We could practise this skill here first, if that suits you.",
    ],
];

/// Everyday turns with no alliance content: the background against which similarities are
/// normalised.
pub(crate) const NEUTRAL: &[&str] = &[
    "The traffic was heavy on the way over here.",
    "It rained most of the weekend.",
    "I had pasta for dinner last night.",
    "The train was ten minutes late this morning.",
    "We painted the kitchen a lighter colour.",
    "My phone battery keeps running out.",
    "The shop on the corner closed down.",
    "I watched a documentary about whales.",
    "The car needs a new tyre.",
    "My sister moved to another city in March.",
    "There is a football match on Saturday.",
    "The heating in the building was off again.",
    "I bought a new pair of shoes.",
    "The meeting got moved to Thursday.",
    "It's colder today than yesterday.",
    "The parking here is hard to find.",
    "I need to renew my passport soon.",
    "We had a power cut on Tuesday evening.",
    "The dog next door barks in the morning.",
    "I started reading a book about history.",
    "The bus route changed last month.",
    "My neighbour is building a garden shed.",
    "The coffee machine at work is broken.",
    "I cooked soup for the whole week.",
    "There were roadworks on the high street.",
    "The new series starts next Friday.",
    "My cousin got a job at the bank.",
    "I cleaned out the garage on Sunday.",
    "The supermarket was very busy.",
    "We booked tickets for the concert.",
];
