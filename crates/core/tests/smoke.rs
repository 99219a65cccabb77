use bordin_core::{format_value, Answers, Registry};

#[test]
fn builtin_instruments_load_and_score_wai() {
    let reg = Registry::builtin().unwrap();
    let wai = reg.get("wai_sr").unwrap();
    let pairs: Vec<(String, String)> = (1..=12).map(|i| (format!("q{i}"), "4".to_string())).collect();
    let a = Answers::parse(wai, pairs.iter().map(|(a, b)| (a.as_str(), b.as_str()))).unwrap();
    let s = wai.score(&a);
    assert_eq!(format_value(s.value(wai, "total").unwrap(), 2), "48.00");
}
