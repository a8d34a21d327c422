//! The one redaction point: anything that may end up in an error text goes through `scrub`.
//!
//! Tokens are never put into errors on purpose; this is the safety net for text we do not
//! control (server messages, transport errors), which could echo a token back.

/// Longest server-provided text kept in an error.
const MAX_TEXT: usize = 512;
/// What a redacted token is replaced with.
pub const REDACTED: &str = "<redacted>";

/// Replaces every JWT-shaped run (two or more dots joining base64url segments of 8+ chars) with
/// `<redacted>`, control characters with spaces, and caps the length.
///
/// Control characters go because printing escapes them (`\0`, `\n`): the escape's letter or
/// digit would join the next word and could complete a token-shaped run in `Debug` output that
/// was not one in the text (found by the `external_jwt` fuzz target). It also keeps log lines
/// one line each.
pub fn scrub(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_TEXT));
    let mut word = String::new();
    for c in text.chars() {
        if is_word_char(c) {
            word.push(c);
        } else {
            push_word(&mut out, &mut word);
            out.push(if c.is_control() { ' ' } else { c });
        }
    }
    push_word(&mut out, &mut word);
    if out.len() > MAX_TEXT {
        out.truncate(word_boundary_before(&out, MAX_TEXT));
        out.push('…');
    }
    out
}

/// Where to cut `text` at or before `at`: never inside a word, since the part of a word left
/// would be judged alone the next time it is scrubbed (a UUID cut in two no longer excuses the
/// characters beside it: found by the external_jwt and step_up_assertion fuzz targets, which
/// check that scrubbing is idempotent).
fn word_boundary_before(text: &str, at: usize) -> usize {
    let mut cut = at;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    if text[cut..].chars().next().is_some_and(is_word_char) {
        cut = text[..cut]
            .char_indices()
            .rev()
            .find(|&(_, c)| !is_word_char(c))
            .map_or(0, |(i, c)| i + c.len_utf8());
    }
    cut
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

/// A JWT, or a piece of one: three or more dot-joined segments of which two are long (a whole
/// token); any segment that starts like a JSON object in base64url (`eyJ`, i.e. `{"`); or any
/// segment of 40+ base64url characters (a signature) not counting canonical UUIDs in it, so
/// that ids such as `user-2762a57b-faa4-41ce-9f16-abff9300e2c9` stay readable in errors (a
/// signature holding a hyphenated UUID by chance is vanishingly unlikely).
fn looks_like_jwt(word: &str) -> bool {
    let segments: Vec<&str> = word.split('.').collect();
    let base64url = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'=')
    };
    let whole_token = segments.len() >= 3
        && segments.iter().all(|s| base64url(s))
        && segments.iter().filter(|s| s.len() >= 8).count() >= 2;
    let piece = segments.iter().any(|s| {
        base64url(s) && ((s.starts_with("eyJ") && s.len() >= 16) || without_uuids(s) >= 40)
    });
    whole_token || piece
}

/// The length of `segment` once every canonical UUID (8-4-4-4-12 hex digits) in it is removed.
fn without_uuids(segment: &str) -> usize {
    const UUID: usize = 36;
    let bytes = segment.as_bytes();
    let is_uuid = |at: usize| {
        bytes.get(at..at + UUID).is_some_and(|run| {
            run.iter().enumerate().all(|(i, b)| match i {
                8 | 13 | 18 | 23 => *b == b'-',
                _ => b.is_ascii_hexdigit(),
            })
        })
    };
    let (mut at, mut kept) = (0, 0);
    while at < bytes.len() {
        if is_uuid(at) {
            at += UUID;
        } else {
            at += 1;
            kept += 1;
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_text_is_cut_between_words_so_scrubbing_it_again_changes_nothing() {
        // The cut falls inside an id whose UUID excuses its length only while whole.
        let id = "x".repeat(30) + "-2762a57b-faa4-41ce-9f16-abff9300e2c9";
        let text = format!("{} {id}", "a ".repeat((MAX_TEXT - 20) / 2));
        let once = scrub(&text);
        assert!(once.ends_with(" …"), "{once:?}");
        assert!(!once.contains("xxxx"));
        assert_eq!(
            scrub(once.trim_end_matches('…')),
            once.trim_end_matches('…')
        );
    }

    #[test]
    fn an_id_made_of_a_uuid_stays_readable_but_a_signature_does_not() {
        let id = "user-2762a57b-faa4-41ce-9f16-abff9300e2c9";
        assert_eq!(scrub(&format!("sub {id}")), format!("sub {id}"));
        let signature = "c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJl";
        assert_eq!(scrub(&format!("sig {signature}")), "sig <redacted>");
        // A UUID does not hide a long run beside it.
        let padded = format!("{signature}-2762a57b-faa4-41ce-9f16-abff9300e2c9");
        assert_eq!(scrub(&padded), REDACTED);
    }

    #[test]
    fn control_characters_become_spaces_so_printing_cannot_join_words() {
        let text = "abcdefghij.klmnopqrst\0uvwxyzabcd\nline";
        let scrubbed = scrub(text);
        assert_eq!(scrubbed, "abcdefghij.klmnopqrst uvwxyzabcd line");
        assert_eq!(scrub(&format!("{scrubbed:?}")), format!("{scrubbed:?}"));
    }

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
    fn pieces_of_a_token_are_replaced_too() {
        let header = "eyJhbGciOiJFUzI1NiJ9";
        let signature = "c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJl";
        assert_eq!(scrub(&format!("got {header} here")), "got <redacted> here");
        assert_eq!(scrub(&format!("sig {signature}")), "sig <redacted>");
        assert_eq!(
            scrub(&format!("pair {header}.eyJzdWIiOiJ4In0")),
            "pair <redacted>"
        );
    }

    #[test]
    fn ordinary_dotted_words_survive() {
        let ordinary = "see app.dynamic.xyz/2762a57b-faa4-41ce-9f16-abff9300e2c9 v1.2.3";
        assert_eq!(scrub(ordinary), ordinary);
    }

    #[test]
    fn long_texts_are_capped() {
        let long = "x ".repeat(1000);
        assert!(scrub(&long).len() <= MAX_TEXT + '…'.len_utf8());
    }
}
