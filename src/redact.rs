//! The one redaction point: anything that may end up in an error text goes through `scrub`.
//!
//! Tokens are never put into errors on purpose; this is the safety net for text we do not
//! control (server messages, transport errors), which could echo a token back.

/// Longest server-provided text kept in an error.
const MAX_TEXT: usize = 512;
/// What a redacted token is replaced with.
pub const REDACTED: &str = "<redacted>";

/// Replaces every JWT-shaped run (two or more dots joining base64url segments of 8+ chars) with
/// `<redacted>`, and caps the length.
pub fn scrub(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_TEXT));
    let mut word = String::new();
    for c in text.chars() {
        if is_word_char(c) {
            word.push(c);
        } else {
            push_word(&mut out, &mut word);
            out.push(c);
        }
    }
    push_word(&mut out, &mut word);
    if out.len() > MAX_TEXT {
        let mut cut = MAX_TEXT;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}

fn push_word(out: &mut String, word: &mut String) {
    if looks_like_jwt(word) {
        out.push_str(REDACTED);
    } else {
        out.push_str(word);
    }
    word.clear();
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '=')
}

fn looks_like_jwt(word: &str) -> bool {
    let segments: Vec<&str> = word.split('.').collect();
    segments.len() >= 3
        && segments.iter().filter(|s| s.len() >= 8).count() >= 2
        && segments.iter().all(|s| {
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'=')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_shaped_words_are_replaced_and_the_rest_is_kept() {
        let text =
            "token eyJhbGciOi.eyJzdWIiOiJ4In0.c2lnbmF0dXJl rejected: Issuer (iss) does not match";
        assert_eq!(
            scrub(text),
            "token <redacted> rejected: Issuer (iss) does not match"
        );
    }

    #[test]
    fn ordinary_dotted_words_survive() {
        assert_eq!(
            scrub("see app.dynamic.xyz/env v1.2.3"),
            "see app.dynamic.xyz/env v1.2.3"
        );
    }

    #[test]
    fn long_texts_are_capped() {
        let long = "x ".repeat(1000);
        assert!(scrub(&long).len() <= MAX_TEXT + '…'.len_utf8());
    }
}
