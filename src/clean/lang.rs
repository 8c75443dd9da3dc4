//! Language of an article as an ISO 639-1 code: the declared language (item, else feed) when the
//! text agrees with it, else what whatlang detects.
//!
//! Invariants: detection looks only at a prefix of title + text (`SAMPLE_CHARS`), so its cost does
//! not grow with the article; it chooses among an allowlist of common news languages. A declared
//! language is overridden only when the text is in another script (a feed saying "en" carrying
//! Cyrillic) or detection is confident; texts too short to judge keep the declared language.

use std::sync::LazyLock;

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

/// The article's language: `declared` (item's, else feed's, raw) validated against the text.
pub fn language(title: &str, text: &str, declared: Option<&str>) -> Option<String> {
    let declared = declared.and_then(normalize_declared);
    // A prefix of title + text, cut on a char boundary.
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
    if letters < MIN_LETTERS {
        return declared;
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

#[cfg(test)]
mod tests {
    use super::*;

    const RU: &str = "Северная Корея в среду утром запустила две баллистические ракеты малой дальности, сообщили в Генштабе Южной Кореи.";
    const DE: &str = "Der nordkoreanische Staatschef Kim Jong Un wurde am Mittwochmorgen vom russischen Präsidenten Wladimir Putin begrüßt.";

    #[test]
    fn declared_validated_and_detected() {
        assert_eq!(language("Ракеты", RU, Some("en-US")).as_deref(), Some("ru"));
        assert_eq!(language("Putin und Kim", DE, None).as_deref(), Some("de"));
        assert_eq!(
            language("Putin und Kim", DE, Some("de-DE")).as_deref(),
            Some("de")
        );
        assert_eq!(language("Kurz", "", Some("de")).as_deref(), Some("de"));
        assert_eq!(language("Kurz", "", Some("not a code")), None);
        assert_eq!(normalize_declared("ger").as_deref(), Some("de"));
    }
}
