//! Small text helpers shared by the parsers, features and markers.

/// Words: whitespace-separated tokens that hold a letter or digit.
pub(crate) fn word_count(text: &str) -> usize {
    text.split_whitespace()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .count()
}

/// Lower-case words with surrounding punctuation removed; inner apostrophes kept
/// ("don't", "you're"); curly apostrophes made straight.
pub(crate) fn words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| {
            w.replace(['\u{2019}', '\u{2018}'], "'")
                .trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// The text normalised for phrase search: lower-case words joined by single spaces, with a
/// space at both ends so that `contains(" you should ")` matches whole words only.
pub(crate) fn normalised(text: &str) -> String {
    let mut s = String::with_capacity(text.len() + 2);
    s.push(' ');
    for w in words(text) {
        s.push_str(&w);
        s.push(' ');
    }
    s
}

/// The first phrase of `phrases` that occurs in `norm` (from [`normalised`]) as whole words.
pub(crate) fn find_phrase<'a>(norm: &str, phrases: &[&'a str]) -> Option<&'a str> {
    phrases.iter().copied().find(|p| {
        let mut pat = String::with_capacity(p.len() + 2);
        pat.push(' ');
        pat.push_str(p);
        pat.push(' ');
        norm.contains(&pat)
    })
}

/// Openers of questions without a question mark (speech-to-text often drops it).
const QUESTION_OPENERS: &[&str] = &[
    "what", "how", "why", "when", "where", "who", "which", "do", "does", "did", "can", "could",
    "would", "will", "is", "are", "was", "were", "have", "has", "should", "shall", "may",
];

/// A turn asks when it has a question mark or its first word opens a question.
pub(crate) fn is_question(text: &str) -> bool {
    if text.contains('?') {
        return true;
    }
    words(text)
        .first()
        .is_some_and(|w| QUESTION_OPENERS.contains(&w.as_str()))
}

/// Open questions invite more than a yes/no or a fact.
pub(crate) fn is_open_question(text: &str) -> bool {
    let norm = normalised(text);
    is_question(text)
        && find_phrase(
            &norm,
            &[
                "what",
                "how",
                "why",
                "tell me",
                "say more",
                "describe",
                "talk about",
                "walk me through",
            ],
        )
        .is_some()
}

/// Decodes the character references WebVTT and SRT files use (`&amp;`, `&lt;`, `&#39;`,
/// `&#x2019;` …). Unknown references are left as they are.
pub(crate) fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let end = tail[1..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '#'))
            .map(|j| j + 1);
        let decoded = match end {
            Some(j) if tail[j..].starts_with(';') => {
                let name = &tail[1..j];
                let ch = match name {
                    "amp" => Some('&'),
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    "nbsp" => Some(' '),
                    "lrm" | "rlm" => Some('\u{200b}'),
                    _ => name.strip_prefix('#').and_then(|num| {
                        let code = match num.strip_prefix(['x', 'X']) {
                            Some(hex) => u32::from_str_radix(hex, 16).ok(),
                            None => num.parse().ok(),
                        };
                        code.and_then(char::from_u32)
                    }),
                };
                ch.map(|c| (c, j + 1))
            }
            _ => None,
        };
        match decoded {
            Some((c, len)) => {
                if c != '\u{200b}' {
                    out.push(c);
                }
                rest = &tail[len..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Removes `<…>` markup (voice spans, `<i>`, class spans, inline timestamps).
pub(crate) fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut depth = false;
    for c in s.chars() {
        match c {
            '<' => depth = true,
            '>' if depth => depth = false,
            _ if !depth => out.push(c),
            _ => {}
        }
    }
    out
}

/// Sentences of a turn, for embedding: split after `.`, `?` or `!` followed by a space; a
/// fragment of fewer than 3 words is joined to the sentence before it (or after it, at the start).
pub(crate) fn sentences(text: &str) -> Vec<&str> {
    let mut raw: Vec<(usize, usize)> = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if matches!(b, b'.' | b'?' | b'!')
            && bytes.get(i + 1).is_some_and(|n| n.is_ascii_whitespace())
        {
            raw.push((start, i + 1));
            start = i + 1;
        }
    }
    if start < text.len() {
        raw.push((start, text.len()));
    }
    let mut out: Vec<(usize, usize)> = Vec::new();
    let mut pending: Option<usize> = None;
    for (a, b) in raw {
        let a = pending.take().unwrap_or(a);
        if word_count(&text[a..b]) < 3 {
            match out.last_mut() {
                Some(last) => last.1 = b,
                None => pending = Some(a),
            }
        } else {
            out.push((a, b));
        }
    }
    if let Some(a) = pending {
        out.push((a, text.len()));
    }
    out.into_iter()
        .map(|(a, b)| text[a..b].trim())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Shortens text for evidence lists, on a character boundary.
pub(crate) fn excerpt(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let mut s: String = text.chars().take(max_chars).collect();
    s.push('…');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_decode_and_unknown_ones_stay() {
        assert_eq!(
            decode_entities("a &amp; b &lt;3 &#39;x&#x2019; &bogus; &"),
            "a & b <3 'x\u{2019} &bogus; &"
        );
    }

    #[test]
    fn questions_with_and_without_marks() {
        assert!(is_question("You came by bus?"));
        assert!(is_question("how was the week"));
        assert!(!is_question("I see."));
        assert!(is_open_question("What was that like for you?"));
        assert!(!is_open_question("Did you sleep?"));
    }

    #[test]
    fn sentences_split_with_short_fragments_joined() {
        assert_eq!(
            sentences("Mm. Yes. I trust you a lot. It helps! What now? ok"),
            vec!["Mm. Yes. I trust you a lot. It helps! What now? ok"]
        );
        assert_eq!(
            sentences("I slept badly again. We talked about my mother a lot. Ok."),
            vec![
                "I slept badly again.",
                "We talked about my mother a lot. Ok."
            ]
        );
        assert_eq!(sentences("Fine."), vec!["Fine."]);
        assert_eq!(
            sentences("3.5 is the number. e.g. this"),
            vec!["3.5 is the number. e.g. this"]
        );
    }

    #[test]
    fn phrases_match_whole_words_only() {
        let n = normalised("Well, YOU SHOULD try it.");
        assert_eq!(find_phrase(&n, &["you should"]), Some("you should"));
        assert_eq!(
            find_phrase(&normalised("youth shoulder"), &["you should"]),
            None
        );
        assert_eq!(word_count("  Hello -- there, you! "), 3);
    }
}
