//! Language of an article as an ISO 639-1 code: the declared language (item, else feed) when the
//! text agrees with it, else what whatlang detects. A feed that declares no language gets a hint
//! from the function words of all its items (`feed_language`), which names its items that are too
//! short to judge or agree with it. Function-word counts come first because whatlang costs tens of
//! microseconds per call whatever the text's length (it scores every candidate language).
//!
//! Invariants: detection looks only at a prefix of title + text (`SAMPLE_CHARS`), so its cost does
//! not grow with the article; it chooses among an allowlist of common news languages. A declared
//! language is overridden only when the text is in another script (a feed saying "en" carrying
//! Cyrillic) or detection is confident; texts too short to judge keep the declared language.

use std::sync::LazyLock;

use rustc_hash::FxHashMap;

use whatlang::{Detector, Lang, Script};

/// Characters of title + text the detector sees.
const SAMPLE_CHARS: usize = 400;
/// Fewer letters than this: too little to detect; the declared language (if any) stands.
const MIN_LETTERS: usize = 24;
/// Detection confidence needed to override a declared language in the same script.
const OVERRIDE_CONFIDENCE: f64 = 0.9;

const ALLOW: &[(Lang, &str)] = &[
    (Lang::Eng, "en"),
    (Lang::Deu, "de"),
    (Lang::Fra, "fr"),
    (Lang::Rus, "ru"),
    (Lang::Ukr, "uk"),
    (Lang::Spa, "es"),
    (Lang::Ita, "it"),
    (Lang::Por, "pt"),
    (Lang::Nld, "nl"),
    (Lang::Pol, "pl"),
    (Lang::Tur, "tr"),
    (Lang::Swe, "sv"),
    (Lang::Dan, "da"),
    (Lang::Nob, "no"),
    (Lang::Fin, "fi"),
    (Lang::Ces, "cs"),
    (Lang::Ron, "ro"),
    (Lang::Hun, "hu"),
    (Lang::Ell, "el"),
    (Lang::Bul, "bg"),
    (Lang::Srp, "sr"),
    (Lang::Bel, "be"),
    (Lang::Ara, "ar"),
    (Lang::Pes, "fa"),
    (Lang::Heb, "he"),
    (Lang::Hin, "hi"),
    (Lang::Cmn, "zh"),
    (Lang::Jpn, "ja"),
    (Lang::Kor, "ko"),
    (Lang::Vie, "vi"),
    (Lang::Ind, "id"),
    (Lang::Kat, "ka"),
];

static DETECTOR: LazyLock<Detector> =
    LazyLock::new(|| Detector::with_allowlist(ALLOW.iter().map(|(l, _)| *l).collect()));

fn code(l: Lang) -> Option<&'static str> {
    ALLOW.iter().find(|(x, _)| *x == l).map(|(_, c)| *c)
}

/// The primary subtag of a declared language as ISO 639-1 ("en-US" → "en", "ger"/"deu" → "de"), or
/// None when it is not a language code we can use.
pub fn normalize_declared(decl: &str) -> Option<String> {
    let primary = decl.trim().split(['-', '_']).next()?.to_ascii_lowercase();
    let two = match primary.as_str() {
        "eng" => "en",
        "deu" | "ger" => "de",
        "fra" | "fre" => "fr",
        "rus" => "ru",
        "ukr" => "uk",
        "spa" => "es",
        "ita" => "it",
        "por" => "pt",
        "nld" | "dut" => "nl",
        "pol" => "pl",
        "zho" | "chi" => "zh",
        "jpn" => "ja",
        "ara" => "ar",
        s if s.len() == 2 && s.bytes().all(|b| b.is_ascii_lowercase()) => s,
        _ => return None,
    };
    Some(two.to_string())
}

/// The script a language is written in (for the languages where that is unambiguous).
fn script_of(code: &str) -> Option<Script> {
    Some(match code {
        "ru" | "uk" | "bg" | "be" | "mk" | "kk" | "sr" => Script::Cyrillic,
        "ar" | "fa" | "ur" => Script::Arabic,
        "he" | "yi" => Script::Hebrew,
        "el" => Script::Greek,
        "ko" => Script::Hangul,
        "zh" => Script::Mandarin,
        "ja" => return None, // kana or kanji
        "hi" => Script::Devanagari,
        "ka" => Script::Georgian,
        "en" | "de" | "fr" | "es" | "it" | "pt" | "nl" | "pl" | "tr" | "sv" | "da" | "no"
        | "nb" | "fi" | "cs" | "ro" | "hu" | "vi" | "id" | "hr" | "sk" | "sl" | "lt" | "lv"
        | "et" | "ca" => Script::Latin,
        _ => return None,
    })
}

/// A prefix of title + text (`SAMPLE_CHARS`, cut on a char boundary) and its letter count.
fn sample_of(title: &str, text: &str) -> (String, usize) {
    let mut sample = String::with_capacity(SAMPLE_CHARS + 8);
    let mut letters = 0;
    for c in title
        .chars()
        .chain(std::iter::once('\n'))
        .chain(text.chars())
        .take(SAMPLE_CHARS)
    {
        if c.is_alphabetic() {
            letters += 1;
        }
        sample.push(c);
    }
    (sample, letters)
}

/// The language of a feed that declares none, from the function words of all its items
/// (`(title, text)`): a hint for its items, given only when one Latin-script listed language
/// clearly dominates the whole feed. Most feeds are in one language, and the items that are too
/// short to judge alone (headlines, one-line teasers) are judged well by their feed.
pub fn feed_language<'a>(items: impl Iterator<Item = (&'a str, &'a str)>) -> Option<&'static str> {
    let mut total = StopwordGuess {
        words: 0,
        hits: [0; 8],
        best: 0,
    };
    let mut n = 0;
    for (title, text) in items {
        let (sample, _) = sample_of(title, text);
        if let Some(g) = stopword_guess(&sample) {
            total.words += g.words;
            for (t, h) in total.hits.iter_mut().zip(g.hits) {
                *t += h;
            }
        }
        n += 1;
    }
    total.best = (0..8).max_by_key(|i| total.hits[*i])?;
    (n >= FEED_HINT_MIN_ITEMS && total.hits[total.best] >= FEED_HINT_MIN_HITS && total.is_clear())
        .then_some(STOPWORD_LANGS[total.best])
}

/// Items a feed needs before its language is inferred from them.
const FEED_HINT_MIN_ITEMS: usize = 3;
/// Function-word hits a feed needs before its language is inferred.
const FEED_HINT_MIN_HITS: u32 = 20;

/// The article's language: `declared` (item's, else feed's, raw) validated against the text.
/// `hint` is the language inferred for a feed that declares none (`feed_language`): it names
/// items too short to judge and those whose function words agree with it; anything else is
/// detected as if nothing were known.
pub fn language(
    title: &str,
    text: &str,
    declared: Option<&str>,
    hint: Option<&str>,
) -> Option<String> {
    let declared = declared.and_then(normalize_declared);
    let hint = if declared.is_none() { hint } else { None };
    let (sample, letters) = sample_of(title, text);
    if letters < MIN_LETTERS {
        return declared.or_else(|| hint.map(str::to_string));
    }
    match (declared.as_deref(), stopword_guess(&sample)) {
        (Some(d), Some(g)) if g.confirms(d) => return declared,
        (None, Some(g)) if g.is_clear() => return Some(STOPWORD_LANGS[g.best].to_string()),
        (None, Some(g)) if hint.is_some_and(|h| g.confirms(h)) => {
            return hint.map(str::to_string);
        }
        _ => {}
    }
    let Some(info) = DETECTOR.detect(&sample) else {
        return declared;
    };
    let detected = code(info.lang());
    match declared {
        None => detected.map(str::to_string),
        Some(d) => {
            if detected == Some(d.as_str()) {
                return Some(d);
            }
            let other_script = script_of(&d).is_some_and(|s| s != info.script());
            if (other_script || (info.is_reliable() && info.confidence() >= OVERRIDE_CONFIDENCE))
                && detected.is_some()
            {
                detected.map(str::to_string)
            } else {
                Some(d)
            }
        }
    }
}

/// Languages with a stopword list, in bit order of `stopword_langs`.
const STOPWORD_LANGS: [&str; 8] = ["en", "de", "fr", "ru", "es", "pt", "it", "nl"];

/// Very common function words of each language in `STOPWORD_LANGS`: in running news text a
/// third or more of the words are on the list of its language.
const STOPWORDS: [&[&str]; 8] = [
    &[
        "the", "of", "and", "to", "in", "was", "for", "that", "with", "on", "are", "by", "from",
        "at", "has", "have", "he", "it", "its", "this", "be", "were", "which", "said", "their",
        "an", "not", "but", "will", "after", "his", "who", "been", "they", "would", "is",
    ],
    &[
        "der", "die", "das", "und", "ist", "nicht", "mit", "den", "von", "zu", "auf", "für", "in",
        "sich", "dem", "des", "ein", "eine", "einer", "auch", "als", "wird", "werden", "wurde",
        "bei", "nach", "aus", "im", "über", "sind", "hat", "dass", "es", "sie", "er", "noch",
        "wie", "um", "am", "vom", "zum", "zur", "einem", "einen", "eines", "oder", "nur", "seine",
        "ihre", "haben", "hatte", "war", "soll", "gegen", "seit", "unter", "vor", "durch", "bis",
        "sei", "beim", "diese", "dieser", "man", "wir", "mehr", "so",
    ],
    &[
        "le", "la", "les", "des", "du", "de", "et", "est", "une", "un", "dans", "pour", "qui",
        "que", "sur", "au", "aux", "par", "pas", "avec", "ce", "cette", "il", "elle", "sont",
        "ont", "été", "mais", "plus", "son", "ses", "leur", "en", "a", "ne", "se", "sa", "ces",
        "été", "selon", "lors", "entre", "ou", "nous", "ils", "fait", "être", "avait",
    ],
    &[
        "и",
        "в",
        "не",
        "на",
        "что",
        "с",
        "по",
        "о",
        "из",
        "к",
        "за",
        "от",
        "для",
        "как",
        "это",
        "он",
        "она",
        "было",
        "был",
        "были",
        "его",
        "также",
        "но",
        "а",
        "у",
        "при",
        "после",
        "до",
        "который",
        "которые",
        "которая",
        "этом",
        "так",
        "же",
        "или",
        "только",
        "уже",
        "ее",
        "её",
        "их",
        "они",
        "мы",
        "бы",
        "то",
        "все",
        "со",
        "во",
        "об",
        "под",
        "между",
        "более",
        "чем",
        "будет",
        "может",
    ],
    &[
        "el", "la", "los", "las", "de", "del", "y", "en", "que", "un", "una", "por", "con", "para",
        "es", "se", "su", "al", "lo", "como", "más", "pero", "sus", "ha", "fue",
    ],
    &[
        "o", "a", "os", "as", "de", "do", "da", "dos", "das", "e", "em", "no", "na", "que", "um",
        "uma", "por", "com", "para", "não", "se", "é", "ao", "mais", "foi", "pelo", "pela",
    ],
    &[
        "il", "lo", "la", "gli", "le", "di", "del", "della", "e", "è", "un", "una", "che", "per",
        "con", "non", "si", "da", "al", "nel", "sono", "anche", "come", "più", "in",
    ],
    &[
        "de", "het", "een", "en", "van", "is", "dat", "op", "te", "in", "voor", "met", "zijn",
        "niet", "aan", "er", "ook", "als", "bij", "door", "naar", "werd", "wordt", "die",
    ],
];

/// Word → bit set of the languages (in `STOPWORD_LANGS` order) that list it.
static STOPWORD_BITS: LazyLock<FxHashMap<&'static str, u8>> = LazyLock::new(|| {
    let mut m = FxHashMap::default();
    for (i, words) in STOPWORDS.iter().enumerate() {
        for w in *words {
            *m.entry(*w).or_insert(0u8) |= 1 << i;
        }
    }
    m
});

/// Function-word counts of a sample: the fast path that spares the trigram detector (tens of
/// microseconds per call, most of the language cost of an ingest). A declared language stands
/// when its function words clearly outnumber those of every other listed language; an undeclared
/// text in a Latin-script listed language is taken only when one language dominates strongly.
/// Anything less clear goes to whatlang, which offers no cheaper mode (hence this small check).
struct StopwordGuess {
    words: u32,
    hits: [u32; 8],
    best: usize,
}

impl StopwordGuess {
    fn runner_up(&self, lang: usize) -> u32 {
        self.hits
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != lang)
            .map(|(_, h)| *h)
            .max()
            .unwrap_or(0)
    }

    /// The declared language `d` is confirmed by the text.
    fn confirms(&self, d: &str) -> bool {
        let Some(i) = STOPWORD_LANGS.iter().position(|l| *l == d) else {
            return false;
        };
        let own = self.hits[i];
        own >= 2 && own * 8 >= self.words && own >= 2 * self.runner_up(i).max(1)
    }

    /// One Latin-script language dominates so strongly that no detector is needed. Cyrillic is
    /// left to whatlang (Russian function words are shared with Ukrainian, Bulgarian, …).
    fn is_clear(&self) -> bool {
        let own = self.hits[self.best];
        STOPWORD_LANGS[self.best] != "ru"
            && own >= 6
            && own * 5 >= self.words
            && own >= 3 * self.runner_up(self.best).max(1)
    }
}

fn stopword_guess(sample: &str) -> Option<StopwordGuess> {
    let lower = sample.to_lowercase();
    let mut words = 0u32;
    let mut hits = [0u32; 8];
    for w in lower
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
    {
        words += 1;
        // (the longest listed word, "которые", is 14 bytes)
        if w.len() > 14 {
            continue;
        }
        let m = STOPWORD_BITS.get(w).copied().unwrap_or(0);
        if m != 0 {
            for (i, h) in hits.iter_mut().enumerate() {
                *h += u32::from(m >> i & 1);
            }
        }
    }
    let best = (0..8).max_by_key(|i| hits[*i])?;
    (hits[best] > 0).then_some(StopwordGuess { words, hits, best })
}

/// Test helper: the declared language is confirmed without the detector.
#[cfg(test)]
fn stopwords_confirm(sample: &str, declared: &str) -> bool {
    stopword_guess(sample).is_some_and(|g| g.confirms(declared))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RU: &str = "Северная Корея в среду утром запустила две баллистические ракеты малой дальности, сообщили в Генштабе Южной Кореи.";
    const DE: &str = "Der nordkoreanische Staatschef Kim Jong Un wurde am Mittwochmorgen vom russischen Präsidenten Wladimir Putin begrüßt.";

    #[test]
    fn declared_validated_and_detected() {
        assert_eq!(
            language("Ракеты", RU, Some("en-US"), None).as_deref(),
            Some("ru")
        );
        assert_eq!(
            language("Putin und Kim", DE, None, None).as_deref(),
            Some("de")
        );
        assert_eq!(
            language("Putin und Kim", DE, Some("de-DE"), None).as_deref(),
            Some("de")
        );
        assert_eq!(
            language("Kurz", "", Some("de"), None).as_deref(),
            Some("de")
        );
        assert_eq!(language("Kurz", "", Some("not a code"), None), None);
        assert_eq!(normalize_declared("ger").as_deref(), Some("de"));
    }

    #[test]
    fn an_undeclared_feed_names_its_short_items() {
        let items = [
            ("Super Crab!", ""),
            (
                "Navy signs deal",
                "The navy said on Monday that it has signed the contract for the delivery of six ships, and that the first of them would be built in the spring.",
            ),
            (
                "Missile test",
                "The agency said that the missile was fired from the east coast and that it flew for about six hundred kilometres before it fell into the sea.",
            ),
            (
                "Army report",
                "The report of the army was published on Friday, and it has found that the units were not ready for the exercise that was held in the north.",
            ),
        ];
        let hint = feed_language(items.iter().copied());
        assert_eq!(hint, Some("en"));
        assert_eq!(
            language("Super Crab!", "", None, hint).as_deref(),
            Some("en")
        );
        assert_eq!(language("Super Crab!", "", None, None), None);
        // The hint never outweighs a declaration or a text clearly in another language.
        assert_eq!(
            language("Kurz", "", Some("de"), hint).as_deref(),
            Some("de")
        );
        assert_eq!(
            language("Putin und Kim", DE, None, hint).as_deref(),
            Some("de")
        );
        // Too few items, or mixed languages: no hint.
        assert_eq!(feed_language(items[1..3].iter().copied()), None);
        let mixed = [
            items[1],
            items[2],
            ("Putin und Kim", DE),
            ("Putin und Kim", DE),
        ];
        assert_eq!(feed_language(mixed.iter().copied()), None);
    }

    #[test]
    fn stopwords_confirm_only_the_right_language() {
        let en = "The minister said on Monday that the government would sign the contract for the \
                  delivery of tanks, and that the first of them were expected in the spring.";
        assert!(stopwords_confirm(en, "en"));
        assert!(!stopwords_confirm(en, "de"));
        assert!(!stopwords_confirm(en, "fr"));
        assert!(stopwords_confirm(DE, "de") || !stopwords_confirm(DE, "en"));
        assert!(!stopwords_confirm(DE, "en"));
        assert!(!stopwords_confirm(RU, "en"));
        // No list for the declared language: the detector decides.
        assert!(!stopwords_confirm(en, "sv"));
        // A German text declared English is still corrected (through whatlang).
        let de_long = format!(
            "{DE} Die beiden Staats- und Regierungschefs wollten über die Lieferung von Munition sprechen, und es wurde auch über die Lage in der Ukraine gesprochen."
        );
        assert_eq!(
            language("Putin und Kim", &de_long, Some("en"), None).as_deref(),
            Some("de")
        );
    }
}
