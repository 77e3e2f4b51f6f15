//! Features of a report text: jieba words (HMM on) without stop-words, punctuation or digits,
//! and optionally bigrams of Han characters.

use std::sync::OnceLock;

use jieba_rs::Jieba;

/// Which features a text yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeatureConfig {
    pub char_bigrams: CharBigrams,
}

/// Whether, and from what, bigrams of consecutive Han characters are added beside the jieba
/// words. They catch words jieba segments differently in two texts (井盖 inside 污水井盖 / as a
/// word of its own), unknown compounds and some typos. Measured (`examples/measure.rs`, Laplace,
/// name weight 10): `Off` 0.586 top-1 in cross-validation / 0.701 held out, `OfText` 0.594 /
/// 0.734, `InsideWords` 0.622 / 0.730, `OfKeptWords` 0.631 / 0.759.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CharBigrams {
    /// Words only.
    Off,
    /// Bigrams of the raw text, across stop-words (的, 了…) too.
    OfText,
    /// Bigrams inside each kept word (a word of three or more characters yields its parts).
    InsideWords,
    /// Bigrams of the kept words joined in order: stop-words, digits and punctuation removed.
    OfKeptWords,
}

/// Marks a bigram feature so that it never equals a word feature of the same two characters.
const BIGRAM_MARK: char = '\u{2}';

/// Words that say nothing about the category: particles, pronouns, the hotline operator's
/// boilerplate (来电人反映…要求…) and vague time and degree words.
#[rustfmt::skip]
const STOP_WORDS: &[&str] = &[
    "的", "了", "在", "是", "有", "和", "与", "及", "或", "也", "都", "就", "还", "又", "很", "太", "把", "被",
    "让", "给", "对", "从", "到", "向", "往", "上", "下", "里", "中", "内", "外", "这", "那", "这个", "那个", "这些",
    "那些", "这里", "那里", "这边", "那边", "我", "我们", "你", "你们", "他", "她", "他们", "它", "其", "自己", "一个",
    "一", "个", "些", "一些", "一下", "什么", "怎么", "啊", "吧", "呢", "吗", "呀", "嘛", "哦", "着", "过", "得",
    "地", "之", "而", "并", "且", "但", "但是", "因为", "所以", "如果", "已", "已经", "还是", "就是", "要", "会", "能",
    "可以", "不", "没", "没有", "来电人", "来电", "反映", "称", "要求", "希望", "请", "尽快", "相关", "部门", "处理", "某",
    "号", "路", "路口", "侧", "东侧", "西侧", "南侧", "北侧", "天", "每天", "好几", "多", "一直", "现在", "今天", "昨天",
];

/// The one segmenter of the process, built on first use from jieba's embedded dictionary.
fn jieba() -> &'static Jieba {
    static JIEBA: OnceLock<Jieba> = OnceLock::new();
    JIEBA.get_or_init(Jieba::new)
}

/// Full-width ASCII forms (Ａ, ３, ＫＴＶ) become their plain forms; ASCII letters are lowered.
fn normalise(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn is_han(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{F900}'..='\u{FAFF}')
}

/// A word is a feature when it holds a letter (Han characters count) and is no stop-word.
fn keeps(word: &str) -> bool {
    static STOP: OnceLock<std::collections::HashSet<&'static str>> = OnceLock::new();
    word.chars().any(char::is_alphabetic)
        && !STOP
            .get_or_init(|| STOP_WORDS.iter().copied().collect())
            .contains(word)
}

/// The features of `text`, in text order, repeated as often as they occur.
pub fn features(text: &str, config: FeatureConfig) -> Vec<String> {
    let text = normalise(text);
    let mut found: Vec<String> = jieba()
        .cut(&text, true)
        .into_iter()
        .map(|token| token.word.trim())
        .filter(|word| keeps(word))
        .map(str::to_owned)
        .collect();
    let source: Vec<char> = match config.char_bigrams {
        CharBigrams::Off => return found,
        CharBigrams::OfText => text.chars().collect(),
        CharBigrams::InsideWords => found.join(" ").chars().collect(),
        CharBigrams::OfKeptWords => found.concat().chars().collect(),
    };
    for pair in source.windows(2) {
        if is_han(pair[0]) && is_han(pair[1]) {
            found.push([BIGRAM_MARK, pair[0], pair[1]].iter().collect());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORDS: FeatureConfig = FeatureConfig {
        char_bigrams: CharBigrams::Off,
    };

    #[test]
    fn drops_punctuation_digits_and_stop_words() {
        let found = features("来电人反映：3号楼的井盖缺失，要求处理!!", WORDS);
        assert!(found.iter().any(|f| f == "井盖"), "{found:?}");
        for dropped in ["来电人", "反映", "3", "：", "，", "的", "要求", "!!"] {
            assert!(
                !found.iter().any(|f| f == dropped),
                "{dropped} in {found:?}"
            );
        }
    }

    #[test]
    fn normalises_full_width_and_case() {
        assert_eq!(features("ＫＴＶ", WORDS), vec!["ktv".to_owned()]);
    }

    #[test]
    fn bigrams_cover_han_runs_only() {
        let found = features(
            "井盖ab缺失",
            FeatureConfig {
                char_bigrams: CharBigrams::OfText,
            },
        );
        let bigrams: Vec<&str> = found
            .iter()
            .filter_map(|f| f.strip_prefix(BIGRAM_MARK))
            .collect();
        assert_eq!(bigrams, vec!["井盖", "缺失"]);
    }
}
