//! A self-contained image captcha for the account creation form ("Saisir le
//! code ci-dessus"): six characters drawn in an SVG image that the provider
//! serves itself, with no third-party service and no tracking.
//!
//! Design choices:
//!
//! - **Strokes, not text.** The SVG holds no `<text>` element and no font:
//!   each character is drawn from a small vector font defined below (polylines
//!   on a 7 × 14 grid), so reading the answer takes recognising shapes, not
//!   parsing the document. Each glyph gets its own random rotation (±20°),
//!   scale, offset, colour and slight jitter of every point; noise curves and
//!   lines cross the image and dots are scattered over it. No run of six
//!   alphabet characters exists anywhere in the markup (numbers have at most
//!   three digits, colours contain characters outside the alphabet), so the
//!   answer never appears in clear.
//! - **An alphabet without look-alikes.** Digits and lowercase letters, minus
//!   every character easily confused with another (0/o, 1/l/i, 2/z, 5/s, 8/b,
//!   9/g/q: only 9 is kept, u/v: only v is kept…) and minus the vowels, so
//!   that no word, offensive or otherwise, is ever spelled. What is left is
//!   20 symbols; six of them give 20⁶ ≈ 2²⁶ answers.
//! - **Deterministic.** The caller supplies 32 random bytes (from the
//!   system's generator); everything else derives from them through a small
//!   xoshiro256** generator written here, so a challenge can be redrawn from
//!   its seed and tests are reproducible. Characters are chosen uniformly by
//!   rejection sampling (see [`Rng::below`]).
//! - **Legibility.** Glyph strokes are dark (contrast at least 4.5:1 against
//!   the light background, checked by a test); the noise is thinner and
//!   partly lighter.
//!
//! Its limits, honestly: this slows down scripts and casual automated
//! account creation; it is no barrier to a determined attacker with an OCR
//! or a trained model, and should go with rate limiting. No audio
//! alternative is provided, so people who cannot see the image need another
//! way (assisted creation by the support desk, or a different provider):
//! this is a known accessibility gap (RGAA criterion on captchas).

/// A captcha: what to type, and the image that shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// The expected answer, lowercase, [`LENGTH`] characters of the alphabet.
    pub answer: String,
    /// A standalone SVG document (`image/svg+xml`) drawing the answer.
    pub svg: String,
}

/// Number of characters shown.
pub const LENGTH: usize = 6;

/// The characters a challenge is made of: no look-alikes, no vowels.
const ALPHABET: &str = "34679cdfhjkmnprtvwxy";

/// Image size, in SVG user units (pixels when shown at natural size).
const WIDTH: f64 = 240.0;
const HEIGHT: f64 = 80.0;
/// Size of one glyph grid unit, before the random scale.
const UNIT: f64 = 4.4;
/// Space kept on the left and right, so that no glyph leaves the image.
const MARGIN: f64 = 12.0;
/// Point of the glyph grid placed at the centre of its slot.
const ORIGIN: (f64, f64) = (3.0, 6.5);

/// Background colour.
const BACKGROUND: &str = "#f7f5f0";
/// Colours of the characters: dark, at least 4.5:1 against the background.
const INK: [&str; 5] = ["#1b2a4a", "#502020", "#1e4025", "#2b1d52", "#5a2a0b"];
/// Colours of part of the noise: lighter.
const HAZE: [&str; 3] = ["#8b95a5", "#a58b70", "#7b9a85"];

/// A glyph: strokes, each a polyline of points on the grid (x from 0 to 6;
/// y from 0 at the top of digits and ascenders, 4 at the x-height, 10 at
/// the baseline, 13 at the bottom of descenders).
type Glyph = &'static [&'static [(i8, i8)]];

/// Draws a challenge from 32 random bytes the caller supplies (deterministic:
/// same bytes, same challenge).
pub fn challenge(random: &[u8; 32]) -> Challenge {
    let mut rng = Rng::from_seed(random);
    let answer: String = (0..LENGTH).map(|_| pick(&mut rng)).collect();
    let svg = render(&mut rng, &answer);
    Challenge { answer, svg }
}

/// Whether what the citizen typed is the answer: case-insensitive, spaces
/// ignored, and characters easily confused are not in the alphabet at all.
///
/// The comparison of contents takes the same time whatever they are (only
/// the lengths are compared first); an empty answer never matches.
pub fn matches(answer: &str, typed: &str) -> bool {
    let answer = normalise(answer);
    let typed = normalise(typed);
    if answer.is_empty() || answer.len() != typed.len() {
        return false;
    }
    let difference = answer
        .bytes()
        .zip(typed.bytes())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    difference == 0
}

/// Lowercase, without any whitespace.
fn normalise(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// One character of the alphabet, uniformly.
fn pick(rng: &mut Rng) -> char {
    let symbols = ALPHABET.as_bytes();
    symbols
        .get(rng.below(symbols.len()))
        .map_or('x', |&byte| char::from(byte))
}

/// xoshiro256** (Blackman and Vigna): small, fast, good statistical quality.
/// Not cryptographic, and it need not be: the unpredictability comes from
/// the caller's 32 bytes, which are the whole state.
#[derive(Debug)]
struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// The state is the seed, read as four little-endian words, each mixed by
    /// splitmix64 so that a seed of zeros still gives a non-zero state.
    fn from_seed(random: &[u8; 32]) -> Self {
        let mut s = [0u64; 4];
        for (word, chunk) in s.iter_mut().zip(random.chunks_exact(8)) {
            let raw = chunk
                .iter()
                .rev()
                .fold(0u64, |acc, &byte| (acc << 8) | u64::from(byte));
            *word = splitmix64(raw);
        }
        if s == [0; 4] {
            s = [0x9e37_79b9_7f4a_7c15, 1, 2, 3];
        }
        Self { s }
    }

    fn next_u64(&mut self) -> u64 {
        let [s0, s1, s2, s3] = self.s;
        let result = s1.wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s1 << 17;
        let s2 = s2 ^ s0;
        let s3 = s3 ^ s1;
        let s1 = s1 ^ s2;
        let s0 = s0 ^ s3;
        self.s = [s0, s1, s2 ^ t, s3.rotate_left(45)];
        result
    }

    /// A number in `0..n`, uniformly, by rejection sampling: outputs below
    /// 2⁶⁴ mod n are drawn again, so that the accepted range is a whole
    /// multiple of `n` and the remainder has no bias (as OpenBSD's
    /// `arc4random_uniform`). For small `n` a retry almost never happens.
    fn below(&mut self, n: usize) -> usize {
        let n = n as u64;
        let threshold = n.wrapping_neg().checked_rem(n).unwrap_or(0);
        loop {
            let x = self.next_u64();
            if x >= threshold {
                let index = x.checked_rem(n).unwrap_or(0);
                return usize::try_from(index).unwrap_or(0);
            }
        }
    }

    /// A number in `[0, 1)`, from the top 53 bits.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A number in `[low, high)`.
    fn between(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.unit()
    }

    /// One item of a non-empty list, uniformly.
    fn choose<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items
            .get(self.below(items.len()))
            .copied()
            .unwrap_or("#000")
    }
}

fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The whole image: background, dots, characters, then noise over them.
fn render(rng: &mut Rng, answer: &str) -> String {
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" \
         width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"Code à recopier\">\
         <rect width=\"{w}\" height=\"{h}\" fill=\"{BACKGROUND}\"/>",
        w = num(WIDTH),
        h = num(HEIGHT),
    );
    for _ in 0..24 {
        svg.push_str(&dot(rng));
    }
    svg.push_str("<g fill=\"none\" stroke-linecap=\"round\" stroke-linejoin=\"round\">");
    let slot = (WIDTH - 2.0 * MARGIN) / LENGTH as f64;
    for (index, symbol) in answer.chars().enumerate() {
        let centre = (MARGIN + slot * (index as f64 + 0.5), HEIGHT / 2.0);
        svg.push_str(&character(rng, glyph(symbol), centre));
    }
    for _ in 0..4 {
        svg.push_str(&noise_curve(rng));
    }
    for _ in 0..2 {
        svg.push_str(&noise_line(rng));
    }
    svg.push_str("</g></svg>");
    svg
}

/// Where and how one glyph is drawn.
#[derive(Debug)]
struct Placement {
    centre: (f64, f64),
    /// Radians.
    angle: f64,
    /// Pixels per grid unit.
    scale: f64,
}

impl Placement {
    fn draw(rng: &mut Rng, slot_centre: (f64, f64)) -> Self {
        let (x, y) = slot_centre;
        Self {
            centre: (x + rng.between(-3.0, 3.0), y + rng.between(-5.0, 5.0)),
            angle: rng.between(-20.0, 20.0).to_radians(),
            scale: UNIT * rng.between(0.85, 1.1),
        }
    }

    /// Where a grid point lands, before jitter.
    fn map(&self, (gx, gy): (f64, f64)) -> (f64, f64) {
        let dx = (gx - ORIGIN.0) * self.scale;
        let dy = (gy - ORIGIN.1) * self.scale;
        let (sin, cos) = self.angle.sin_cos();
        (
            self.centre.0 + dx * cos - dy * sin,
            self.centre.1 + dx * sin + dy * cos,
        )
    }
}

/// One character: a single path, one sub-path per stroke.
fn character(rng: &mut Rng, glyph: Glyph, slot_centre: (f64, f64)) -> String {
    let placement = Placement::draw(rng, slot_centre);
    let colour = rng.choose(&INK);
    let width = rng.between(2.4, 3.2);
    let mut d = String::new();
    for stroke in glyph {
        for (index, &(gx, gy)) in stroke.iter().enumerate() {
            let jittered = (
                f64::from(gx) + rng.between(-0.3, 0.3),
                f64::from(gy) + rng.between(-0.3, 0.3),
            );
            let (x, y) = placement.map(jittered);
            let command = if index == 0 { 'M' } else { 'L' };
            d.push_str(&format!("{command}{} {}", num(x), num(y)));
        }
    }
    format!(
        "<path stroke=\"{colour}\" stroke-width=\"{}\" d=\"{d}\"/>",
        num(width)
    )
}

/// A thin curve from the left edge to the right one.
fn noise_curve(rng: &mut Rng) -> String {
    let colour = if rng.unit() < 0.5 {
        rng.choose(&INK)
    } else {
        rng.choose(&HAZE)
    };
    let mut y = || num(rng.between(8.0, HEIGHT - 8.0));
    let points = [
        format!("M-4 {}", y()),
        format!("C{} {}", num(WIDTH / 3.0), y()),
        format!(" {} {}", num(WIDTH * 2.0 / 3.0), y()),
        format!(" {} {}", num(WIDTH + 4.0), y()),
    ];
    let width = num(rng.between(1.0, 1.8));
    format!(
        "<path stroke=\"{colour}\" stroke-width=\"{width}\" d=\"{}\"/>",
        points.concat()
    )
}

/// A light straight line across the image.
fn noise_line(rng: &mut Rng) -> String {
    let colour = rng.choose(&HAZE);
    let from = num(rng.between(0.0, HEIGHT));
    let to = num(rng.between(0.0, HEIGHT));
    let width = num(rng.between(1.0, 1.6));
    format!(
        "<path stroke=\"{colour}\" stroke-width=\"{width}\" d=\"M0 {from}L{} {to}\"/>",
        num(WIDTH)
    )
}

/// A small dot anywhere.
fn dot(rng: &mut Rng) -> String {
    let colour = if rng.unit() < 0.3 {
        rng.choose(&INK)
    } else {
        rng.choose(&HAZE)
    };
    let x = num(rng.between(0.0, WIDTH));
    let y = num(rng.between(0.0, HEIGHT));
    let r = num(rng.between(0.6, 1.6));
    format!("<circle cx=\"{x}\" cy=\"{y}\" r=\"{r}\" fill=\"{colour}\"/>")
}

/// A number with at most one decimal, without a useless `.0` or `-0`.
fn num(value: f64) -> String {
    let rounded = (value * 10.0).round() / 10.0;
    if rounded == 0.0 {
        return "0".to_owned();
    }
    let text = format!("{rounded:.1}");
    match text.strip_suffix(".0") {
        Some(whole) => whole.to_owned(),
        None => text,
    }
}

/// The strokes of one character of the alphabet (none for any other).
#[rustfmt::skip] // One glyph a line where it fits: a table, easier to read.
fn glyph(symbol: char) -> Glyph {
    match symbol {
        '3' => &[
            &[(0, 1), (1, 0), (5, 0), (6, 1), (6, 4), (5, 5), (2, 5)],
            &[(5, 5), (6, 6), (6, 9), (5, 10), (1, 10), (0, 9)],
        ],
        '4' => &[&[(4, 10), (4, 0), (0, 7), (6, 7)]],
        '6' => &[&[
            (5, 0),
            (3, 0),
            (1, 2),
            (0, 5),
            (0, 8),
            (2, 10),
            (4, 10),
            (6, 8),
            (6, 7),
            (4, 5),
            (2, 5),
            (0, 7),
        ]],
        '7' => &[&[(0, 0), (6, 0), (2, 10)]],
        '9' => &[&[
            (6, 3),
            (4, 5),
            (2, 5),
            (0, 3),
            (0, 2),
            (2, 0),
            (4, 0),
            (6, 2),
            (6, 5),
            (5, 8),
            (3, 10),
            (1, 10),
        ]],
        'c' => &[&[(6, 5), (5, 4), (2, 4), (0, 6), (0, 8), (2, 10), (5, 10), (6, 9)]],
        'd' => &[
            &[(6, 0), (6, 10)],
            &[(6, 6), (4, 4), (2, 4), (0, 6), (0, 8), (2, 10), (4, 10), (6, 8)],
        ],
        'f' => &[&[(6, 1), (5, 0), (4, 0), (3, 1), (3, 10)], &[(1, 4), (5, 4)]],
        'h' => &[&[(0, 0), (0, 10)], &[(0, 6), (2, 4), (4, 4), (6, 6), (6, 10)]],
        'j' => &[&[(4, 1), (4, 2)], &[(4, 4), (4, 12), (3, 13), (1, 13), (0, 12)]],
        'k' => &[&[(0, 0), (0, 10)], &[(6, 4), (0, 8)], &[(2, 7), (6, 10)]],
        'm' => &[
            &[(0, 4), (0, 10)],
            &[(0, 5), (1, 4), (2, 4), (3, 5), (3, 10)],
            &[(3, 5), (4, 4), (5, 4), (6, 5), (6, 10)],
        ],
        'n' => &[&[(0, 4), (0, 10)], &[(0, 6), (2, 4), (4, 4), (6, 6), (6, 10)]],
        'p' => &[
            &[(0, 4), (0, 13)],
            &[(0, 6), (2, 4), (4, 4), (6, 6), (6, 8), (4, 10), (2, 10), (0, 8)],
        ],
        'r' => &[&[(0, 4), (0, 10)], &[(0, 7), (2, 5), (3, 4), (5, 4), (6, 5)]],
        't' => &[&[(2, 1), (2, 9), (3, 10), (5, 10), (6, 9)], &[(0, 4), (5, 4)]],
        'v' => &[&[(0, 4), (3, 10), (6, 4)]],
        'w' => &[&[(0, 4), (1, 10), (3, 5), (5, 10), (6, 4)]],
        'x' => &[&[(0, 4), (6, 10)], &[(6, 4), (0, 10)]],
        'y' => &[&[(0, 4), (3, 10)], &[(6, 4), (2, 12), (1, 13), (0, 13)]],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed(n: u8) -> [u8; 32] {
        let mut bytes = [0u8; 32];
        for (index, byte) in bytes.iter_mut().enumerate() {
            *byte = n.wrapping_mul(31).wrapping_add(index as u8);
        }
        bytes
    }

    #[test]
    fn same_bytes_same_challenge() {
        assert_eq!(challenge(&seed(7)), challenge(&seed(7)));
        assert_eq!(challenge(&[0; 32]), challenge(&[0; 32]));
    }

    #[test]
    fn different_bytes_mostly_different_answers() {
        let answers: std::collections::HashSet<String> =
            (0..50).map(|n| challenge(&seed(n)).answer).collect();
        assert!(answers.len() >= 48, "only {} distinct", answers.len());
        // One bit of difference is enough.
        let mut flipped = seed(3);
        flipped[31] ^= 1;
        assert_ne!(challenge(&seed(3)).svg, challenge(&flipped).svg);
    }

    #[test]
    fn answers_are_six_alphabet_characters_spread_over_the_alphabet() {
        let mut seen = std::collections::HashSet::new();
        for n in 0..=255 {
            let answer = challenge(&seed(n)).answer;
            assert_eq!(answer.chars().count(), LENGTH);
            assert!(answer.chars().all(|c| ALPHABET.contains(c)), "{answer}");
            seen.extend(answer.chars());
        }
        assert_eq!(seen.len(), ALPHABET.len());
    }

    #[test]
    fn the_alphabet_has_no_look_alikes_and_no_vowels() {
        assert_eq!(ALPHABET.len(), 20);
        for banned in "0o1liI2zZ5sS8bBgqu aeiou".chars() {
            assert!(!ALPHABET.contains(banned), "{banned}");
        }
    }

    #[test]
    fn the_svg_is_a_standalone_document_without_text() {
        for n in 0..50 {
            let Challenge { answer, svg } = challenge(&seed(n));
            assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
            assert!(svg.ends_with("</svg>"));
            assert!(svg.contains("viewBox=\"0 0 240 80\""));
            assert!(svg.contains("role=\"img\""));
            assert!(!svg.contains("<text"));
            assert!(!svg.contains("font"));
            assert!(!svg.to_lowercase().contains(&answer));
            assert_eq!(svg.matches("<path").count(), LENGTH + 6);
        }
    }

    #[test]
    fn no_run_of_alphabet_characters_could_spell_an_answer() {
        for n in 0..50 {
            let svg = challenge(&seed(n)).svg.to_lowercase();
            let longest = svg
                .split(|c: char| !ALPHABET.contains(c))
                .map(str::len)
                .max()
                .unwrap();
            assert!(longest < LENGTH, "run of {longest}");
        }
    }

    #[test]
    fn numbers_have_at_most_one_decimal() {
        assert_eq!(num(12.0), "12");
        assert_eq!(num(12.34), "12.3");
        assert_eq!(num(-0.04), "0");
        assert_eq!(num(-3.96), "-4");
        let svg = challenge(&seed(9)).svg;
        for part in svg.split(|c: char| !(c.is_ascii_digit() || c == '.')) {
            if let Some((_, decimals)) = part.split_once('.') {
                assert!(decimals.len() <= 1, "{part}");
            }
        }
    }

    #[test]
    fn every_character_of_the_alphabet_has_a_glyph() {
        for symbol in ALPHABET.chars() {
            let strokes = glyph(symbol);
            assert!(!strokes.is_empty(), "{symbol}");
            for stroke in strokes {
                assert!(stroke.len() >= 2, "{symbol}");
                assert!(
                    stroke
                        .iter()
                        .all(|&(x, y)| (0..=6).contains(&x) && (0..=13).contains(&y))
                );
            }
        }
        assert!(glyph('o').is_empty());
    }

    #[test]
    fn matching_ignores_case_and_spaces_only() {
        assert!(matches("4kxr7m", "4kxr7m"));
        assert!(matches("4kxr7m", " 4K XR 7M "));
        assert!(matches("4kxr7m", "4kx\tr7m\n"));
        assert!(!matches("4kxr7m", "4kxr7n"));
        assert!(!matches("4kxr7m", "4kxr7"));
        assert!(!matches("4kxr7m", "4kxr7mm"));
        assert!(!matches("4kxr7m", ""));
        assert!(!matches("", ""));
        assert!(!matches(" ", " "));
        let drawn = challenge(&seed(1));
        assert!(matches(&drawn.answer, &drawn.answer.to_uppercase()));
    }

    #[test]
    fn ink_is_contrasted_enough_and_haze_is_lighter() {
        let ink = INK.iter().map(|colour| contrast(colour, BACKGROUND));
        assert!(ink.clone().all(|ratio| ratio >= 4.5));
        let darkest_haze = HAZE
            .iter()
            .map(|colour| contrast(colour, BACKGROUND))
            .fold(0.0, f64::max);
        assert!(ink.fold(f64::MAX, f64::min) > darkest_haze);
    }

    /// WCAG 2 contrast ratio of two `#rrggbb` colours.
    fn contrast(a: &str, b: &str) -> f64 {
        let (la, lb) = (luminance(a), luminance(b));
        (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
    }

    fn luminance(colour: &str) -> f64 {
        let channel = |range: std::ops::Range<usize>| {
            let c = f64::from(u8::from_str_radix(&colour[range], 16).unwrap()) / 255.0;
            if c <= 0.03928 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * channel(1..3) + 0.7152 * channel(3..5) + 0.0722 * channel(5..7)
    }

    #[test]
    fn below_is_in_range() {
        let mut rng = Rng::from_seed(&[0; 32]);
        assert!((0..10_000).all(|_| rng.below(20) < 20));
        assert_eq!(rng.below(1), 0);
        assert_eq!(rng.below(0), 0);
    }
}
