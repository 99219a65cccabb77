//! The demo clinic: a realistic practice with months of measured sessions, generated
//! deterministically from a seed.
//!
//! Generation is split in two:
//! - [`plan`] is pure: from a seed and today's date it produces every person, case, session and
//!   item-level answer ([`Plan`]). It does no I/O and is unit-tested on its own.
//! - [`seed`] stores a plan through the [`Store`]: it checks and scores each answer set with the
//!   core (exactly as a submitted form would be) and submits it as a `demo` response.
//!
//! The answers come from latent trajectories per client *archetype* (improving, stalling,
//! deteriorating, an alliance rupture that is repaired, early low alliance then drop-out, and a
//! therapist who rates the alliance well above the client), plus a small per-item and per-session
//! noise. Alliance answers are pushed against the top of their scales, as real alliance data are
//! (ceiling effects: shared/reference/instruments.md), so the monitoring has to read each client
//! against their own baseline. Nothing here is real: names, codes and answers are invented, and
//! the passwords say plainly that they are demo passwords.

use anyhow::{bail, Context};
use bordin_core::care::{CaseStatus, Modality, ResponseSource, Role, SessionStatus};
use bordin_core::goals::ConsentKind;
use bordin_core::registry::PLACEHOLDER_PACKS;
use bordin_core::{Answers, Registry, Setting, Value};
use bordin_store::{NewAdministration, NewCase, NewResponse, Store, Submitted};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The demo clinic's name.
pub const CLINIC_NAME: &str = "Riverside Counselling & Therapy";

/// A login created by the demo (printed by `bordin demo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoLogin {
    pub email: String,
    pub password: String,
    pub role: Role,
    pub name: String,
}

/// What [`seed`] created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSummary {
    pub clinic_id: String,
    pub logins: Vec<DemoLogin>,
    pub clients: usize,
    /// Session rows (attended and missed).
    pub sessions: usize,
    /// Responses stored.
    pub responses: usize,
}

/// The course a client's scores follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Archetype {
    /// PHQ-9 from about 16 down to about 6; alliance high and rising a little.
    Improving,
    /// PHQ-9 flat around 14; alliance good but not rising.
    Stalling,
    /// PHQ-9 rising from about 12; alliance slowly falling.
    Deteriorating,
    /// A V-shaped drop in the Session Check and WAI-SR over one or two sessions mid-course
    /// (goals and tasks more than bond), then back to the earlier level.
    AllianceDip,
    /// Low alliance in sessions 1–3; the case drops out after about four sessions.
    EarlyDropout,
    /// The therapist's WAI-SRT sits clearly above the client's WAI-SR.
    TherapistOverRating,
}

impl Archetype {
    pub const ALL: [Archetype; 6] = [
        Self::Improving,
        Self::Stalling,
        Self::Deteriorating,
        Self::AllianceDip,
        Self::EarlyDropout,
        Self::TherapistOverRating,
    ];
}

/// A staff member to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffPlan {
    pub name: String,
    pub email: String,
    pub password: String,
    pub role: Role,
}

/// A client to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientPlan {
    pub code: String,
    pub display_name: Option<String>,
    pub archetype: Archetype,
    /// Whether this client answers PHQ-9 item 9 above 0 at some session.
    pub risk: bool,
}

/// One response to store: answers in the instrument's item order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponsePlan {
    pub instrument: &'static str,
    /// Index into [`Plan::clients`]: who answered (client forms) or who is rated (therapist forms).
    pub client: usize,
    pub values: Vec<Option<i64>>,
    pub submitted_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPlan {
    pub number: i64,
    pub held_on: String,
    pub modality: Modality,
    pub status: SessionStatus,
    pub responses: Vec<ResponsePlan>,
}

/// A form left open for the next session (no link: the clinician hands it over in the room).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingPlan {
    pub instrument: &'static str,
    pub client: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CasePlan {
    pub title: String,
    pub setting: Setting,
    /// Index into [`Plan::staff`] of the lead clinician.
    pub clinician: usize,
    /// Indices into [`Plan::clients`].
    pub clients: Vec<usize>,
    pub status: CaseStatus,
    pub opened_on: String,
    pub closed_on: Option<String>,
    pub sessions: Vec<SessionPlan>,
    pub pending: Vec<PendingPlan>,
}

/// Everything the demo clinic is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub staff: Vec<StaffPlan>,
    /// Index into `staff` of the supervisor, who supervises every clinician.
    pub supervisor: usize,
    pub clients: Vec<ClientPlan>,
    pub cases: Vec<CasePlan>,
}

impl Plan {
    pub fn sessions(&self) -> impl Iterator<Item = &SessionPlan> {
        self.cases.iter().flat_map(|c| &c.sessions)
    }

    pub fn responses(&self) -> impl Iterator<Item = &ResponsePlan> {
        self.sessions().flat_map(|s| &s.responses)
    }
}

// ---------------------------------------------------------------------------------------------
// Calendar (days since 1970-01-01; Howard Hinnant's civil-date algorithms).

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Reads `YYYY-MM-DD` into days since the epoch.
pub fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| {
        s.get(r)
            .filter(|t| t.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|t| t.parse::<i64>().ok())
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&m) || d < 1 {
        return None;
    }
    let days = days_from_civil(y, m, d);
    // Rejects 2026-02-30 and the like: the date must round-trip.
    (civil_from_days(days) == (y, m, d)).then_some(days)
}

/// Days since the epoch as `YYYY-MM-DD`.
pub fn format_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

const DAY_MS: i64 = 86_400_000;
const MINUTE_MS: i64 = 60_000;

// ---------------------------------------------------------------------------------------------
// Random helpers (all draws come from the one seeded ChaCha8 stream, in a fixed order).

/// An approximately standard normal draw: the sum of six uniforms (Irwin–Hall), centred and
/// scaled. Only additions, so the stream gives the same numbers on every platform.
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let s: f64 = (0..6).map(|_| rng.gen::<f64>()).sum();
    (s - 3.0) * std::f64::consts::SQRT_2
}

fn chance(rng: &mut ChaCha8Rng, p: f64) -> bool {
    rng.gen::<f64>() < p
}

/// Rounds and clamps a latent value onto a whole-number answer scale.
fn on_scale(x: f64, lo: i64, hi: i64) -> i64 {
    (x.round() as i64).clamp(lo, hi)
}

// ---------------------------------------------------------------------------------------------
// Measurement schedule.

pub const SESSION_CHECK: &str = "session_check";
pub const WAI_SR: &str = "wai_sr";
pub const WAI_SRT: &str = "wai_srt";
pub const PHQ9: &str = "phq9";
pub const GAD7: &str = "gad7";

/// WAI-SR (client) and WAI-SRT (therapist) at sessions 1, 3, 5 and then every 4th (9, 13, …).
pub fn alliance_session(number: i64) -> bool {
    matches!(number, 1 | 3 | 5) || (number > 5 && (number - 5) % 4 == 0)
}

/// PHQ-9 and GAD-7 at intake and every second session after it (1, 3, 5, …); not in coaching.
pub fn symptom_session(number: i64, setting: Setting) -> bool {
    setting != Setting::Coaching && number % 2 == 1
}

/// Instruments given at an attended session, in the order they are filled.
pub fn measures_at(number: i64, setting: Setting) -> Vec<&'static str> {
    let mut out = Vec::new();
    if symptom_session(number, setting) {
        out.extend([PHQ9, GAD7]);
    }
    out.push(SESSION_CHECK);
    if alliance_session(number) {
        out.extend([WAI_SR, WAI_SRT]);
    }
    out
}

// WAI-SR/WAI-SRT item positions (0-based) by subscale (Hatcher & Gillaspy 2006):
// Task = q1, q2, q10, q12; Bond = q3, q5, q7, q9; Goal = q4, q6, q8, q11.
const WAI_BOND: [usize; 4] = [2, 4, 6, 8];

fn wai_is_bond(pos: usize) -> bool {
    WAI_BOND.contains(&pos)
}

// ---------------------------------------------------------------------------------------------
// Latent trajectories.

/// Per-client constants drawn once, so that a client's answers have a stable profile.
#[derive(Debug, Clone)]
struct Profile {
    archetype: Archetype,
    risk: bool,
    /// Level shift of the client's PHQ-9 and GAD-7 course.
    symptom_shift: f64,
    /// Level shift of the client's alliance.
    alliance_shift: f64,
    /// How much higher (or lower) the therapist rates this alliance than the client.
    therapist_gap: f64,
    phq_items: [f64; 8],
    gad_items: [f64; 7],
    wai_items: [f64; 12],
    check_items: [f64; 4],
    /// Session at the centre of the rupture (AllianceDip), and whether it spans two sessions.
    dip_at: i64,
    dip_two_sessions: bool,
}

impl Profile {
    fn draw(rng: &mut ChaCha8Rng, archetype: Archetype, risk: bool) -> Self {
        let mut arr = |sd: f64| normal(rng) * sd;
        let phq_items = std::array::from_fn(|_| arr(0.35));
        let gad_items = std::array::from_fn(|_| arr(0.3));
        let wai_items = std::array::from_fn(|_| arr(0.25));
        let check_items = std::array::from_fn(|_| arr(0.4));
        Self {
            archetype,
            risk,
            symptom_shift: normal(rng) * 1.5,
            alliance_shift: normal(rng) * 0.12,
            therapist_gap: -0.3 + normal(rng) * 0.15,
            phq_items,
            gad_items,
            wai_items,
            check_items,
            dip_at: rng.gen_range(8..=10),
            dip_two_sessions: chance(rng, 0.5),
        }
    }

    /// Expected PHQ-9 total at a session.
    fn phq(&self, n: i64) -> f64 {
        let t = (n - 1) as f64;
        let base = match self.archetype {
            Archetype::Improving => 6.0 + 10.0 * (-t / 5.0).exp(),
            Archetype::Stalling => 14.0,
            Archetype::Deteriorating => 12.0 + 8.0 * (1.0 - (-t / 6.0).exp()),
            Archetype::AllianceDip => 9.0 + 8.0 * (-t / 6.0).exp(),
            Archetype::EarlyDropout => 17.0,
            Archetype::TherapistOverRating => 12.0 + 3.0 * (-t / 6.0).exp(),
        };
        base + self.symptom_shift
    }

    /// Expected GAD-7 total: follows the PHQ-9 course on its own 0–21 range.
    fn gad(&self, n: i64) -> f64 {
        self.phq(n) * 0.78
    }

    /// How far below its usual level the alliance is at session `n` (0 when not in a rupture).
    fn dip(&self, n: i64) -> f64 {
        if self.archetype != Archetype::AllianceDip {
            return 0.0;
        }
        let d = self.dip_at;
        if n == d {
            1.2
        } else if self.dip_two_sessions && n == d - 1 {
            0.7
        } else if n == d + 1 {
            0.25
        } else {
            0.0
        }
    }

    /// Expected client alliance as a mean item answer on the WAI's 1–5 scale.
    fn alliance(&self, n: i64) -> f64 {
        let t = (n - 1) as f64;
        let base = match self.archetype {
            Archetype::Improving => 4.25 + 0.45 * (1.0 - (-t / 4.0).exp()),
            Archetype::Stalling => 3.95,
            Archetype::Deteriorating => 4.05 - 0.5 * (1.0 - (-t / 6.0).exp()),
            // Repairs often leave the alliance a little stronger than before.
            Archetype::AllianceDip => 4.45 + if n > self.dip_at + 1 { 0.1 } else { 0.0 },
            Archetype::EarlyDropout => 2.9 - 0.1 * t,
            Archetype::TherapistOverRating => 3.3,
        };
        base + self.alliance_shift - self.dip(n)
    }

    /// Expected therapist alliance (WAI-SRT mean item answer).
    fn therapist_alliance(&self, n: i64) -> f64 {
        match self.archetype {
            Archetype::TherapistOverRating => 4.6 + self.alliance_shift,
            // The therapist notices about half of a rupture.
            Archetype::AllianceDip => self.alliance(n) + self.dip(n) * 0.5 + self.therapist_gap,
            _ => self.alliance(n) + self.therapist_gap,
        }
    }

    /// PHQ-9 item 9 at session `n` (0 unless this is a client at risk, at the sessions chosen).
    fn phq_q9(&self, n: i64, latent_total: f64) -> i64 {
        if !self.risk {
            return 0;
        }
        match self.archetype {
            // Intake at risk, easing as therapy helps.
            Archetype::Improving => match n {
                1 => 2,
                3 => 1,
                _ => 0,
            },
            // Thoughts come once the mood has worsened.
            _ => i64::from(latent_total >= 17.0 || n >= 5),
        }
    }
}

fn phq9_answers(rng: &mut ChaCha8Rng, p: &Profile, n: i64) -> Vec<Option<i64>> {
    let total = (p.phq(n) + normal(rng) * 1.3).clamp(0.0, 26.0);
    let q9 = p.phq_q9(n, total);
    let per_item = (total - q9 as f64).max(0.0) / 8.0;
    let mut v: Vec<Option<i64>> = p
        .phq_items
        .iter()
        .map(|o| Some(on_scale(per_item + o + normal(rng) * 0.45, 0, 3)))
        .collect();
    v.push(Some(q9));
    // Item 10 (how difficult the problems made life; not scored) follows the severity.
    v.push(Some(on_scale(total / 8.0 + normal(rng) * 0.4, 0, 3)));
    v
}

fn gad7_answers(rng: &mut ChaCha8Rng, p: &Profile, n: i64) -> Vec<Option<i64>> {
    let total = (p.gad(n) + normal(rng) * 1.2).clamp(0.0, 21.0);
    p.gad_items
        .iter()
        .map(|o| Some(on_scale(total / 7.0 + o + normal(rng) * 0.45, 0, 3)))
        .collect()
}

/// WAI-SR or WAI-SRT items around a mean level `mu` (1–5); `goal_task_drop` lowers the goal and
/// task items further than the bond items (a rupture over what to work on, not over the bond).
fn wai_answers(
    rng: &mut ChaCha8Rng,
    p: &Profile,
    mu: f64,
    goal_task_drop: f64,
) -> Vec<Option<i64>> {
    (0..12)
        .map(|i| {
            let extra = if wai_is_bond(i) { 0.0 } else { goal_task_drop };
            Some(on_scale(
                mu - extra + p.wai_items[i] + normal(rng) * 0.45,
                1,
                5,
            ))
        })
        .collect()
}

/// Session Check items (0–10): the same alliance level mapped onto 0–10, crowding the top.
fn check_answers(
    rng: &mut ChaCha8Rng,
    p: &Profile,
    mu: f64,
    goal_task_drop: f64,
) -> Vec<Option<i64>> {
    let level = 2.5 * (mu - 1.0) + 0.6;
    (0..4)
        .map(|i| {
            let extra = if i == 1 || i == 2 {
                goal_task_drop * 2.5
            } else {
                0.0
            };
            Some(on_scale(
                level - extra + p.check_items[i] + normal(rng) * 0.6,
                0,
                10,
            ))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The roster.

const STAFF: [(&str, &str, Role); 6] = [
    ("Morgan Ellery", "admin", Role::Admin),
    ("Dr Helen Achterberg", "supervisor", Role::Supervisor),
    ("Samir Haddad", "clinician1", Role::Clinician),
    ("Grace Okonjo", "clinician2", Role::Clinician),
    ("Lukas Brandt", "clinician3", Role::Clinician),
    ("Priya Raman", "clinician4", Role::Clinician),
];
const SUPERVISOR: usize = 1;
const FIRST_CLINICIAN: usize = 2;
/// Couples and family work.
const SYSTEMIC_CLINICIAN: usize = 3;
/// Also offers coaching.
const COACH: usize = 5;

const FIRST_NAMES: [&str; 48] = [
    "Maya", "Tom", "Aisha", "Daniel", "Sofia", "Oliver", "Zara", "Liam", "Hannah", "Kofi", "Elena",
    "Marcus", "Chloe", "Ravi", "Isla", "Mateo", "Freya", "Jonah", "Amara", "Felix", "Leah",
    "Tariq", "Nina", "Owen", "Ines", "Ben", "Yara", "Callum", "Mei", "Jakub", "Rosa", "Ethan",
    "Noor", "Samuel", "Aoife", "Hugo", "Lena", "Kai", "Fatima", "Arjun", "Ruth", "Niall", "Iris",
    "Dmitri", "Esme", "Luca", "Tamsin", "Joel",
];
const SURNAME_INITIALS: &[u8] = b"ABCDEFGHJKLMNOPRSTVWY";
const FAMILY_NAMES: [&str; 6] = [
    "Okafor",
    "Lindqvist",
    "Moreau",
    "Hartley",
    "Novak",
    "Castillo",
];

/// The password of a demo login: says what it is.
fn demo_password(key: &str) -> String {
    match key.strip_prefix("clinician") {
        Some(n) => format!("demo-clinician-{n}"),
        None => format!("demo-{key}"),
    }
}

/// What a case is, before its sessions are drawn.
struct CaseShape {
    setting: Setting,
    archetypes: Vec<Archetype>,
    kind: CaseKind,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum CaseKind {
    Individual,
    Couple,
    Family,
}

/// Builds the whole demo clinic from a seed, for sessions held before `today` (`YYYY-MM-DD`).
///
/// Pure: the same seed and date give the same plan.
pub fn plan(seed: u64, today: &str) -> anyhow::Result<Plan> {
    let today =
        parse_date(today).with_context(|| format!("'{today}' is not a date (YYYY-MM-DD)"))?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);

    let staff: Vec<StaffPlan> = STAFF
        .iter()
        .map(|&(name, key, role)| StaffPlan {
            name: name.to_owned(),
            email: format!("{key}@riverside.example"),
            password: demo_password(key),
            role,
        })
        .collect();
    let clinicians: Vec<usize> = (FIRST_CLINICIAN..staff.len()).collect();

    // 30 individual therapy cases with a fixed mix of courses, 3 coaching cases, 2 couples and a
    // family: 40 clients in 36 cases.
    use Archetype::*;
    let mut individual: Vec<Archetype> = [
        (Improving, 11),
        (Stalling, 5),
        (Deteriorating, 3),
        (AllianceDip, 4),
        (EarlyDropout, 3),
        (TherapistOverRating, 4),
    ]
    .iter()
    .flat_map(|&(a, k)| std::iter::repeat_n(a, k))
    .collect();
    individual.shuffle(&mut rng);
    let mut shapes: Vec<CaseShape> = individual
        .into_iter()
        .map(|a| CaseShape {
            setting: Setting::Therapy,
            archetypes: vec![a],
            kind: CaseKind::Individual,
        })
        .collect();
    for a in [Improving, Improving, Stalling] {
        shapes.push(CaseShape {
            setting: Setting::Coaching,
            archetypes: vec![a],
            kind: CaseKind::Individual,
        });
    }
    shapes.push(CaseShape {
        setting: Setting::Therapy,
        archetypes: vec![Improving, Stalling],
        kind: CaseKind::Couple,
    });
    shapes.push(CaseShape {
        setting: Setting::Therapy,
        archetypes: vec![AllianceDip, Improving],
        kind: CaseKind::Couple,
    });
    shapes.push(CaseShape {
        setting: Setting::Therapy,
        archetypes: vec![Improving, Stalling, Improving],
        kind: CaseKind::Family,
    });
    shapes.shuffle(&mut rng);

    // Two clients answer PHQ-9 item 9 above 0: one improving client at intake, one deteriorating
    // client later on (both in individual therapy, so PHQ-9 is given).
    let risk_improving = shapes.iter().position(|s| {
        s.kind == CaseKind::Individual
            && s.setting == Setting::Therapy
            && s.archetypes[0] == Improving
    });
    let risk_deteriorating = shapes
        .iter()
        .position(|s| s.kind == CaseKind::Individual && s.archetypes[0] == Deteriorating);

    let mut names: Vec<&str> = FIRST_NAMES.to_vec();
    names.shuffle(&mut rng);
    let mut names = names.into_iter().cycle();
    let mut families: Vec<&str> = FAMILY_NAMES.to_vec();
    families.shuffle(&mut rng);

    let mut clients: Vec<ClientPlan> = Vec::new();
    let mut profiles: Vec<Profile> = Vec::new();
    let mut cases: Vec<CasePlan> = Vec::new();

    for (ci, shape) in shapes.iter().enumerate() {
        let family = families[ci % families.len()];
        let mut members = Vec::new();
        for &archetype in &shape.archetypes {
            let index = clients.len();
            let risk = Some(ci) == risk_improving || Some(ci) == risk_deteriorating;
            let first = names.next().unwrap_or("Alex");
            let display_name = match shape.kind {
                CaseKind::Family => Some(format!("{first} {family}")),
                _ if chance(&mut rng, 0.75) => {
                    let initial =
                        SURNAME_INITIALS[rng.gen_range(0..SURNAME_INITIALS.len())] as char;
                    Some(format!("{first} {initial}."))
                }
                _ => None,
            };
            clients.push(ClientPlan {
                code: format!("RC-{:04}", index + 1),
                display_name,
                archetype,
                risk,
            });
            profiles.push(Profile::draw(&mut rng, archetype, risk));
            members.push(index);
        }
        let label = |i: usize| {
            clients[i]
                .display_name
                .clone()
                .unwrap_or_else(|| clients[i].code.clone())
        };
        let title = match shape.kind {
            CaseKind::Individual => label(members[0]),
            CaseKind::Couple => format!("Couple: {} & {}", label(members[0]), label(members[1])),
            CaseKind::Family => format!("{family} family"),
        };
        let clinician = match (shape.kind, shape.setting) {
            (CaseKind::Couple | CaseKind::Family, _) => SYSTEMIC_CLINICIAN,
            (_, Setting::Coaching) => COACH,
            _ => clinicians[rng.gen_range(0..clinicians.len())],
        };
        cases.push(case_plan(
            &mut rng, today, title, shape, clinician, &members, &profiles,
        ));
    }

    Ok(Plan {
        staff,
        supervisor: SUPERVISOR,
        clients,
        cases,
    })
}

/// Draws the sessions and answers of one case.
fn case_plan(
    rng: &mut ChaCha8Rng,
    today: i64,
    title: String,
    shape: &CaseShape,
    clinician: usize,
    members: &[usize],
    profiles: &[Profile],
) -> CasePlan {
    let lead = shape.archetypes[0];
    let dropout = shape.archetypes.contains(&Archetype::EarlyDropout);
    let dip_at = members
        .iter()
        .map(|&m| &profiles[m])
        .find(|p| p.archetype == Archetype::AllianceDip)
        .map(|p| p.dip_at);

    // How many sessions the course runs, and how far it has got.
    let (course, min_done) = match lead {
        Archetype::AllianceDip => (rng.gen_range(14..=16), 13),
        Archetype::Deteriorating | Archetype::TherapistOverRating => (rng.gen_range(10..=16), 6),
        Archetype::EarlyDropout => (rng.gen_range(4..=5), 4),
        _ => (rng.gen_range(8..=16), 3),
    };
    let course = if dip_at.is_some() {
        course.max(14)
    } else {
        course
    };
    let min_done = if dip_at.is_some() { 13 } else { min_done };
    let (status, count, end_gap) = if dropout {
        // Attended the first three or four, missed the last one, and did not come back.
        (CaseStatus::DroppedOut, course, rng.gen_range(21..=120))
    } else if chance(rng, 0.3) {
        (CaseStatus::Closed, course, rng.gen_range(7..=150))
    } else {
        (
            CaseStatus::Active,
            rng.gen_range(min_done.min(course)..=course),
            rng.gen_range(2..=6),
        )
    };

    let last = today - end_gap;
    let first = last - 7 * (count - 1);
    let modality = match rng.gen_range(0..20) {
        0..=11 => Modality::InPerson,
        12..=18 => Modality::Video,
        _ => Modality::Phone,
    };
    let hour = rng.gen_range(9..=17);

    let mut sessions = Vec::new();
    for n in 1..=count {
        // ±1 day around the weekly rhythm; first and last stay put (last is before today).
        let jitter = if n > 1 && n < count {
            rng.gen_range(-1..=1)
        } else {
            0
        };
        let day = first + 7 * (n - 1) + jitter;
        let protected =
            n == 1 || n == count || dip_at.is_some_and(|d| (d - 1..=d + 1).contains(&n));
        let missed = if dropout {
            n == count && (count > 4 || chance(rng, 0.5))
        } else {
            !protected && chance(rng, 0.06)
        };
        let this_modality = if chance(rng, 0.1) {
            Modality::Video
        } else {
            modality
        };
        let status = if missed {
            SessionStatus::Missed
        } else {
            SessionStatus::Attended
        };
        let mut responses = Vec::new();
        if !missed {
            let start = day * DAY_MS + hour * 60 * MINUTE_MS;
            for instrument in measures_at(n, shape.setting) {
                for (k, &m) in members.iter().enumerate() {
                    let p = &profiles[m];
                    let dip = p.dip(n);
                    let gt = if dip > 0.0 { 0.4 * dip } else { 0.0 };
                    let session_noise = normal(rng) * 0.12;
                    let (values, at) = match instrument {
                        PHQ9 => (phq9_answers(rng, p, n), start - 12 * MINUTE_MS),
                        GAD7 => (gad7_answers(rng, p, n), start - 9 * MINUTE_MS),
                        SESSION_CHECK => (
                            check_answers(rng, p, p.alliance(n) + session_noise, gt),
                            start + 52 * MINUTE_MS,
                        ),
                        WAI_SR => (
                            wai_answers(rng, p, p.alliance(n) + session_noise, gt),
                            start + 55 * MINUTE_MS,
                        ),
                        _ => (
                            wai_answers(rng, p, p.therapist_alliance(n) + session_noise, gt * 0.5),
                            start + 75 * MINUTE_MS,
                        ),
                    };
                    responses.push(ResponsePlan {
                        instrument,
                        client: m,
                        values,
                        submitted_at: at + k as i64 * MINUTE_MS,
                    });
                }
            }
        }
        sessions.push(SessionPlan {
            number: n,
            held_on: format_date(day),
            modality: this_modality,
            status,
            responses,
        });
    }

    let closed_on = match status {
        CaseStatus::Active => None,
        CaseStatus::Closed => Some(format_date(last)),
        CaseStatus::DroppedOut => Some(format_date((last + 21).min(today - 1))),
    };
    // Forms already open for the next session of about a third of the active cases.
    let mut pending = Vec::new();
    if status == CaseStatus::Active && chance(rng, 0.35) {
        let next = count + 1;
        for &m in members {
            pending.push(PendingPlan {
                instrument: SESSION_CHECK,
                client: m,
            });
            if symptom_session(next, shape.setting) {
                pending.push(PendingPlan {
                    instrument: PHQ9,
                    client: m,
                });
            }
        }
    }
    CasePlan {
        title,
        setting: shape.setting,
        clinician,
        clients: members.to_vec(),
        status,
        opened_on: format_date(first),
        closed_on,
        sessions,
        pending,
    }
}

// ---------------------------------------------------------------------------------------------
// Storing.

/// Checks a planned answer set with the core and scores it.
fn answers_for(
    instrument: &bordin_core::Instrument,
    values: &[Option<i64>],
) -> anyhow::Result<(Answers, bordin_core::ScoreSheet)> {
    let values = values.iter().map(|v| v.map(Value::from_integer)).collect();
    let answers = Answers::from_values(instrument, values).map_err(|errors| {
        anyhow::anyhow!(
            "demo answers for {} are invalid: {}",
            instrument.id,
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        )
    })?;
    let sheet = instrument.score(&answers);
    Ok((answers, sheet))
}

/// Seeds the demo clinic into `store`: staff with demo passwords, clients, cases, sessions,
/// scored responses, placeholder text packs for the WAI forms, and a few open forms.
///
/// `today` (`YYYY-MM-DD`) bounds the session dates (all before it); `now_ms` stamps the rows
/// created now (clinic, people, open forms).
pub async fn seed(
    store: &Store,
    registry: &Registry,
    seed: u64,
    today: &str,
    now_ms: i64,
) -> anyhow::Result<DemoSummary> {
    let plan = plan(seed, today)?;
    for id in [SESSION_CHECK, WAI_SR, WAI_SRT, PHQ9, GAD7] {
        if registry.get(id).is_none() {
            bail!("the demo needs the built-in instrument '{id}', which is not in the registry");
        }
    }

    // Password hashing is deliberately slow (argon2id); do the six at once off the runtime.
    let hashing: Vec<_> = plan
        .staff
        .iter()
        .map(|s| {
            let pw = s.password.clone();
            tokio::task::spawn_blocking(move || bordin_server::auth::hash_password(&pw))
        })
        .collect();
    let mut hashes = Vec::new();
    for h in hashing {
        hashes.push(h.await.context("password hashing task")??);
    }

    let clinic = store
        .create_clinic(CLINIC_NAME, Setting::Therapy, now_ms)
        .await?;
    let cid = clinic.clinic_id.as_str();
    let mut user_ids = Vec::new();
    for (s, hash) in plan.staff.iter().zip(&hashes) {
        user_ids.push(
            store
                .create_user(cid, &s.email, &s.name, s.role, hash, now_ms)
                .await?
                .user_id,
        );
    }
    for (i, s) in plan.staff.iter().enumerate() {
        if s.role == Role::Clinician {
            store
                .add_supervision(cid, &user_ids[plan.supervisor], &user_ids[i])
                .await?;
        }
    }
    for (name, text) in PLACEHOLDER_PACKS {
        let pack = bordin_core::TextPack::from_toml(name, text)
            .map_err(|e| anyhow::anyhow!("placeholder pack {name}: {e:?}"))?;
        store
            .put_text_pack(cid, &pack.instrument, text, &user_ids[0], now_ms)
            .await?;
    }

    let mut client_ids = Vec::new();
    for c in &plan.clients {
        client_ids.push(
            store
                .create_client(cid, &c.code, c.display_name.as_deref(), now_ms)
                .await?
                .client_id,
        );
    }

    let mut sessions = 0;
    let mut responses = 0;
    for case in &plan.cases {
        let members: Vec<String> = case
            .clients
            .iter()
            .map(|&i| client_ids[i].clone())
            .collect();
        let clinician = &user_ids[case.clinician];
        let case_id = store
            .create_case(
                cid,
                &NewCase {
                    title: &case.title,
                    setting: case.setting,
                    opened_on: &case.opened_on,
                    client_ids: &members,
                    lead_clinician: clinician,
                },
                now_ms,
            )
            .await?;
        // Every demo client agreed at intake to every use, so each part of Bordin can be
        // tried; the consent guard (`bordin_server::consent`) refuses anything without it.
        for client in &members {
            for kind in [
                ConsentKind::Questionnaires,
                ConsentKind::TranscriptAnalysis,
                ConsentKind::LiveCopilot,
                ConsentKind::ResearchExport,
            ] {
                store
                    .record_consent(
                        cid,
                        &case_id,
                        client,
                        kind,
                        true,
                        &bordin_store::Change {
                            actor: bordin_store::Actor {
                                role: bordin_core::goals::Rater::Clinician,
                                id: clinician,
                            },
                            at: now_ms,
                            reason: Some("demo: recorded at intake"),
                        },
                    )
                    .await?;
            }
        }
        for s in &case.sessions {
            let row = store
                .add_session(cid, &case_id, &s.held_on, s.modality, s.status, now_ms)
                .await?;
            if row.number != s.number {
                bail!(
                    "session numbering went astray in case '{}': planned {}, stored {}",
                    case.title,
                    s.number,
                    row.number
                );
            }
            sessions += 1;
            for r in &s.responses {
                let instrument = registry
                    .get(r.instrument)
                    .with_context(|| format!("instrument '{}'", r.instrument))?;
                let (answers, sheet) = answers_for(instrument, &r.values)?;
                let entered_by = if instrument.respondent == bordin_core::Respondent::Therapist {
                    clinician.as_str()
                } else {
                    "demo"
                };
                let submitted = store
                    .submit_response(
                        cid,
                        &NewResponse {
                            administration_id: None,
                            case_id: &case_id,
                            session_id: Some(&row.session_id),
                            client_id: Some(&client_ids[r.client]),
                            instrument,
                            respondent: instrument.respondent,
                            answers: &answers,
                            sheet: &sheet,
                            submitted_at: r.submitted_at,
                            entered_by,
                            source: ResponseSource::Demo,
                        },
                    )
                    .await?;
                if matches!(submitted, Submitted::Stored { .. }) {
                    responses += 1;
                }
            }
        }
        if case.status != CaseStatus::Active {
            store
                .set_case_status(cid, &case_id, case.status, case.closed_on.as_deref())
                .await?;
        }
        for p in &case.pending {
            let instrument = registry
                .get(p.instrument)
                .with_context(|| format!("instrument '{}'", p.instrument))?;
            store
                .create_administration(
                    cid,
                    &NewAdministration {
                        case_id: &case_id,
                        session_id: None,
                        client_id: Some(&client_ids[p.client]),
                        instrument,
                        respondent: instrument.respondent,
                        token_hash: None,
                        expires_at: Some(now_ms + 14 * DAY_MS),
                        created_by: clinician,
                    },
                    now_ms,
                )
                .await?;
        }
    }

    let logins = plan
        .staff
        .iter()
        .map(|s| DemoLogin {
            email: s.email.clone(),
            password: s.password.clone(),
            role: s.role,
            name: s.name.clone(),
        })
        .collect();
    Ok(DemoSummary {
        clinic_id: clinic.clinic_id,
        logins,
        clients: client_ids.len(),
        sessions,
        responses,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    const TODAY: &str = "2026-03-02";

    fn registry() -> Registry {
        Registry::builtin().unwrap()
    }

    #[test]
    fn dates_round_trip() {
        for s in [
            "1970-01-01",
            "2000-02-29",
            "2026-03-02",
            "2026-12-31",
            "2100-03-01",
        ] {
            assert_eq!(format_date(parse_date(s).unwrap()), s);
        }
        assert_eq!(parse_date("1970-01-02"), Some(1));
        assert_eq!(
            parse_date("2026-03-01").unwrap() - parse_date("2026-02-28").unwrap(),
            1
        );
        for bad in [
            "2026-02-29",
            "2026-13-01",
            "2026-00-10",
            "26-03-02",
            "2026/03/02",
            "2026-3-2",
            "",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn schedule_matches_the_protocol() {
        let wai: Vec<i64> = (1..=16).filter(|&n| alliance_session(n)).collect();
        assert_eq!(wai, [1, 3, 5, 9, 13]);
        let sym: Vec<i64> = (1..=8)
            .filter(|&n| symptom_session(n, Setting::Therapy))
            .collect();
        assert_eq!(sym, [1, 3, 5, 7]);
        assert!(!symptom_session(1, Setting::Coaching));
        assert_eq!(
            measures_at(1, Setting::Therapy),
            [PHQ9, GAD7, SESSION_CHECK, WAI_SR, WAI_SRT]
        );
        assert_eq!(measures_at(2, Setting::Therapy), [SESSION_CHECK]);
    }

    #[test]
    fn same_seed_gives_the_same_plan() {
        assert_eq!(plan(7, TODAY).unwrap(), plan(7, TODAY).unwrap());
    }

    #[test]
    fn different_seeds_differ() {
        let a = plan(1, TODAY).unwrap();
        let b = plan(2, TODAY).unwrap();
        assert_ne!(a, b);
        let answers = |p: &Plan| p.responses().map(|r| r.values.clone()).collect::<Vec<_>>();
        assert_ne!(answers(&a), answers(&b));
    }

    #[test]
    fn bad_today_is_an_error() {
        assert!(plan(1, "yesterday").is_err());
    }

    #[test]
    fn roster_is_a_realistic_practice() {
        for seed in 0..20 {
            let p = plan(seed, TODAY).unwrap();
            assert_eq!(p.clients.len(), 40);
            let codes: HashSet<&str> = p.clients.iter().map(|c| c.code.as_str()).collect();
            assert_eq!(codes.len(), 40, "codes are unique");
            let emails: HashSet<&str> = p.staff.iter().map(|s| s.email.as_str()).collect();
            assert_eq!(emails.len(), p.staff.len());
            assert!(p.staff.iter().all(|s| s.password.starts_with("demo-")));
            let clinicians = p.staff.iter().filter(|s| s.role == Role::Clinician).count();
            assert!((3..=4).contains(&clinicians));
            assert_eq!(p.staff[p.supervisor].role, Role::Supervisor);
            assert_eq!(p.staff.iter().filter(|s| s.role == Role::Admin).count(), 1);

            let sizes: Vec<usize> = p.cases.iter().map(|c| c.clients.len()).collect();
            assert_eq!(sizes.iter().filter(|&&n| n == 2).count(), 2, "two couples");
            assert_eq!(sizes.iter().filter(|&&n| n == 3).count(), 1, "one family");
            let in_cases: usize = sizes.iter().sum();
            assert_eq!(in_cases, 40, "every client is in exactly one case");
            assert!(
                p.cases
                    .iter()
                    .filter(|c| c.setting == Setting::Coaching)
                    .count()
                    >= 2
            );
            for c in &p.cases {
                assert!(p.staff[c.clinician].role == Role::Clinician);
            }
        }
    }

    #[test]
    fn every_archetype_is_present() {
        for seed in 0..20 {
            let p = plan(seed, TODAY).unwrap();
            let present: HashSet<Archetype> = p.clients.iter().map(|c| c.archetype).collect();
            for a in Archetype::ALL {
                assert!(present.contains(&a), "seed {seed}: no {a:?}");
            }
            let risk = p.clients.iter().filter(|c| c.risk).count();
            assert!(
                (1..=2).contains(&risk),
                "seed {seed}: {risk} clients at risk"
            );
        }
    }

    #[test]
    fn sessions_are_weekly_numbered_and_before_today() {
        let today = parse_date(TODAY).unwrap();
        for seed in 0..20 {
            let p = plan(seed, TODAY).unwrap();
            for c in &p.cases {
                assert!(
                    !c.sessions.is_empty() && c.sessions.len() <= 16,
                    "{} sessions",
                    c.sessions.len()
                );
                assert_eq!(c.sessions[0].status, SessionStatus::Attended);
                assert_eq!(c.opened_on, c.sessions[0].held_on);
                let mut prev = i64::MIN;
                for (i, s) in c.sessions.iter().enumerate() {
                    assert_eq!(s.number, i as i64 + 1);
                    let d = parse_date(&s.held_on).unwrap();
                    assert!(d < today, "{} is not before today", s.held_on);
                    assert!(d > prev, "dates increase");
                    prev = d;
                    if s.status == SessionStatus::Missed {
                        assert!(s.responses.is_empty());
                    }
                }
                if let Some(closed) = &c.closed_on {
                    assert!(parse_date(closed).unwrap() < today);
                    assert!(closed.as_str() >= c.sessions.last().unwrap().held_on.as_str());
                }
                assert_eq!(c.closed_on.is_some(), c.status != CaseStatus::Active);
            }
            assert!(p.cases.iter().any(|c| c.status == CaseStatus::DroppedOut));
            assert!(p.cases.iter().any(|c| c.status == CaseStatus::Active));
            assert!(p.sessions().any(|s| s.status == SessionStatus::Missed));
        }
    }

    #[test]
    fn all_generated_answers_are_valid_and_complete() {
        let reg = registry();
        for seed in 0..10 {
            let p = plan(seed, TODAY).unwrap();
            for r in p.responses() {
                let instrument = reg.get(r.instrument).unwrap();
                let (answers, sheet) = answers_for(instrument, &r.values).unwrap();
                assert!(
                    answers.missing_required(instrument).is_empty(),
                    "{}: {:?}",
                    r.instrument,
                    r.values
                );
                assert!(
                    sheet.scales.iter().all(|s| s.value.is_some()),
                    "every scale scored"
                );
            }
        }
    }

    /// Mean of a scale over the responses picked by `f`.
    fn mean_score(
        p: &Plan,
        reg: &Registry,
        instrument: &str,
        scale: &str,
        f: impl Fn(&CasePlan, &SessionPlan, &ResponsePlan) -> bool,
    ) -> f64 {
        let i = reg.get(instrument).unwrap();
        let mut xs = Vec::new();
        for c in &p.cases {
            for s in &c.sessions {
                for r in s
                    .responses
                    .iter()
                    .filter(|r| r.instrument == instrument && f(c, s, r))
                {
                    let (_, sheet) = answers_for(i, &r.values).unwrap();
                    xs.push(bordin_core::to_f64(sheet.value(i, scale).unwrap()));
                }
            }
        }
        assert!(!xs.is_empty(), "no {instrument} responses matched");
        xs.iter().sum::<f64>() / xs.len() as f64
    }

    #[test]
    fn trajectories_have_their_shape() {
        let reg = registry();
        let p = plan(11, TODAY).unwrap();
        let arch = |r: &ResponsePlan| p.clients[r.client].archetype;

        // Improving clients: PHQ-9 from about 16 at intake to single figures late on.
        let intake = mean_score(&p, &reg, PHQ9, "total", |_, s, r| {
            arch(r) == Archetype::Improving && s.number == 1
        });
        let late = mean_score(&p, &reg, PHQ9, "total", |_, s, r| {
            arch(r) == Archetype::Improving && s.number >= 11
        });
        assert!(
            (13.0..=19.0).contains(&intake),
            "improving intake PHQ-9 {intake}"
        );
        assert!(late < 9.5, "improving late PHQ-9 {late}");
        // Deteriorating clients get worse.
        let d1 = mean_score(&p, &reg, PHQ9, "total", |_, s, r| {
            arch(r) == Archetype::Deteriorating && s.number == 1
        });
        let d2 = mean_score(&p, &reg, PHQ9, "total", |_, s, r| {
            arch(r) == Archetype::Deteriorating && s.number >= 7
        });
        assert!(d2 > d1 + 3.0, "deteriorating {d1} → {d2}");

        // Alliance crowds the ceiling: most WAI-SR answers of ordinary courses are 4 or 5.
        let ordinary: Vec<i64> = p
            .responses()
            .filter(|r| {
                r.instrument == WAI_SR
                    && matches!(arch(r), Archetype::Improving | Archetype::Stalling)
            })
            .flat_map(|r| r.values.iter().flatten().copied())
            .collect();
        let top = ordinary.iter().filter(|&&v| v >= 4).count() as f64 / ordinary.len() as f64;
        assert!(top > 0.7, "share of 4–5 answers {top}");

        // Early drop-outs start low.
        let drop_sc = mean_score(&p, &reg, SESSION_CHECK, "total", |_, _, r| {
            arch(r) == Archetype::EarlyDropout
        });
        let good_sc = mean_score(&p, &reg, SESSION_CHECK, "total", |_, _, r| {
            arch(r) == Archetype::Improving
        });
        assert!(
            drop_sc + 8.0 < good_sc,
            "drop-out {drop_sc} vs improving {good_sc}"
        );

        // Over-rating therapists: WAI-SRT well above the client's WAI-SR.
        let client = mean_score(&p, &reg, WAI_SR, "total", |_, _, r| {
            arch(r) == Archetype::TherapistOverRating
        });
        let therapist = mean_score(&p, &reg, WAI_SRT, "total", |_, _, r| {
            arch(r) == Archetype::TherapistOverRating
        });
        assert!(
            therapist >= client + 8.0,
            "therapist {therapist} vs client {client}"
        );
        // Elsewhere therapists rate a little below their clients, as in the literature.
        let c2 = mean_score(&p, &reg, WAI_SR, "total", |_, _, r| {
            arch(r) == Archetype::Improving
        });
        let t2 = mean_score(&p, &reg, WAI_SRT, "total", |_, _, r| {
            arch(r) == Archetype::Improving
        });
        assert!(t2 < c2, "therapist {t2} vs client {c2}");
    }

    #[test]
    fn alliance_dip_is_a_v() {
        let reg = registry();
        let sc = reg.get(SESSION_CHECK).unwrap();
        for seed in 0..10 {
            let p = plan(seed, TODAY).unwrap();
            for (ci, client) in p
                .clients
                .iter()
                .enumerate()
                .filter(|(_, c)| c.archetype == Archetype::AllianceDip)
            {
                let case = p.cases.iter().find(|c| c.clients.contains(&ci)).unwrap();
                let series: Vec<(i64, f64)> = case
                    .sessions
                    .iter()
                    .flat_map(|s| s.responses.iter().map(move |r| (s.number, r)))
                    .filter(|(_, r)| r.instrument == SESSION_CHECK && r.client == ci)
                    .map(|(n, r)| {
                        (
                            n,
                            bordin_core::to_f64(
                                answers_for(sc, &r.values)
                                    .unwrap()
                                    .1
                                    .value(sc, "total")
                                    .unwrap(),
                            ),
                        )
                    })
                    .collect();
                let (low_n, low) =
                    series
                        .iter()
                        .copied()
                        .fold((0, f64::MAX), |a, b| if b.1 < a.1 { b } else { a });
                let before: Vec<f64> = series
                    .iter()
                    .filter(|(n, _)| *n < low_n - 1)
                    .map(|x| x.1)
                    .collect();
                let after: Vec<f64> = series
                    .iter()
                    .filter(|(n, _)| *n > low_n + 1)
                    .map(|x| x.1)
                    .collect();
                let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
                assert!(
                    (7..=11).contains(&low_n),
                    "seed {seed} {}: lowest at session {low_n}",
                    client.code
                );
                assert!(
                    mean(&before) - low >= 5.0,
                    "seed {seed}: drop {} → {low}",
                    mean(&before)
                );
                assert!(
                    mean(&after) - low >= 5.0,
                    "seed {seed}: no recovery {low} → {}",
                    mean(&after)
                );
            }
        }
    }

    #[test]
    fn risk_answers_appear_and_only_for_risk_clients() {
        let p = plan(3, TODAY).unwrap();
        let mut flagged = HashSet::new();
        for r in p.responses().filter(|r| r.instrument == PHQ9) {
            if r.values[8].unwrap() > 0 {
                assert!(p.clients[r.client].risk);
                flagged.insert(r.client);
            }
        }
        assert!(!flagged.is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn seeds_a_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&format!(
            "sqlite://{}",
            dir.path().join("demo.db").display()
        ))
        .await
        .unwrap();
        let reg = registry();
        let now = parse_date(TODAY).unwrap() * DAY_MS + 8 * 3_600_000;
        let started = std::time::Instant::now();
        let summary = seed(&store, &reg, 42, TODAY, now).await.unwrap();
        let took = started.elapsed();
        eprintln!(
            "seeded {} clients, {} sessions, {} responses in {took:?}",
            summary.clients, summary.sessions, summary.responses
        );

        assert!((36..=44).contains(&summary.clients), "{}", summary.clients);
        assert!(summary.responses > 500, "{}", summary.responses);
        assert_eq!(summary.logins.len(), 6);
        assert!(summary.logins.iter().any(|l| l.role == Role::Supervisor));

        let cid = &summary.clinic_id;
        assert_eq!(store.clinic(cid).await.unwrap().name, CLINIC_NAME);
        let users = store.users(cid).await.unwrap();
        assert_eq!(users.len(), 6);
        let login = &summary
            .logins
            .iter()
            .find(|l| l.role == Role::Clinician)
            .unwrap();
        let user = users.iter().find(|u| u.email == login.email).unwrap();
        assert!(bordin_server::auth::verify_password(
            &login.password,
            &user.password_hash
        ));
        let sup = users.iter().find(|u| u.role == Role::Supervisor).unwrap();
        assert_eq!(store.supervisees(cid, &sup.user_id).await.unwrap().len(), 4);
        assert_eq!(store.text_packs(cid).await.unwrap().len(), 2);

        let case_ids = store.all_case_ids(cid).await.unwrap();
        let summaries = store.case_summaries(cid, &case_ids).await.unwrap();
        let clients: usize = summaries.iter().map(|s| s.case.clients.len()).sum();
        assert_eq!(clients, summary.clients);
        let mut sessions = 0;
        let mut risk_flags = 0;
        let mut pending = 0;
        for s in &summaries {
            let rows = store.sessions(cid, &s.case.case_id).await.unwrap();
            assert!(
                !rows.is_empty() && rows.len() <= 16,
                "{} sessions",
                rows.len()
            );
            assert!(rows.iter().all(|r| r.held_on.as_str() < TODAY));
            sessions += rows.len();
            risk_flags += store
                .case_flags(cid, &s.case.case_id)
                .await
                .unwrap()
                .iter()
                .filter(|(_, f)| f.flag_id == "risk:q9")
                .count();
            pending += store
                .administrations_of_case(cid, &s.case.case_id)
                .await
                .unwrap()
                .len();
            if s.case.status == CaseStatus::DroppedOut {
                assert!(s.sessions <= 5);
            }
        }
        assert_eq!(sessions, summary.sessions);
        assert!(risk_flags >= 1, "at least one risk:q9 flag");
        assert!(summaries
            .iter()
            .any(|s| s.case.status == CaseStatus::DroppedOut));
        assert!(summaries
            .iter()
            .any(|s| s.case.setting == Setting::Coaching));
        assert!(pending >= 1, "some forms are left open");
        assert!(took.as_secs() < 30, "seeding took {took:?}");
    }
}
