use bordin_listen::{parse, Format, Transcript};

use crate::data;

fn brief(t: &Transcript) -> Vec<(String, Option<f64>, Option<f64>, String)> {
    t.turns
        .iter()
        .map(|x| (x.speaker.clone(), x.start, x.end, x.text.clone()))
        .collect()
}

fn turn(
    s: &str,
    a: Option<f64>,
    b: Option<f64>,
    t: &str,
) -> (String, Option<f64>, Option<f64>, String) {
    (s.to_owned(), a, b, t.to_owned())
}

#[test]
fn zoom_vtt_with_names_in_cues_notes_styles_and_entities() {
    let t = parse(&data("zoom.vtt"), Format::Vtt).unwrap();
    assert_eq!(
        brief(&t),
        vec![
            turn(
                "Dr Ana Lee",
                Some(1.0),
                Some(4.5),
                "Hi Sam, how has the week been & how did you sleep?"
            ),
            // Cues 2 and 3 are one speaker: one turn from the first start to the last end.
            turn(
                "Sam Taylor",
                Some(6.0),
                Some(10.0),
                "Not great. I kept waking up at 3 a.m. <again>."
            ),
            // Hours are optional; cue settings after the timing are ignored.
            turn(
                "Dr Ana Lee",
                Some(10.5),
                Some(14.0),
                "That sounds exhausting. What do you think is waking you?"
            ),
        ]
    );
    assert!(t.timed);
}

#[test]
fn teams_vtt_with_voice_spans_two_voices_in_a_cue_and_a_region() {
    let t = parse(&data("teams.vtt"), Format::Vtt).unwrap();
    assert_eq!(
        brief(&t),
        vec![
            turn(
                "Ana Lee",
                Some(0.0),
                Some(3.0),
                "Shall we start with the sleep diary?"
            ),
            turn(
                "Sam Taylor",
                Some(4.0),
                Some(9.0),
                "Sure. I filled it in most days. Not on Friday though."
            ),
            turn("Ana Lee", Some(6.0), Some(9.0), "That's okay."),
            turn("Sam Taylor", Some(3600.0), Some(3602.5), "Thank you!"),
        ]
    );
}

#[test]
fn srt_cues_without_a_name_continue_the_speaker() {
    let t = parse(&data("session.srt"), Format::Srt).unwrap();
    assert_eq!(
        brief(&t),
        vec![
            turn(
                "Therapist",
                Some(1.0),
                Some(3.0),
                "What would you like to focus on today?"
            ),
            turn("Client", Some(5.5), Some(7.0), "I don't know."),
            turn(
                "Therapist",
                Some(7.0),
                Some(12.0),
                "Take your time. Maybe we could start with your sleep at night?"
            ),
        ]
    );
}

#[test]
fn whisperx_json_takes_a_missing_speaker_from_its_words() {
    let t = parse(&data("whisperx.json"), Format::Json).unwrap();
    assert_eq!(
        brief(&t),
        vec![
            turn(
                "SPEAKER_00",
                Some(0.5),
                Some(3.0),
                "How was the exercise this week?"
            ),
            turn(
                "SPEAKER_01",
                Some(4.0),
                Some(8.0),
                "Honestly, this isn't working. I still feel the same."
            ),
            turn(
                "SPEAKER_00",
                Some(9.0),
                Some(12.0),
                "What would make it feel more useful to you?"
            ),
        ]
    );
}

#[test]
fn plain_text_with_stamps_and_a_continuation_line() {
    let t = parse(&data("session.txt"), Format::Txt).unwrap();
    assert_eq!(
        brief(&t),
        vec![
            turn("Lee", Some(0.0), None, "Good to see you. How are things?"),
            turn(
                "Sam",
                Some(4.0),
                None,
                "Busy. Work has been a lot, and I haven't done the breathing practice."
            ),
            turn(
                "Lee",
                Some(15.0),
                None,
                "Would it be okay if we looked at what got in the way?"
            ),
            turn("Sam", Some(21.0), None, "Sure."),
        ]
    );
    assert!(t.timed);
    let untimed = parse("A: hi\nB: hello\n", Format::Txt).unwrap();
    assert!(!untimed.timed);
}

#[test]
fn detected_formats_parse_the_same_as_named_ones() {
    for (file, format) in [
        ("zoom.vtt", Format::Vtt),
        ("session.srt", Format::Srt),
        ("whisperx.json", Format::Json),
        ("session.txt", Format::Txt),
    ] {
        let text = data(file);
        assert_eq!(Format::detect(&text), format, "{file}");
    }
}

fn error(file: &str, format: Format) -> (usize, String) {
    let e = parse(&data(file), format).unwrap_err();
    (e.line, e.to_string())
}

#[test]
fn broken_files_name_the_line_and_what_was_expected() {
    let (line, msg) = error("broken_header.vtt", Format::Vtt);
    assert_eq!(line, 1);
    assert!(
        msg.contains("expected the `WEBVTT` header, found `WEBVT`"),
        "{msg}"
    );

    let (line, msg) = error("broken_timing.vtt", Format::Vtt);
    assert_eq!(line, 8, "{msg}");
    assert!(msg.contains("expected a cue timing line"), "{msg}");

    let (line, msg) = error("broken_index.srt", Format::Srt);
    assert_eq!(line, 5, "{msg}");
    assert!(msg.contains("expected a cue number"), "{msg}");

    let (line, msg) = error("broken_segment.json", Format::Json);
    assert_eq!(line, 3, "{msg}");
    assert!(
        msg.contains("segment 1: expected `end` (1.5) not before `start` (2)"),
        "{msg}"
    );

    let (line, msg) = error("broken_type.json", Format::Json);
    assert_eq!(line, 3, "{msg}");
    assert!(msg.contains("segment 1"), "{msg}");

    let (line, msg) = error("broken_speaker.txt", Format::Txt);
    assert_eq!(line, 2, "{msg}");
    assert!(msg.contains("expected `Speaker: text`"), "{msg}");
}

#[test]
fn a_file_of_the_wrong_format_or_with_no_speech_is_an_error_not_a_panic() {
    assert!(parse(&data("session.srt"), Format::Vtt).is_err());
    assert!(parse(&data("zoom.vtt"), Format::Json).is_err());
    let e = parse("WEBVTT\n\nNOTE only a note\n", Format::Vtt).unwrap_err();
    assert!(e.to_string().contains("at least one line of speech"), "{e}");
    assert!(parse("", Format::Txt).is_err());
    assert!(parse("{\"segments\": []}", Format::Json).is_err());
    // A timing line with a bad clock.
    let e = parse("1\n00:00:01,000 --> 00:00:99,000\nA: hi\n", Format::Srt).unwrap_err();
    assert_eq!(e.line, 2);
}

#[test]
fn an_srt_ending_on_a_cue_number_names_that_line_not_one_past_the_end() {
    // Found by the transcript_srt fuzz target: the error named line 2 of a one-line file.
    let e = parse("1", Format::Srt).unwrap_err();
    assert_eq!(e.line, 1);
    assert!(e.to_string().contains("after this cue number"), "{e}");
    let e = parse(
        "1\n00:00:01,000 --> 00:00:02,000\nA: hi\n\n2\n",
        Format::Srt,
    )
    .unwrap_err();
    assert_eq!(e.line, 5);
}
